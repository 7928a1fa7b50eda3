"""What every feature shares: who is acting where, the services a use case runs on, the shared refusals.

This is the layer under the features. A feature takes :class:`Services` (never the engine), and each of
its use cases takes a resolved :class:`Context` and typed arguments, so a feature can be built and tested
on its own, and the engine only composes features, resolves identities and routes tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.actions import ActionCodec
from bot.catalog import Catalog
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply
from bot.settings import Settings
from bot.store.base import Store
from bot.store.records import PointRules
from bot.texts import pick_language, t

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Context:
    """Who is acting where, resolved once per call: the platform refs, their database ids, the language.

    ``space_id`` is the *community's* id (its home space's): rounds, ideas, leaderboards and bans are the
    community's, so features keyed on it are per community with no change of theirs. ``own_space_id`` is
    the space the member acts in (``None``: the same), for what is about that very space (linking it).

    ``user_id`` is the *person*: the primary account's id when the acting account is linked to others, so
    every feature gets one balance, one rank, one answer per task and one vote per idea for free.
    ``account_id`` is the acting platform account's own id (``None``: the same as ``user_id``).
    """

    user: UserRef
    space: SpaceRef
    user_id: int
    space_id: int
    language: str
    own_space_id: int | None = None
    account_id: int | None = None

    @property
    def here(self) -> int:
        """The id of the space the member acts in, whatever community it belongs to."""
        return self.space_id if self.own_space_id is None else self.own_space_id

    @property
    def own_account(self) -> int:
        """The acting platform account's own id (linking names accounts, not persons)."""
        return self.user_id if self.account_id is None else self.account_id


@dataclass(frozen=True, slots=True)
class Services:
    """What a use case runs on: one store, one catalog, the settings, the token codec and a clock.

    ``codec_key`` is the instance's secret (it also keys the pseudonyms of exports); ``rules`` are the
    point rules every award in the store applies.
    """

    store: Store
    catalog: Catalog
    settings: Settings
    codec: ActionCodec
    codec_key: bytes
    clock: Clock
    rules: PointRules

    @classmethod
    def build(cls, store: Store, catalog: Catalog, settings: Settings, key: bytes, clock: Clock = utc_now) -> Services:
        rules = PointRules(
            daily_cap=settings.points.daily_cap,
            streak_bonus=settings.points.streak_bonus,
            timezone=settings.timezone,
            badges=tuple(settings.points.badges),
        )
        return cls(store, catalog, settings, ActionCodec(key), key, clock, rules)

    def language_of(self, user: UserRef) -> str:
        """The language to answer ``user`` in, before (or without) resolving a :class:`Context`."""
        return pick_language(user.language, self.settings.default_language)


def stale(ctx: Context) -> Reply:
    """The answer to a forged, malformed or outdated button: it changes nothing."""
    text = t("action.stale", ctx.language)
    return Reply(text, Outcome.STALE, notice=str(text))


def storage_refusal(language: str) -> Reply:
    """The polite answer when the database refuses a write (the store has logged why, for the operator)."""
    return Reply(t("error.storage", language), Outcome.REFUSED)
