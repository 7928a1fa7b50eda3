"""Labelling jobs: items to sync from an item file, an item to serve, a label to record and what it came to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.store.records.points import Award, Awarded


class LabelStatus(StrEnum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    ITEM_SETTLED = "item_settled"  # retired, withdrawn or its last slot taken meanwhile
    NOT_FOR_YOU = "not_for_you"  # the member is held back from labelling (low gold accuracy)
    ROUND_CLOSED = "round_closed"
    BANNED = "banned"
    STALE = "stale"  # no such item in this job


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item as a job's file names it: its key and, for gold, the known answer (an answer key)."""

    key: str
    gold: str | None


@dataclass(frozen=True, slots=True)
class ServedItem:
    id: int
    key: str


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """Choosing the next item of a job for a member: ``gold_turn`` says, from how many of the job's items
    the member answered, whether this one is a gold item (about ``gold_share`` of the time, decided by
    the feature); among the items nearest to settling, the member's id picks one, so members answering
    at once do not all race for the same slot."""

    round_id: int
    task_id: str
    user_id: int
    gold_turn: Callable[[int], bool]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a member's answers say of their reliability: gold answers (right of given) and votes on
    settled items (agreeing with the settled label, of counted)."""

    gold_answers: int = 0
    gold_correct: int = 0
    resolved: int = 0
    agreed: int = 0


@dataclass(frozen=True, slots=True)
class ItemVote:
    """One vote on an item in the unit that records a label, with its voter's gold record."""

    user_id: int
    vote: str
    record: Evidence


@dataclass(frozen=True, slots=True)
class Settling:
    """What the feature decided from an item's votes: its current label and confidence, and whether it
    is settled (retired: served no more)."""

    label: str
    confidence: float
    settled: bool


@dataclass(frozen=True, slots=True)
class JobRules:
    """The job's quality rules, applied in the unit that records a label. The two decisions are the
    feature's (pure functions of what the unit read), so the formulas live in one place."""

    min_answers: int
    min_seconds: float
    pay_on_agreement: bool
    holds_back: Callable[[Evidence], bool]  # after a gold answer: leave the member out from now on
    settle: Callable[[Sequence[ItemVote], int], Settling]  # (votes, answers taken) → label, confidence, settled


@dataclass(frozen=True, slots=True)
class NewLabel:
    """A member's label for one item: ``value`` (JSON, as answers) or ``None`` for "can't tell", and
    ``vote``, what it counts as when compared (the value itself, or free text normalised). ``award`` is
    what answering pays now (its source key is filled in), or what agreeing pays later under
    ``pay_on_agreement`` (then keyed by item and member)."""

    round_id: int
    task_id: str
    item_id: int
    user_id: int
    value: str | None
    vote: str | None
    award: Award


@dataclass(frozen=True, slots=True)
class LabelResult:
    status: LabelStatus
    awarded: Awarded | None = None
    settled: bool = False
    excluded_now: bool = False


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item of a round's job as the results and the export read it."""

    id: int
    task_id: str
    key: str
    gold: str | None
    status: str
    answers: int
    label: str | None
    confidence: float | None
    note: str


@dataclass(frozen=True, slots=True)
class LabelAnswer:
    """One recorded label, as the results, the aggregation and the export read it."""

    item_id: int
    task_id: str
    user_id: int
    value: str | None
    vote: str | None
    seconds: float | None
    flags: str
    created_at: str


@dataclass(frozen=True, slots=True)
class MemberQuality:
    """A member's record in a round's labelling: the evidence on their reliability, too-fast answers,
    held back or not (since when)."""

    user_id: int
    answers: int
    evidence: Evidence
    too_fast: int
    excluded: bool
    excluded_at: datetime | None = None
