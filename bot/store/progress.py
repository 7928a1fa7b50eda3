"""A member's progress through the open rounds of a space, read in one statement.

Choosing the next question needs four things: whether the member is banned here, which tasks they
answered or skipped in each open round, the answer counts of the tasks with a quota, and their answers to
the tasks that decide who sees a later one. Each used to be a query of its own (one per round); here
they are branches of one ``UNION ALL``, each row tagged with what it says, so reading progress is one
statement (and, inside the answer's unit on PostgreSQL's pipeline, no wait of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from bot.store.database import Connection, Cursor
from bot.store.records import ProgressQuery, TaskProgress

# Every branch gives (kind, round id, task id, value, number): 'b' banned, 'd' done, 'c' count, 'p' profile.
PROGRESS_KINDS = frozenset("bdcp")
PROGRESS_WIDTH = 5
_BANNED = "SELECT 'b', 0, '', '', 0 FROM bans WHERE space_id = ? AND user_id = ?"
_DONE = (
    "SELECT 'd', round_id, task_id, '', 0 FROM answers WHERE user_id = ? AND round_id IN ({rounds})"
    " UNION ALL SELECT 'd', round_id, task_id, '', 0 FROM skips WHERE user_id = ? AND round_id IN ({rounds})"
)
_COUNTS = "SELECT 'c', round_id, task_id, '', SUM(answers) FROM task_counts WHERE {tasks} GROUP BY round_id, task_id"
_COUNTED_TASK = "(round_id = ? AND task_id = ?)"
_PROFILE = "SELECT 'p', 0, task_id, value, id FROM answers WHERE user_id = ? AND task_id IN ({tasks})"


class SentProgress:
    """The progress statement sent, its rows not yet read (see :func:`send_progress`)."""

    __slots__ = ("_cursor", "_query")

    def __init__(self, query: ProgressQuery, cursor: Cursor) -> None:
        self._query = query
        self._cursor = cursor

    def read(self) -> TaskProgress:
        return progress_of(self._query, self._cursor.fetchall())


def progress_of(query: ProgressQuery, rows: Iterable[Sequence[Any]]) -> TaskProgress:
    """The progress the rows of ``query``'s statement say (each row's first five columns)."""
    banned = False
    done: dict[int, set[str]] = {round_id: set() for round_id in query.round_ids}
    counts: dict[int, dict[str, int]] = {round_id: {} for round_id, _ in query.quota_tasks}
    chosen: list[tuple[int, str, str]] = []
    for kind, round_id, task_id, value, number, *_ in rows:
        if kind == "b":
            banned = True
        elif kind == "d":
            done[int(round_id)].add(task_id)
        elif kind == "c":
            counts[int(round_id)][task_id] = int(number)
        else:
            chosen.append((int(number), task_id, value))
    profile = {task_id: value for _, task_id, value in sorted(chosen)}  # the latest answer wins
    return TaskProgress(banned, done, counts, profile)


def with_answer(progress: TaskProgress, query: ProgressQuery, round_id: int, task_id: str, value: str) -> TaskProgress:
    """``progress`` read just before the member's answer was inserted, as read just after: the task
    done, counted when it has a quota, and the member's latest answer to it."""
    if round_id in progress.done:
        progress.done[round_id].add(task_id)
    if (round_id, task_id) in query.quota_tasks:
        tasks = progress.counts[round_id]
        tasks[task_id] = tasks.get(task_id, 0) + 1
    if task_id in query.condition_task_ids:
        progress.profile[task_id] = value
    return progress


def send_progress(db: Connection, query: ProgressQuery) -> SentProgress:
    """Send the one statement reading ``query``'s progress; read it with :meth:`SentProgress.read`."""
    return SentProgress(query, db.execute(progress_statement(query), progress_parameters(query)))


def progress_statement(query: ProgressQuery) -> str:
    """The statement reading ``query``'s progress: rows of (kind, round id, task id, value, number)."""
    return _statement(len(query.round_ids), len(query.quota_tasks), len(query.condition_task_ids))


def progress_parameters(query: ProgressQuery) -> list[Any]:
    parameters: list[Any] = [query.space_id, query.user_id]
    if query.round_ids:
        parameters += (query.user_id, *query.round_ids, query.user_id, *query.round_ids)
    for counted in query.quota_tasks:
        parameters += counted
    if query.condition_task_ids:
        parameters += (query.user_id, *query.condition_task_ids)
    return parameters


@cache
def _statement(rounds: int, quota_tasks: int, conditions: int) -> str:
    """The progress statement for that many rounds, tasks with a quota and condition tasks (built once
    per shape: it is sent with every answer)."""
    branches = [_BANNED]
    if rounds:
        branches.append(_DONE.format(rounds=", ".join("?" * rounds)))
    if quota_tasks:
        branches.append(_COUNTS.format(tasks=" OR ".join([_COUNTED_TASK] * quota_tasks)))
    if conditions:
        branches.append(_PROFILE.format(tasks=", ".join("?" * conditions)))
    return " UNION ALL ".join(branches)


def read_progress(db: Connection, query: ProgressQuery) -> TaskProgress:
    """The member's progress, now."""
    return send_progress(db, query).read()
