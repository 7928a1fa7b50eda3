"""The engine: composes the features, resolves who acts where, rate-limits, and routes tokens.

Adapters call it with a :class:`UserRef` and a :class:`SpaceRef` and render the :class:`Reply` it
returns. Every use case lives in a feature (:mod:`bot.features`) and takes a resolved
:class:`~bot.context.Context` and typed arguments; :meth:`Engine.run` is how an adapter (or the command
table) calls one, and :meth:`Engine.act` routes a button's token to the feature that claimed its verb.
Refusals are replies (``Outcome.REFUSED`` / ``STALE``) with a friendly text in the user's language;
exceptions mean bugs or a failing database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

from bot.actions import Verb
from bot.catalog import Catalog
from bot.context import Clock, Context, Services, stale, storage_refusal, utc_now
from bot.features import HandlesActions
from bot.features.communities import Communities
from bot.features.dashboard_access import DashboardAccess
from bot.features.ideas import Ideas, IdeaTriage
from bot.features.labelling.jobs import Labelling
from bot.features.labelling.quality import QualityReports
from bot.features.linking import Linking
from bot.features.moderation import Moderation
from bot.features.pairs.judging import Pairs
from bot.features.pairs.ranking import Ranking
from bot.features.points import Points
from bot.features.rewards import Rewards
from bot.features.rounds import OpenRounds, RoundExports, RoundResults, Rounds, RoundSummaries
from bot.features.rounds.themes import RoundThemes
from bot.features.tasks.serving import Tasks
from bot.features.themes.moderating import ThemeEditing
from bot.features.themes.promotions import Promotions
from bot.identity import SpaceRef, UserRef
from bot.outbox.payloads import reply_from_payload
from bot.ratelimit import Admission, RateLimiter
from bot.replies import Outcome, Reply, TextInput
from bot.settings import Settings
from bot.single_flight import SingleFlight
from bot.store.base import Store
from bot.store.database import AccountLinkedError, StoreUnavailableError
from bot.store.records import Identity, Place
from bot.texts import t

log = logging.getLogger(__name__)

UseCase = Callable[[Context], Awaitable[Reply]]
MIN_SECRET_LENGTH = 16
_IDENTITY_CACHE_SIZE = 100_000
COMMUNITY_CACHE_SECONDS = 10.0
# How long a cached account-to-person mapping is trusted for reads (a link made by another process shows
# within this); writes never trust it: the store's guards refuse a write for a linked account.
IDENTITY_TTL_SECONDS = 30.0


class _KnownUser(NamedTuple):
    """A platform account as :meth:`Engine.context` keeps it: its person, what it was read with (a new name
    or language reads it again), until when it is trusted, and the language to answer it in."""

    identity: Identity
    display_name: str
    language: str | None
    expires: float
    answer_in: str


class Engine:
    """CrowdPulse's features over one set of services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.moderation = Moderation(services)
        self.open_rounds = OpenRounds(services)
        self.points = Points(services)
        self.labelling = Labelling(services)
        self.promotions = Promotions(services)  # options promoted from themes: what each round serves
        self.pairs = Pairs(
            services, self.open_rounds, lambda ctx, record, index: self.tasks.next_task(ctx, after=(record, index - 1))
        )
        self.tasks = Tasks(services, self.open_rounds, self.points, self.labelling, self.promotions, self.pairs)
        self.rounds = Rounds(services, self.moderation, self.open_rounds)
        self.themes = RoundThemes(services)  # one cache for /results and the exports, so they agree
        self.results = RoundResults(services, self.moderation, self.themes)
        self.summaries = RoundSummaries(services, self.themes)
        self.exports = RoundExports(services, self.moderation, self.themes)
        self.theme_editing = ThemeEditing(services, self.moderation, self.themes, self.promotions)
        self.quality = QualityReports(services, self.moderation)
        self.ranking = Ranking(services, self.pairs)
        self.ideas = Ideas(services, self.moderation, self.ranking.best)
        self.triage = IdeaTriage(services, self.moderation, self.ideas)
        self.rewards = Rewards(services)
        self.communities = Communities(services, self.moderation)
        self.linking = Linking(services, self._forget_everyone)
        self.dashboard = DashboardAccess(services)
        self._routes = _routes(self.tasks, self.ideas, self.rewards, self.linking, self.pairs)
        limits = services.settings.limits
        self.interactions = RateLimiter(limits.per_second, limits.burst, max_keys=limits.tracked_members)
        self._users: OrderedDict[tuple[str, str], _KnownUser] = OrderedDict()
        self._spaces: dict[tuple[str, str], tuple[float, Place]] = {}
        self._space_reads: SingleFlight[tuple[str, str]] = SingleFlight()

    @classmethod
    async def create(cls, store: Store, catalog: Catalog, settings: Settings, clock: Clock = utc_now) -> Engine:
        """Build an engine whose action tokens are signed with the instance's key.

        The key comes from ``CROWDPULSE_SECRET_KEY`` when set, else it is created once in the database,
        so every process sharing the database accepts the same tokens, also after a restart. The
        communities the settings declare are applied here, at every start (idempotent).
        """
        for community in settings.communities:
            home = await store.communities.declare(community.space_keys)
            log.info("community=%r home_space=%s spaces=%s", community.name, home, len(community.spaces))
        if settings.secret_key is not None:
            secret = settings.secret_key.get_secret_value()
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(f"CROWDPULSE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
            key = hashlib.sha256(secret.encode()).digest()
        else:
            key = await store.secret("action_key", lambda: secrets.token_bytes(32))
        return cls(Services.build(store, catalog, settings, key, clock))

    # identities ---------------------------------------------------------------------------------

    async def context(self, user: UserRef, space: SpaceRef) -> Context:
        """Resolve ids and the language to answer in.

        The account and its person come from one read, cached: account ids never change, and a person
        changes only by linking or unlinking, so a mapping is trusted for :data:`IDENTITY_TTL_SECONDS`
        for reads, and a write refused as stale (:class:`AccountLinkedError`) drops it at once.
        """
        user_key = (user.platform, user.platform_user_id)
        cached = self._users.get(user_key)
        now = time.monotonic()
        if (
            cached is None
            or cached.expires < now
            or cached.display_name != user.display_name
            or cached.language != user.language
        ):
            cached = await self._identify(user, user_key, now)
        else:
            self._users.move_to_end(user_key)
        place = await self._place(space)
        identity = cached.identity
        account = identity.account_id if identity.account_id != identity.person_id else None
        return Context(
            user, space, identity.person_id, place.community_id, cached.answer_in, place.space_id, account_id=account
        )

    async def _identify(self, user: UserRef, user_key: tuple[str, str], now: float) -> _KnownUser:
        """Read (or create) the account and its person, and keep them for :data:`IDENTITY_TTL_SECONDS`."""
        identity = await self.services.store.members.identify(
            user.platform, user.platform_user_id, user.display_name, user.language, self.services.clock()
        )
        known = _KnownUser(
            identity, user.display_name, user.language, now + IDENTITY_TTL_SECONDS, self.services.language_of(user)
        )
        self._users[user_key] = known
        if len(self._users) > _IDENTITY_CACHE_SIZE:
            self._users.popitem(last=False)
        return known

    async def _place(self, space: SpaceRef) -> Place:
        """The space's id and its community's, read again after :data:`COMMUNITY_CACHE_SECONDS`.

        A space's id never changes, its community does (``/community join`` in any process): a short
        lifetime bounds how long another process keeps the old one, at one read per space per period,
        which the taps in flight when it runs out share.
        """
        space_key = (space.platform, space.external_id)
        cached = self._spaces.get(space_key)
        if cached is not None and time.monotonic() - cached[0] < COMMUNITY_CACHE_SECONDS:
            return cached[1]
        members = self.services.store.members
        return await self._space_reads.run(
            space_key,
            lambda: members.ensure_space(space.platform, space.external_id, space.title, space.is_private),
            lambda place: self._keep_place(space_key, place),
        )

    def _keep_place(self, space_key: tuple[str, str], place: Place) -> None:
        if len(self._spaces) >= _IDENTITY_CACHE_SIZE:
            self._spaces.clear()
        self._spaces[space_key] = (time.monotonic(), place)

    def forget_place(self, space: SpaceRef) -> None:
        """Drop a space's cached community (this process just linked it); a read in flight is not joined
        and keeps nothing."""
        space_key = (space.platform, space.external_id)
        self._spaces.pop(space_key, None)
        self._space_reads.forget(lambda key: key == space_key)

    def _forget_everyone(self) -> None:
        """After a link or an unlink here: every cached person is read again (links are rare)."""
        self._users.clear()

    def forget(self, user: UserRef) -> None:
        """Drop the cached person of ``user``: the next call reads it again (after linking or unlinking)."""
        self._users.pop((user.platform, user.platform_user_id), None)

    def admit(self, user: UserRef) -> Reply | None:
        """``None`` when the member may go on; a friendly "slow down" when they are flooding.

        Only the window's first refusal is for showing; the rest are ``quiet`` replies, so that a flood
        costs the platform (and the flooder's chat, limited to about a message a second) nothing.
        """
        admission = self.interactions.admit((user.platform, user.platform_user_id))
        if admission is Admission.ALLOWED:
            return None
        quiet = admission is Admission.REFUSED_QUIETLY
        log.debug(
            "action=refused reason=rate_limit platform=%s user=%s quiet=%s", user.platform, user.platform_user_id, quiet
        )
        text = t("error.slow_down", self.services.language_of(user))
        return Reply(text, Outcome.REFUSED, notice=str(text), quiet=quiet)

    # calling use cases --------------------------------------------------------------------------

    async def run(self, user: UserRef, space: SpaceRef, use_case: UseCase) -> Reply:
        """Run one typed use case for ``user`` in ``space``: rate-limited, and a database that refuses a
        write gets a polite refusal instead of an exception."""
        refusal = self.admit(user)
        if refusal is not None:
            return refusal
        try:
            return await self._as_person(user, space, use_case)
        except StoreUnavailableError:
            return storage_refusal(self.services.language_of(user))

    async def _as_person(self, user: UserRef, space: SpaceRef, use_case: UseCase) -> Reply:
        """Run ``use_case``; once more with a fresh identity when a write found the account linked since
        it was cached (another process linked it): the refused unit changed nothing, so running it again
        under the person's id is the whole correction."""
        try:
            return await use_case(await self.context(user, space))
        except AccountLinkedError:
            self.forget(user)
            return await use_case(await self.context(user, space))

    async def act(
        self,
        user: UserRef,
        space: SpaceRef,
        token: str,
        *,
        text: str | None = None,
        values: Sequence[str] = (),
    ) -> Reply:
        """Handle a button, a select or a modal: whatever carried an action token.

        Forged, malformed or outdated tokens get a ``STALE`` reply and change nothing.
        """
        return await self.run(user, space, lambda ctx: self._route(ctx, token, text, values))

    async def _route(self, ctx: Context, token: str, text: str | None, values: Sequence[str]) -> Reply:
        action = self.services.codec.parse(token)
        if action is None:
            log.info("action=refused reason=bad_token platform=%s user=%s", ctx.user.platform, ctx.user_id)
            return stale(ctx)
        return await self._routes[action.verb].handle(ctx, action, text, values)

    async def text_message(self, user: UserRef, space: SpaceRef, text: str) -> Reply | None:
        """Plain text from a user: an answer when a free-text task awaits one here (in a private chat, one
        awaited anywhere: a group sends a member's questions there), else not ours (``None``)."""
        try:
            ctx = await self.context(user, space)
            expected = self.services.store.tasks.expected_input
            token = await expected(ctx.user_id, ctx.space_id, or_elsewhere=space.is_private)
            if token is None:
                return None
            return self.admit(user) or await self._as_person(user, space, lambda c: self._route(c, token, text, ()))
        except StoreUnavailableError:
            return storage_refusal(self.services.language_of(user))

    async def render_outbox(self, payload: dict[str, object]) -> Reply:
        """The reply an outbox row stands for (markers are rendered now, stored replies decoded)."""
        if payload.get("render") == "round_summary":
            language = payload.get("language")
            return await self.summaries.render(int(str(payload["round_id"])), str(language) if language else None)
        if "render" in payload:
            return await self.results.render_payload(payload)
        return reply_from_payload(payload)

    # what a platform asks before the member acts (reads only, no rate limit spent) --------------

    async def text_input(self, user: UserRef, token: str) -> TextInput | None:
        """The form a free-text token is typed in (see :meth:`bot.features.tasks.Tasks.text_input`)."""
        return await self.tasks.text_input(user, token)

    async def idea_categories(self, user: UserRef, space: SpaceRef) -> tuple[str, ...]:
        """The categories an idea may be filed under here now: Discord's idea form offers them."""
        return await self.ideas.categories((await self.context(user, space)).space_id)

    async def reward_choices(self) -> list[tuple[str, str]]:
        """Rewards in stock as ``(id, title)``, cheapest first: Discord's ``/redeem`` autocompletes them."""
        return await self.rewards.choices()


def _routes(*features: HandlesActions) -> dict[Verb, HandlesActions]:
    """Each verb to the one feature that handles it; a verb claimed twice or by none is a bug."""
    routes: dict[Verb, HandlesActions] = {}
    for feature in features:
        for verb in feature.verbs:
            if verb in routes:
                raise ValueError(
                    f"verb {verb!r} is claimed by {type(routes[verb]).__name__} and {type(feature).__name__}"
                )
            routes[verb] = feature
    unclaimed = set(Verb) - routes.keys()
    if unclaimed:
        raise ValueError(f"no feature handles the verbs {sorted(unclaimed)}")
    return routes
