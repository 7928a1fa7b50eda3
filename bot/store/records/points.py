"""Points: an award and the rules it is applied with, what it came to, ledger lines and standings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.settings import BadgeRule


@dataclass(frozen=True, slots=True)
class Award:
    """Points to add (or, negative, to take back) with the reason the user reads.

    ``source_key`` makes the award idempotent: a second award with the same key is ignored.
    ``capped`` awards count toward the daily cap and the answering streak.
    """

    user_id: int
    space_id: int | None
    round_id: int | None
    delta: int
    reason: str
    detail: str
    source_key: str
    capped: bool = False

    def keyed(self, source_key: str) -> Award:
        """The same award under ``source_key`` (an answer's, once its id is known): built directly, as
        ``dataclasses.replace`` costs twice as much on every answer's path."""
        return Award(
            self.user_id, self.space_id, self.round_id, self.delta, self.reason, self.detail, source_key, self.capped
        )


@dataclass(frozen=True, slots=True)
class PointRules:
    """The rules an award is applied with, in the same transaction as the effect.

    ``thresholds`` is ``badges`` by counter, as (at_least, badge id) in the order of ``badges``: every
    answer asks which thresholds its count and streak crossed, and a rule's fields read through pydantic
    cost that answer more than the comparisons themselves, so they are read once, here.
    """

    daily_cap: int
    streak_bonus: int
    timezone: str
    badges: tuple[BadgeRule, ...] = ()
    thresholds: Mapping[str, tuple[tuple[int, str], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_counter: dict[str, list[tuple[int, str]]] = {}
        for rule in self.badges:
            by_counter.setdefault(rule.counter, []).append((rule.at_least, rule.id))
        object.__setattr__(self, "thresholds", {counter: tuple(found) for counter, found in by_counter.items()})


@dataclass(frozen=True, slots=True)
class Awarded:
    """What an award came to; for answers also the ``badges`` earned and ``level_up`` (new level, or 0)."""

    points: int
    streak_days: int = 0
    streak_bonus: int = 0
    capped: bool = False
    badges: tuple[str, ...] = ()
    level_up: int = 0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    delta: int
    reason: str
    detail: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: int
    display_name: str
    points: int
    rank: int


@dataclass(frozen=True, slots=True)
class Streak:
    """A member's answering streak as stored: the last day answered, the length then, the best ever."""

    last_day: date | None
    length: int
    best: int
