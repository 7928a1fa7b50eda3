"""Plain records that cross the store boundary (frozen dataclasses, no SQL, no platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.settings import BadgeRule


@dataclass(frozen=True, slots=True)
class RoundRecord:
    id: int
    space_id: int
    kind: str
    subject: str
    status: str
    opened_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


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


@dataclass(frozen=True, slots=True)
class PointRules:
    """The rules an award is applied with, in the same transaction as the effect."""

    daily_cap: int
    streak_bonus: int
    timezone: str
    badges: tuple[BadgeRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Awarded:
    """What an award came to; for answers also the ``badges`` earned and ``level_up`` (new level, or 0)."""

    points: int
    streak_days: int = 0
    streak_bonus: int = 0
    capped: bool = False
    badges: tuple[str, ...] = ()
    level_up: int = 0


class AnswerStatus(StrEnum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    ROUND_CLOSED = "round_closed"
    QUOTA_FULL = "quota_full"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class NewAnswer:
    round_id: int
    task_id: str
    user_id: int
    value: str
    quota: int | None
    award: Award


@dataclass(frozen=True, slots=True)
class AnswerResult:
    status: AnswerStatus
    answer_id: int = 0
    awarded: Awarded | None = None
    progress: TaskProgress | None = None  # after a recorded answer, when the caller asked for it


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
class ProgressQuery:
    """What choosing a member's next task in a space needs to know (see :class:`TaskProgress`)."""

    space_id: int
    user_id: int
    round_ids: tuple[int, ...]
    count_round_ids: tuple[int, ...]  # rounds with quotas: their answer counts
    condition_task_ids: tuple[str, ...]  # tasks whose answer decides who sees a later task


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """A member's progress through the open rounds of a space, read in one snapshot."""

    banned: bool
    answered: dict[int, set[str]]
    counts: dict[int, dict[str, int]]
    profile: dict[str, str]
