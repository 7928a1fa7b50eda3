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
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.point_rules import EVERYONE, round_scope, space_scope
from bot.store.database import Connection, Cursor
from bot.store.dialects import shard

SPENDING = "redeem"  # the ledger reason that leaves leaderboards alone
_FLUSH_CHUNK = 200  # histogram rows per statement (4 parameters each, well under any server's limit)


class ScoreBook:
    """The histogram moves of one transaction, netted when written.

    The store gives each writing connection one (``score_book``) and calls :meth:`flush` before COMMIT
    and :meth:`undo` for a unit rolled back alone (SQLite's group commit), so a failed unit's moves go
    with its rows. A connection without a book (tools, tests on a bare connection) writes each move at once.
    """

    __slots__ = ("_moves",)

    def __init__(self) -> None:
        self._moves: list[tuple[str, int, int]] = []

    def move(self, scope: str, old: int, new: int) -> None:
        """A member of ``scope`` went from ``old`` points to ``new``."""
        if old > 0:
            self._moves.append((scope, old, -1))
        if new > 0:
            self._moves.append((scope, new, 1))

    def mark(self) -> int:
        """Where the moves of the unit about to run start."""
        return len(self._moves)

    def undo(self, mark: int) -> None:
        """Forget the moves recorded since ``mark`` (their unit was rolled back)."""
        del self._moves[mark:]

    def flush(self, db: Connection) -> None:
        """Write the netted moves into the writer's shard of the histogram, then forget them."""
        net: Counter[tuple[str, int]] = Counter()
        for scope, points, users in self._moves:
            net[(scope, points)] += users
        self._moves.clear()
        rows = [(scope, points, users) for (scope, points), users in net.items() if users]
        own = shard(db)
        for start in range(0, len(rows), _FLUSH_CHUNK):
            chunk = rows[start : start + _FLUSH_CHUNK]
            values: list[Any] = []
            for scope, points, users in chunk:
                values += (scope, points, own, users)
            db.execute(
                "INSERT INTO score_counts (scope, points, shard, users) VALUES "  # noqa: S608 - placeholders only
                + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (scope, points, shard) DO UPDATE SET users = score_counts.users + excluded.users",
                values,
            )


def book_of(db: Connection) -> ScoreBook | None:
    """The connection's book, when a store is running it (see :class:`ScoreBook`)."""
    book = getattr(db, "score_book", None)
    return book if isinstance(book, ScoreBook) else None


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


def scopes(space_id: int | None, round_id: int | None, week: str) -> list[str]:
    """The leaderboards a ledger row of this space, round and week counts in."""
    found = [EVERYONE]
    if space_id is not None:
        found.append(space_scope(space_id))
        if week:
            found.append(f"{space_scope(space_id)}w{week}")
    if round_id is not None:
        found.append(round_scope(round_id))
    return found


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
