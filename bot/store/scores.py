"""Leaderboards kept by the writer (migration 0017): one upsert per member and award, the histogram once
per transaction.

Every ledger row that earns points (any reason but ``redeem``) adds its delta to the member's score in
each scope it belongs to (everyone, its space, that space's week, its round). Triggers used to do it,
one scope and one histogram bucket at a time; now :func:`add_points` upserts all the member's scopes in
one statement and returns the new scores, from which the member's old and new histogram buckets follow
(old = new − delta). Those moves wait in the connection's :class:`ScoreBook` and are written, netted,
in one statement just before the transaction commits: a group commit of a thousand answers moving members
from 0 to 5 points writes one histogram row, not a thousand.

The histogram counts members with points above zero only: a rank is asked only for those
(:meth:`bot.store.points_sql.PointQueries.standing`), and with that rule a move needs no knowledge of
whether the member's row existed before (a new row and a row at 0 both leave no bucket behind).

The same book nets the answer counts of the transaction (:func:`count_answer`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bot.point_rules import EVERYONE, round_scope, space_scope
from bot.store.database import Connection, Cursor
from bot.store.dialects import dialect, shard

SPENDING = "redeem"  # the ledger reason that leaves leaderboards alone
_FLUSH_CHUNK = 200  # rows per statement (4 parameters at most each, well under any server's limit)
SCOPES_KEPT = 4096  # (space, round, week) whose leaderboard scopes are kept


class ScoreBook:
    """The histogram moves and the answer counts of one transaction, netted when written.

    The store gives each writing connection one (``score_book``) and calls :meth:`flush` before COMMIT
    and :meth:`undo` for a unit rolled back alone (SQLite's group commit), so a failed unit's moves go
    with its rows. A connection without a book (tools, tests on a bare connection) writes each move at once.

    Answer counts (``task_counts``) wait here too: every answer of a group commit adds one to the same
    row, so five hundred answers to one task write it once (see :func:`count_answer`).
    """

    __slots__ = ("_log",)

    def __init__(self) -> None:
        # (True, round id, task id, 1) for an answer counted, (False, scope, points, ±1) for a histogram move
        self._log: list[tuple[bool, Any, Any, int]] = []

    def move(self, scope: str, old: int, new: int) -> None:
        """A member of ``scope`` went from ``old`` points to ``new``."""
        if old > 0:
            self._log.append((False, scope, old, -1))
        if new > 0:
            self._log.append((False, scope, new, 1))

    def count_answer(self, round_id: int, task_id: str) -> None:
        """One more answer to the round's task."""
        self._log.append((True, round_id, task_id, 1))

    def mark(self) -> int:
        """Where the moves of the unit about to run start."""
        return len(self._log)

    def undo(self, mark: int) -> None:
        """Forget the moves recorded since ``mark`` (their unit was rolled back)."""
        del self._log[mark:]

    def flush(self, db: Connection) -> None:
        """Write the netted moves and counts into the writer's shard, then forget them.

        On PostgreSQL the upserts travel as one statement (all but the last as data-modifying ``WITH``
        parts): since the answer function leaves the counts of tasks without a quota to the book
        (migration 0024), an answer alone in its transaction would otherwise cost a statement more.
        """
        net: Counter[tuple[bool, Any, Any]] = Counter()
        for counted, one, two, step in self._log:
            net[(counted, one, two)] += step
        self._log.clear()
        own = shard(db)
        statements: list[tuple[str, list[Any]]] = []
        for counted, sql in ((False, _HISTOGRAM), (True, _ANSWER_COUNTS)):
            statements += chunked(
                sql, [(one, two, own, step) for (kind, one, two), step in net.items() if kind is counted and step]
            )
        if len(statements) > 1 and dialect(db) == "postgresql":
            parts = ", ".join(f"part{number} AS ({sql})" for number, (sql, _) in enumerate(statements[:-1]))
            statements = [
                (f"WITH {parts} {statements[-1][0]}", [value for _, values in statements for value in values])
            ]
        for sql, parameters in statements:
            db.execute(sql, parameters)


def send_rows(db: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``sql``, an INSERT whose rows go where it says ``{values}``, for every row of ``rows``: one statement
    per :data:`_FLUSH_CHUNK` rows, so a group commit's rows of one table cost a statement or two, not one each
    (SQLite runs a many-row upsert faster per row than one ``executemany``)."""
    for statement, parameters in chunked(sql, rows):
        db.execute(statement, parameters)


def chunked(sql: str, rows: Sequence[tuple[Any, ...]]) -> list[tuple[str, list[Any]]]:
    """The statements (and their parameters) :func:`send_rows` sends for ``rows``, none when there are none."""
    if not rows:
        return []
    one = f"({', '.join('?' * len(rows[0]))})"
    return [
        (sql.format(values=", ".join([one] * len(chunk))), [value for row in chunk for value in row])
        for chunk in (rows[start : start + _FLUSH_CHUNK] for start in range(0, len(rows), _FLUSH_CHUNK))
    ]


_HISTOGRAM = (
    "INSERT INTO score_counts (scope, points, shard, users) VALUES {values}"
    " ON CONFLICT (scope, points, shard) DO UPDATE SET users = score_counts.users + excluded.users"
)
_ANSWER_COUNTS = (
    "INSERT INTO task_counts (round_id, task_id, shard, answers) VALUES {values}"
    " ON CONFLICT (round_id, task_id, shard) DO UPDATE SET answers = task_counts.answers + excluded.answers"
)

_ANSWER_COUNT = _ANSWER_COUNTS.format(values="(?, ?, ?, ?)")


def book_of(db: Connection) -> ScoreBook | None:
    """The connection's book, when a store is running it (see :class:`ScoreBook`)."""
    book = getattr(db, "score_book", None)
    return book if isinstance(book, ScoreBook) else None


def count_answer(db: Connection, round_id: int, task_id: str, *, later: bool) -> None:
    """Add one to the task's answer count (``task_counts``), in the answer's unit.

    ``later``: once per group commit, with a book (:meth:`ScoreBook.flush`, before COMMIT, so other
    readers see what they saw before). The caller says so for a task without a quota: only a quota's
    check and a progress read (:class:`~bot.store.records.ProgressQuery`, which counts the tasks with a
    quota alone) read counts inside a transaction, so a quota task's answer counts at once, where both
    see it, and every other answer waits for the commit.
    """
    book = book_of(db)
    if later and book is not None:
        book.count_answer(round_id, task_id)
        return
    db.execute(_ANSWER_COUNT, (round_id, task_id, shard(db), 1))


class PendingScores:
    """An upsert sent, its new scores not yet read: on PostgreSQL in pipeline mode the unit sends what
    follows before waiting (see :mod:`bot.store.postgres`)."""

    __slots__ = ("_cursor", "_db", "_delta")

    def __init__(self, db: Connection, cursor: Cursor | None, delta: int) -> None:
        self._db = db
        self._cursor = cursor
        self._delta = delta

    def lifetime(self) -> int | None:
        """Record the histogram moves; the member's points earned over all time, ``None`` if unchanged."""
        if self._cursor is None:
            return None
        book = book_of(self._db)
        own = book if book is not None else ScoreBook()
        lifetime = None
        for scope, points in self._cursor.fetchall():
            own.move(scope, points - self._delta, points)
            if scope == EVERYONE:
                lifetime = int(points)
        if book is None:
            own.flush(self._db)
        return lifetime


@lru_cache(maxsize=SCOPES_KEPT)
def scopes(space_id: int | None, round_id: int | None, week: str) -> tuple[str, ...]:
    """The leaderboards a ledger row of this space, round and week counts in (kept: every answer asks,
    and a space's members answer in the same few rounds and week)."""
    found = [EVERYONE]
    if space_id is not None:
        found.append(space_scope(space_id))
        if week:
            found.append(f"{space_scope(space_id)}w{week}")
    if round_id is not None:
        found.append(round_scope(round_id))
    return tuple(found)


def add_points(
    db: Connection, user_id: int, space_id: int | None, round_id: int | None, week: str, delta: int, reason: str
) -> PendingScores:
    """Add ``delta`` to the member's score in every scope of (space, round, week): one statement.

    Call it for every ledger row (or rows of one member, space, round and week: their summed delta), in
    the ledger rows' unit. Spending (reason ``redeem``) lowers the balance, never a leaderboard.
    """
    if delta == 0 or reason == SPENDING:
        return PendingScores(db, None, 0)
    found = scopes(space_id, round_id, week)
    values: list[Any] = []
    for scope in found:
        values += (scope, user_id, delta)
    cursor = db.execute(
        "INSERT INTO scores (scope, user_id, points) VALUES "  # noqa: S608 - placeholders only
        + ", ".join(["(?, ?, ?)"] * len(found))
        + " ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points"
        " RETURNING scope, points",
        values,
    )
    return PendingScores(db, cursor, delta)
