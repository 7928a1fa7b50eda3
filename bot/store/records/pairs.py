"""Ideas judged in pairs: a judgement to record, what became of it, and the rows the pair index reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store.records.points import Award, Awarded


@dataclass(frozen=True, slots=True)
class NewJudgement:
    """A member's pick between ideas ``first`` and ``second`` (in the order shown): ``winner`` is one of
    them, or ``None`` for "can't decide". ``award`` is paid under the judgement's own key, once."""

    space_id: int
    user_id: int
    first: int
    second: int
    winner: int | None
    round_id: int | None
    award: Award

    @property
    def pair(self) -> tuple[int, int]:
        """The unordered pair as stored: (lower id, higher id)."""
        return (self.first, self.second) if self.first < self.second else (self.second, self.first)


class JudgeStatus(StrEnum):
    RECORDED = "recorded"
    ALREADY_JUDGED = "already_judged"
    GONE = "gone"  # an idea of the pair was hidden, merged or declined since the pair was shown
    NOT_A_PAIR = "not_a_pair"  # the same idea twice, an idea of another space, or one of the member's own
    ROUND_CLOSED = "round_closed"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class JudgeResult:
    status: JudgeStatus
    awarded: Awarded | None = None


@dataclass(frozen=True, slots=True)
class PoolIdea:
    """An idea of a space as the pair index keeps it: who wrote it, and whether it is in the pool now
    (listed: not pending, hidden, merged or declined), what it was merged into, if it was, and its
    ``status_at`` as stored (``changed_at``)."""

    id: int
    author_id: int
    listed: bool
    changed_at: str
    merged_into: int | None = None


@dataclass(frozen=True, slots=True)
class Judged:
    """One stored judgement as the fit reads it (``winner`` ``None``: can't decide)."""

    id: int
    low: int
    high: int
    winner: int | None


@dataclass(frozen=True, slots=True)
class PoolChanges:
    """What a space's pool has not seen yet, and the pairs (lower id, higher id) one member judged there
    (empty when no member was asked about): :meth:`bot.store.pairs_sql.PairQueries.changes`."""

    ideas: list[PoolIdea]
    judgements: list[Judged]
    judged: set[tuple[int, int]]
