"""The engine: every use case a chat platform can trigger, platform-neutral and one transaction each.

Adapters call it with a :class:`UserRef` and a :class:`SpaceRef` and render the :class:`Reply` it
returns. Refusals are replies (``Outcome.REFUSED`` / ``STALE``) with a friendly text in the user's
language; exceptions mean bugs or a failing database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ClassVar

from bot.actions import Action, ActionCodec
from bot.catalog import Campaign, Catalog, Task, text_in
from bot.ideas import Ideas
from bot.identity import SpaceRef, UserRef
from bot.outbox import reply_from_payload
from bot.points import level_for, task_points
from bot.ratelimit import RateLimiter
from bot.replies import Outcome, Reply, TextInput
from bot.rewards import Rewards
from bot.rounds import Rounds
from bot.settings import Settings
from bot.store.base import Store, StoreUnavailableError
from bot.store.records import AnswerStatus, Award, NewAnswer, PointRules, ProgressQuery, RoundRecord, TaskProgress
from bot.tasks import (
    TEXT_KINDS,
    TEXT_VERB,
    Accepted,
    NeedsText,
    Refused,
    answer_input,
    answer_keys,
    ask_other_text,
    parse_answer,
    parse_typed,
    render_task,
)
from bot.texts import Markup, pick_language, t

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ModeratorCheck = Callable[[UserRef, SpaceRef], Awaitable[bool]]
ActionHandler = Callable[["Engine", "Context", Action, str | None, Sequence[str]], Awaitable[Reply]]
_IDENTITY_CACHE_SIZE = 100_000
ROUND_CACHE_SECONDS = 2.0
MIN_SECRET_LENGTH = 16
TASK_VIEW_CACHE = 4096
_LEDGER_LINES = 8
_REASON_LENGTH = 40


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Context:
    """Who is acting where, resolved once per call."""

    user: UserRef
    space: SpaceRef
    user_id: int
    space_id: int
    language: str


@dataclass(frozen=True, slots=True)
class Upcoming:
    """The open task rounds a member is offered, in order, and their progress through them once read."""

    rounds: tuple[tuple[RoundRecord, Campaign], ...]
    query: ProgressQuery
    progress: TaskProgress | None = None


class Engine:
    """CrowdPulse's use cases over one store and one catalog."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        settings: Settings,
        codec: ActionCodec,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.codec = codec
        self.clock = clock
        self.rules = PointRules(
            daily_cap=settings.points.daily_cap,
            streak_bonus=settings.points.streak_bonus,
            timezone=settings.timezone,
            badges=tuple(settings.points.badges),
        )
        self.codec_key = b""
        self.rounds = Rounds(self)
        self.ideas = Ideas(self)
        self.rewards = Rewards(self)
        limits = settings.limits
        self.interactions = RateLimiter(limits.per_second, limits.burst, max_keys=limits.tracked_members)
        self.idea_submissions = RateLimiter(
            limits.ideas_per_hour / 3600, limits.ideas_per_hour, max_keys=limits.tracked_members
        )
        self._moderator_checks: dict[str, ModeratorCheck] = {}
        self._users: OrderedDict[tuple[str, str], tuple[int, str, str | None]] = OrderedDict()
        self._spaces: dict[tuple[str, str], int] = {}
        self._open_rounds: dict[int, tuple[float, list[RoundRecord]]] = {}
        self._task_views: dict[tuple[int, int, str, int], Reply] = {}

    @classmethod
    async def create(cls, store: Store, catalog: Catalog, settings: Settings, clock: Clock = utc_now) -> Engine:
        """Build an engine whose action tokens are signed with the instance's key.

        The key comes from ``CROWDPULSE_SECRET_KEY`` when set, else it is created once in the database,
        so every process sharing the database accepts the same tokens, also after a restart.
        """
        if settings.secret_key is not None:
            secret = settings.secret_key.get_secret_value()
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(f"CROWDPULSE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
            key = hashlib.sha256(secret.encode()).digest()
        else:
            key = await store.secret("action_key", lambda: secrets.token_bytes(32))
        engine = cls(store, catalog, settings, ActionCodec(key), clock)
        engine.codec_key = key
        return engine

    # identities ---------------------------------------------------------------------------------

    async def context(self, user: UserRef, space: SpaceRef) -> Context:
        """Resolve ids (cached: ids never change) and the language to answer in."""
        user_key = (user.platform, user.platform_user_id)
        cached = self._users.get(user_key)
        if cached is None or cached[1:] != (user.display_name, user.language):
            user_id = await self.store.ensure_user(
                user.platform, user.platform_user_id, user.display_name, user.language, self.clock()
            )
            self._users[user_key] = (user_id, user.display_name, user.language)
            if len(self._users) > _IDENTITY_CACHE_SIZE:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_key)
        space_key = (space.platform, space.external_id)
        space_id = self._spaces.get(space_key)
        if space_id is None:
            space_id = await self.store.ensure_space(space.platform, space.external_id, space.title, space.is_private)
            self._spaces[space_key] = space_id
        language = pick_language(user.language, self.settings.default_language)
        return Context(user, space, self._users[user_key][0], space_id, language)

    # moderation ---------------------------------------------------------------------------------

    def register_moderator_check(self, platform: str, check: ModeratorCheck) -> None:
        """Let an adapter say who moderates a space on its platform (chat admins, Manage Server)."""
        self._moderator_checks[platform] = check

    async def is_moderator(self, ctx: Context) -> bool:
        """Moderators are the ids in settings for the platform, plus whoever the platform says."""
        if ctx.user.platform_user_id in self.settings.moderators_for(ctx.user.platform):
            return True
        check = self._moderator_checks.get(ctx.user.platform)
        return bool(check is not None and await check(ctx.user, ctx.space))

    async def refuse_unless_moderator(self, ctx: Context, command: str) -> Reply | None:
        """``None`` for a moderator; otherwise a clear refusal, and the attempt is logged."""
        if await self.is_moderator(ctx):
            return None
        log.warning(
            "moderator_command=%s outcome=refused platform=%s user=%s space=%s",
            command,
            ctx.user.platform,
            ctx.user_id,
            ctx.space_id,
        )
        return Reply(t("moderation.not_moderator", ctx.language), Outcome.REFUSED)

    async def ban(self, user: UserRef, space: SpaceRef, target_id: str, banned: bool = True) -> Reply:
        """Ban (or unban) the member with platform id ``target_id`` here; moderators only, audited."""
        ctx = await self.context(user, space)
        refusal = await self.refuse_unless_moderator(ctx, "ban" if banned else "unban")
        if refusal is not None:
            return refusal
        target = target_id.strip().lstrip("@")
        if not target:
            return Reply(t("moderation.ban_usage", ctx.language), Outcome.REFUSED)
        target_user = await self.store.find_user(user.platform, target)
        if target_user is None:
            return Reply(t("moderation.unknown_user", ctx.language, user=target), Outcome.REFUSED)
        if banned and target == user.platform_user_id:
            return Reply(t("moderation.not_yourself", ctx.language), Outcome.REFUSED)
        changed = await self.store.set_ban(ctx.space_id, target_user, ctx.user_id, banned, self.clock())
        key = ("moderation.banned" if banned else "moderation.unbanned") if changed else "moderation.no_change"
        return Reply(t(key, ctx.language, user=target), Outcome.DONE)

    async def audit_log(self, user: UserRef, space: SpaceRef, limit: int = 20) -> Reply:
        """The latest moderator actions here; moderators only."""
        ctx = await self.context(user, space)
        refusal = await self.refuse_unless_moderator(ctx, "audit")
        if refusal is not None:
            return refusal
        entries = await self.store.audit_entries(ctx.space_id, limit)
        if not entries:
            return Reply(t("moderation.audit_empty", ctx.language), private=True)
        lines = [t("moderation.audit_title", ctx.language)]
        lines += [
            t(
                "moderation.audit_line",
                ctx.language,
                when=entry["created_at"][:16].replace("T", " "),
                moderator=entry["moderator"] or "?",
                action=entry["action"],
                target=entry["target"],
                detail=entry["detail"],
            )
            for entry in entries
        ]
        return Reply(Markup("\n".join(lines)), private=True)

    # welcome and help ---------------------------------------------------------------------------

    async def start(self, user: UserRef, space: SpaceRef, payload: str = "") -> Reply:
        """Greet the user, give the welcome bonus once, and hand out the first task.

        ``payload`` is a deep-link campaign id (``t.me/<bot>?start=coffee``): that campaign comes first.
        """
        ctx = await self.context(user, space)
        bonus = self.settings.points.welcome_bonus
        awarded = await self.store.award(
            Award(ctx.user_id, ctx.space_id, None, bonus, "welcome", "", f"welcome:{ctx.user_id}"),
            self.rules,
            self.clock(),
        )
        greeting = t("start.greeting", ctx.language, name=user.display_name or "👋")
        if awarded.points:
            greeting = Markup(f"{greeting}\n{t('start.welcome_bonus', ctx.language, points=awarded.points)}")
        campaign_id = payload if self.catalog.campaign(payload) else None
        return Reply(greeting, follow_up=await self._next_task(ctx, campaign_id))

    # tasks --------------------------------------------------------------------------------------

    async def next_task(self, user: UserRef, space: SpaceRef, campaign_id: str | None = None) -> Reply:
        """The next task this user may answer here, or a friendly "all done"."""
        return await self._next_task(await self.context(user, space), campaign_id)

    async def _next_task(
        self,
        ctx: Context,
        campaign_id: str | None = None,
        after: tuple[int, int] = (0, -1),
        upcoming: Upcoming | None = None,
    ) -> Reply:
        """Pick the next task: open rounds in order (a named campaign first), tasks in catalog order.

        One read gathers what the choice needs (bans, answers, quotas, the member's profile), so
        serving a task costs one thread hop however many rounds are open; after an answer, the
        answer's own transaction brought it back (``upcoming``) and it costs none.
        """
        if upcoming is None or upcoming.progress is None:
            upcoming = await self._upcoming(ctx, campaign_id)
            upcoming = replace(upcoming, progress=await self.store.task_progress(upcoming.query))
        progress = upcoming.progress
        assert progress is not None
        if progress.banned:
            return Reply(t("moderation.you_are_banned", ctx.language), Outcome.REFUSED)
        for record, campaign in upcoming.rounds:
            start = after[1] + 1 if record.id == after[0] else 0
            found = self._first_open_task(ctx, record, campaign, start, progress)
            if found is not None:
                index, task = found
                reply = self._show_task(ctx, record, campaign, index, task)
                if reply.text_input is not None:
                    await self.store.expect_input(
                        ctx.user_id, ctx.space_id, reply.text_input.action, record.id, task.id, self.clock()
                    )
                return reply
        balance = await self.store.balance(ctx.user_id)
        return Reply(t("task.all_done", ctx.language, points=balance))

    async def _upcoming(self, ctx: Context, campaign_id: str | None = None) -> Upcoming:
        """The open task rounds here with their campaigns, in the order they are offered, and the query
        that reads the member's progress through them."""
        rounds = [
            (record, campaign)
            for record in await self._task_rounds(ctx)
            if (campaign := self.catalog.campaign(record.subject)) is not None
        ]
        if campaign_id is not None:
            rounds.sort(key=lambda pair: pair[0].subject != campaign_id)
        query = ProgressQuery(
            ctx.space_id,
            ctx.user_id,
            tuple(record.id for record, _ in rounds),
            tuple(record.id for record, campaign in rounds if any(task.quota for task in campaign.tasks)),
            tuple(
                sorted(
                    {
                        task.audience.answered.task
                        for _, campaign in rounds
                        for task in campaign.tasks
                        if task.audience.answered
                    }
                )
            ),
        )
        return Upcoming(tuple(rounds), query)

    def _show_task(
        self, ctx: Context, record: RoundRecord, campaign: Campaign, index: int, task: Task, mask: int = 0
    ) -> Reply:
        """A task with its campaign and position ("Corner Café feedback · 3/9") above the prompt.

        The view is the same for every member who gets this task in this language, and replies are
        immutable, so recent views are kept (bounded) instead of being rendered and signed again.
        """
        key = (record.id, index, ctx.language, mask)
        cached = self._task_views.get(key)
        if cached is not None:
            return cached
        if len(self._task_views) >= TASK_VIEW_CACHE:
            self._task_views.clear()
        header = t(
            "task.header",
            ctx.language,
            campaign=text_in(campaign.title, ctx.language),
            number=index + 1,
            total=len(campaign.tasks),
        )
        view = render_task(
            task, codec=self.codec, round_id=record.id, index=index, header=header, language=ctx.language, mask=mask
        )
        self._task_views[key] = view
        return view

    async def _task_rounds(self, ctx: Context) -> list[RoundRecord]:
        """Open task rounds here; campaigns marked ``auto_open`` get a standing round on first use.

        Cached briefly per space: a round opened or closed by another process shows within
        :data:`ROUND_CACHE_SECONDS`, and an answer to a round closed meanwhile is still refused by the
        write that would record it.
        """
        cached = self._open_rounds.get(ctx.space_id)
        if cached is not None and time.monotonic() - cached[0] < ROUND_CACHE_SECONDS:
            return cached[1]
        rounds = await self.store.open_rounds(ctx.space_id, "tasks")
        if not rounds:
            for campaign in self.catalog.campaigns.values():
                if campaign.auto_open:
                    await self.store.open_round(ctx.space_id, "tasks", campaign.id, None, None, self.clock())
            rounds = await self.store.open_rounds(ctx.space_id, "tasks")
        self._open_rounds[ctx.space_id] = (time.monotonic(), rounds)
        return rounds

    def forget_rounds(self, space_id: int) -> None:
        """Drop the cached open rounds of a space (this process opened or closed one)."""
        self._open_rounds.pop(space_id, None)

    def forget_rounds_everywhere(self) -> None:
        self._open_rounds.clear()

    def _first_open_task(
        self, ctx: Context, record: RoundRecord, campaign: Campaign, start: int, progress: TaskProgress
    ) -> tuple[int, Task] | None:
        answered = progress.answered.get(record.id, set())
        counts = progress.counts.get(record.id, {})
        for index, task in enumerate(campaign.tasks[start:], start):
            if task.id in answered:
                continue
            if task.quota is not None and counts.get(task.id, 0) >= task.quota:
                continue
            if task.audience.languages and ctx.language not in task.audience.languages:
                continue
            condition = task.audience.answered
            if condition is not None:
                earlier = campaign.task(condition.task)
                value = progress.profile.get(condition.task)
                if earlier is None or value is None or not answer_keys(earlier, value) & set(condition.is_any):
                    continue
            return index, task
        return None

    def admit(self, user: UserRef) -> Reply | None:
        """``None`` when the member may go on; a friendly "slow down" when they are flooding."""
        if self.interactions.allow((user.platform, user.platform_user_id)):
            return None
        log.debug("action=refused reason=rate_limit platform=%s user=%s", user.platform, user.platform_user_id)
        language = pick_language(user.language, self.settings.default_language)
        return Reply(t("error.slow_down", language), Outcome.REFUSED, notice=str(t("error.slow_down", language)))

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
        refusal = self.admit(user)
        if refusal is not None:
            return refusal
        try:
            return await self._act(await self.context(user, space), token, text, values)
        except StoreUnavailableError:
            return self.storage_refusal(user)

    async def _act(self, ctx: Context, token: str, text: str | None, values: Sequence[str]) -> Reply:
        user = ctx.user
        action = self.codec.parse(token)
        if action is None:
            log.info("action=refused reason=bad_token platform=%s user=%s", user.platform, ctx.user_id)
            return self._stale(ctx)
        handler = self._actions.get(action.verb)
        if handler is None:
            return self._stale(ctx)
        return await handler(self, ctx, action, text, values)

    async def text_message(self, user: UserRef, space: SpaceRef, text: str) -> Reply | None:
        """Plain text from a user: an answer when a free-text task awaits one here, else not ours (``None``)."""
        try:
            ctx = await self.context(user, space)
            token = await self.store.expected_input(ctx.user_id, ctx.space_id)
            if token is None:
                return None
            return self.admit(user) or await self._act(ctx, token, text, ())
        except StoreUnavailableError:
            return self.storage_refusal(user)

    def storage_refusal(self, user: UserRef) -> Reply:
        """The polite answer when the database refuses a write (the store has logged why, for the operator)."""
        language = pick_language(user.language, self.settings.default_language)
        return Reply(t("error.storage", language), Outcome.REFUSED)

    def _task_of(self, action: Action) -> tuple[int, int] | None:
        round_id, index = action.int_field(0), action.int_field(1)
        return None if round_id is None or index is None else (round_id, index)

    async def _round(self, ctx: Context, round_id: int) -> RoundRecord | None:
        """The round a button names: from the space's cached open rounds when it is one (as it is for
        almost every tap), else read. A round closed meanwhile is refused by the write that follows."""
        cached = self._open_rounds.get(ctx.space_id)
        if cached is not None and time.monotonic() - cached[0] < ROUND_CACHE_SECONDS:
            for record in cached[1]:
                if record.id == round_id:
                    return record
        return await self.store.round(round_id)

    async def _resolve(self, ctx: Context, action: Action) -> tuple[RoundRecord, Campaign, int, Task] | Reply:
        ids = self._task_of(action)
        record = await self._round(ctx, ids[0]) if ids else None
        campaign = self.catalog.campaign(record.subject) if record else None
        if ids is None or record is None or campaign is None or ids[1] >= len(campaign.tasks):
            return self._stale(ctx)
        if not record.is_open:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        return record, campaign, ids[1], campaign.tasks[ids[1]]

    async def _on_answer(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        resolved = await self._resolve(ctx, action)
        if isinstance(resolved, Reply):
            return resolved
        record, campaign, index, task = resolved
        payload = action.fields[2] if len(action.fields) > 2 else ""
        parsed = parse_answer(task, payload, text, values, ctx.language)
        if isinstance(parsed, NeedsText):
            other = ask_other_text(task, self.codec, record.id, index, ctx.language)
            other_token = self.codec.pack("a", record.id, index, 2)
            await self.store.expect_input(ctx.user_id, ctx.space_id, other_token, record.id, task.id, self.clock())
            return other
        if isinstance(parsed, Refused):
            return Reply(t(parsed.key, ctx.language, **parsed.variables), Outcome.REFUSED)
        return await self._record(ctx, record, campaign, index, task, parsed)

    async def _on_text(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        resolved = await self._resolve(ctx, action)
        if isinstance(resolved, Reply):
            return resolved
        record, campaign, index, task = resolved
        if text is None:
            return ask_other_text(task, self.codec, record.id, index, ctx.language)
        parsed = parse_typed(task, text, ctx.language)
        if isinstance(parsed, Refused):
            return Reply(t(parsed.key, ctx.language, **parsed.variables), Outcome.REFUSED)
        assert isinstance(parsed, Accepted)
        return await self._record(ctx, record, campaign, index, task, parsed)

    async def _on_toggle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        resolved = await self._resolve(ctx, action)
        mask = action.int_field(2)
        if isinstance(resolved, Reply) or mask is None:
            return resolved if isinstance(resolved, Reply) else self._stale(ctx)
        record, campaign, index, task = resolved
        if mask >= 1 << len(task.options):
            return self._stale(ctx)
        view = self._show_task(ctx, record, campaign, index, task, mask)
        return Reply(view.text, Outcome.INFO, buttons=view.buttons, select=view.select, edit=True, notice="✓")

    async def _on_skip(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        ids = self._task_of(action)
        if ids is None:
            return self._stale(ctx)
        following = await self._next_task(ctx, after=ids)
        return Reply(
            t("task.skipped", ctx.language),
            Outcome.DONE,
            notice=str(t("task.skipped", ctx.language)),
            follow_up=following,
        )

    async def _record(
        self, ctx: Context, record: RoundRecord, campaign: Campaign, index: int, task: Task, parsed: Accepted
    ) -> Reply:
        points = task_points(task, self.settings.points)
        if parsed.correct:
            points += self.settings.points.known_answer_bonus
        award = Award(ctx.user_id, record.space_id, record.id, points, "answer", task.id, "", capped=True)
        answer = NewAnswer(record.id, task.id, ctx.user_id, parsed.value, task.quota, award)
        upcoming = await self._upcoming(ctx)
        try:
            result = await self.store.record_answer(answer, self.rules, self.clock(), follow_up=upcoming.query)
        except StoreUnavailableError:
            return Reply(t("error.storage", ctx.language), Outcome.REFUSED)
        log.info(
            "action=answer task=%s round=%s user=%s outcome=%s",
            task.id,
            record.id,
            ctx.user_id,
            result.status,
        )
        if result.status == AnswerStatus.ALREADY_ANSWERED:
            text = t("answer.already", ctx.language)
            return Reply(text, Outcome.ALREADY_DONE, notice=str(text))
        if result.status == AnswerStatus.ROUND_CLOSED:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        if result.status == AnswerStatus.BANNED:
            return Reply(t("moderation.you_are_banned", ctx.language), Outcome.REFUSED)
        if result.status == AnswerStatus.QUOTA_FULL:
            return Reply(
                t("answer.quota_full", ctx.language),
                Outcome.REFUSED,
                follow_up=await self._next_task(ctx, after=(record.id, index)),
            )
        awarded = result.awarded
        gained = awarded.points if awarded else 0
        lines = [t("answer.recorded", ctx.language, choice=parsed.summary, points=gained)]
        if awarded and awarded.streak_bonus:
            lines.append(t("answer.streak", ctx.language, days=awarded.streak_days, points=awarded.streak_bonus))
        if awarded and awarded.capped:
            lines.append(t("answer.daily_cap", ctx.language, cap=self.settings.points.daily_cap))
        lines += self.rewards.celebrations(awarded, ctx.language)
        text = Markup("\n".join(lines))
        return Reply(
            text,
            Outcome.DONE,
            notice=str(t("answer.toast", ctx.language, points=gained)),
            follow_up=await self._next_task(
                ctx, after=(record.id, index), upcoming=replace(upcoming, progress=result.progress)
            ),
        )

    async def _on_round_start(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """The Start button of a round announcement: that round's next task for whoever tapped."""
        round_id = action.int_field(0)
        record = await self.store.round(round_id) if round_id is not None else None
        if record is None:
            return self._stale(ctx)
        if not record.is_open:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        return await self._next_task(ctx, record.subject)

    async def render_outbox(self, payload: dict[str, object]) -> Reply:
        """The reply an outbox row stands for (markers are rendered now, stored replies decoded)."""
        if "render" in payload:
            return await self.rounds.render_payload(payload)
        return reply_from_payload(payload)

    async def _on_reward(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """Redeem buttons: ``w`` asks to confirm, ``q`` redeems (see :mod:`bot.rewards`)."""
        return await self.rewards.act(ctx, action)

    async def _on_idea(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """Idea buttons: vote, retract, idea page, listing page, submit anyway (see :mod:`bot.ideas`)."""
        return await self.ideas.act(ctx, action)

    def _stale(self, ctx: Context) -> Reply:
        text = t("action.stale", ctx.language)
        return Reply(text, Outcome.STALE, notice=str(text))

    _actions: ClassVar[dict[str, ActionHandler]] = {
        "a": _on_answer,
        "s": _on_answer,
        TEXT_VERB: _on_text,
        "t": _on_toggle,
        "n": _on_skip,
        "r": _on_round_start,
        "w": _on_reward,
        "q": _on_reward,
        "v": _on_idea,
        "u": _on_idea,
        "i": _on_idea,
        "p": _on_idea,
        "d": _on_idea,
    }

    # points -------------------------------------------------------------------------------------

    async def points(self, user: UserRef, space: SpaceRef) -> Reply:
        """Balance (the sum of the ledger) and the latest entries, with their reasons."""
        ctx = await self.context(user, space)
        balance = await self.store.balance(ctx.user_id)
        entries = await self.store.ledger_entries(ctx.user_id, _LEDGER_LINES)
        level, next_at = level_for(await self.rewards.queries.earned(ctx.user_id))
        lines = [t("points.balance", ctx.language, points=balance, level=level, next=next_at)]
        for entry in entries:
            detail = self._task_title(entry.detail, ctx.language) if entry.reason == "answer" else entry.detail
            reason = t(f"reason.{entry.reason}", ctx.language, detail=detail)
            lines.append(t("points.entry", ctx.language, delta=f"{entry.delta:+d}", reason=reason))
        return Reply(Markup("\n".join(lines)), private=True)

    def _task_title(self, task_id: str, language: str) -> str:
        """A task's prompt, shortened, for the ledger lines ("answered “What do you order…”")."""
        for campaign in self.catalog.campaigns.values():
            task = campaign.task(task_id)
            if task is not None:
                prompt = text_in(task.prompt, language)
                return prompt if len(prompt) <= _REASON_LENGTH else prompt[: _REASON_LENGTH - 1] + "…"
        return task_id

    async def leaderboard(self, user: UserRef, space: SpaceRef, period: str = "all") -> Reply:
        """``/top [week|all|round <id>|global]``: the top 10, and the caller's rank when not among them."""
        return await self.rewards.leaderboard(await self.context(user, space), period)

    async def balance(self, user: UserRef, space: SpaceRef) -> int:
        ctx = await self.context(user, space)
        return await self.store.balance(ctx.user_id)

    # pickers: what a platform's autocomplete or select offers (reads only) ----------------------

    async def reward_choices(self) -> list[tuple[str, str]]:
        """Rewards in stock as ``(id, title)``, cheapest first: Discord's ``/redeem`` autocompletes them."""
        return [(reward.id, reward.title) for reward in await self.rewards.queries.catalog() if reward.available]

    async def text_input(self, user: UserRef, token: str) -> TextInput | None:
        """The form a free-text token is typed in, as the question that carried it showed it.

        A platform that can keep little more than the token with its button (Discord: a custom_id of
        at most 100 characters) asks here when the member opens the form, so label, placeholder and
        limit survive a restart. In ``user``'s language; reads only: nothing is recorded and no rate
        limit is spent. ``None`` when the token is forged, not a free-text one, or names a round or
        task that is gone; submitting the text then gets the usual refusal from :meth:`act`.
        """
        action = self.codec.parse(token)
        ids = self._task_of(action) if action is not None and action.verb == TEXT_VERB else None
        if ids is None:
            return None
        round_id, index = ids
        record = await self.store.round(round_id)
        campaign = self.catalog.campaign(record.subject) if record is not None else None
        if campaign is None or index >= len(campaign.tasks) or campaign.tasks[index].kind not in TEXT_KINDS:
            return None
        language = pick_language(user.language, self.settings.default_language)
        return answer_input(campaign.tasks[index], self.codec, round_id, index, language)

    async def idea_categories(self, user: UserRef, space: SpaceRef) -> tuple[str, ...]:
        """The categories an idea may be filed under here now: Discord's idea form offers them."""
        ctx = await self.context(user, space)
        return await self.ideas.categories(ctx.space_id)
