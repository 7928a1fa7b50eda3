"""Tasks: an answer or a skip to record, what it came to, and a member's progress through open rounds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store.records.points import Award, Awarded


class AnswerStatus(StrEnum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    ROUND_CLOSED = "round_closed"
    QUOTA_FULL = "quota_full"
    BANNED = "banned"


class SkipStatus(StrEnum):
    SKIPPED = "skipped"
    ALREADY_SKIPPED = "already_skipped"
    ALREADY_ANSWERED = "already_answered"
    ROUND_CLOSED = "round_closed"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """An answer to record. ``typed``: a free-text task, whose awaited input the answer settles; the
    engine knows a choice task never awaited one, and so saves the statement that would look."""

    round_id: int
    task_id: str
    user_id: int
    value: str
    quota: int | None
    award: Award
    typed: bool = True
    space_id: int | None = None  # the space it was given in (the dashboard filters by it), not the community


@dataclass(frozen=True, slots=True)
class ProgressQuery:
    """What choosing a member's next task in a space needs to know (see :class:`TaskProgress`)."""

    space_id: int
    user_id: int
    round_ids: tuple[int, ...]
    quota_tasks: tuple[tuple[int, str], ...]  # (round id, task id) of the tasks with a quota: their answer counts
    condition_task_ids: tuple[str, ...]  # tasks whose answer decides who sees a later task


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """A member's progress through the open rounds of a space, read in one snapshot.

    ``done`` holds, per round, the tasks the member answered or skipped: neither is asked again.
    """

    banned: bool
    done: dict[int, set[str]]
    counts: dict[int, dict[str, int]]
    profile: dict[str, str]


@dataclass(frozen=True, slots=True)
class AnswerResult:
    status: AnswerStatus
    answer_id: int = 0
    awarded: Awarded | None = None
    progress: TaskProgress | None = None  # after a recorded answer, when the caller asked for it
