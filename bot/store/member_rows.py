"""The member rows an answer keeps up to date, written once per group commit on SQLite.

An answer changes four rows of its member besides its own: the answer count (``user_counters``), the
points earned today (``daily_points``), the streak (``streaks``) and the score in each leaderboard scope
(``scores``), and a badge row (``user_badges``) when the count or the streak reaches a threshold. Sent
one statement each, with ``RETURNING`` for the new count, scores and badge, they cost the writer thread
more than the answer's own insert. In SQLite's group commit the answer's unit instead reads the old
values in the statement that checks its round (:func:`gate_columns`: also the badges the member holds),
decides everything from them (cap, streak, badges, level, histogram moves) and leaves the rows in the
writer's :class:`MemberRows`, which sends them with one statement per table just before COMMIT.

Why the values read stay true until then:

* SQLite has one writer, and the group commit holds the write lock from its first unit to COMMIT.
* The batch's own pending rows: a member answering a second time in the same group commit first has
  the pending rows written (:meth:`MemberRows.settle`), so each member appears at most once here.
* Every other unit of the batch (a vote's award, a merge, a redemption) runs after the pending rows
  are written: the writer calls :meth:`MemberRows.before` ahead of each unit, and only an answer's unit
  (:class:`DefersMemberRows`) lets them wait.
* A unit rolled back: the whole transaction goes and :meth:`MemberRows.clear` with it; the batch then
  runs again unit by unit (each in a savepoint) with the book set aside, every row written at once.

The rows are constraint-safe by construction (the answer's insert checked the member exists, and every
statement is an upsert), so the flush cannot refuse what the units were told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from bot.settings import BadgeCounter
from bot.store.database import Connection, Unit
from bot.store.dialects import ReadCommitted
from bot.store.scores import send_rows

T = TypeVar("T")

_COUNTERS = (
    "INSERT INTO user_counters (user_id, counter, value) VALUES {values}"
    " ON CONFLICT (user_id, counter) DO UPDATE SET value = user_counters.value + excluded.value"
)
_DAYS = (
    "INSERT INTO daily_points (user_id, day, earned) VALUES {values}"
    " ON CONFLICT (user_id, day) DO UPDATE SET earned = daily_points.earned + excluded.earned"
)
_STREAKS = (
    "INSERT INTO streaks (user_id, last_day, length, best) VALUES {values} ON CONFLICT (user_id) DO UPDATE"
    " SET last_day = excluded.last_day, length = excluded.length,"
    " best = CASE WHEN streaks.best > excluded.length THEN streaks.best ELSE excluded.length END"
)
_SCORES = (
    "INSERT INTO scores (scope, user_id, points) VALUES {values}"
    " ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points"
)
# The primary key (user_id, badge) hands each badge out once; the unit granted only badges not held.
_BADGES = "INSERT INTO user_badges (user_id, badge, earned_at) VALUES {values} ON CONFLICT DO NOTHING"
# The same upserts for one row, as units outside the group commit send them (bot.store.effects).
COUNTERS = _COUNTERS.format(values="(?, ?, ?)")
DAYS = _DAYS.format(values="(?, ?, ?)")
STREAK = _STREAKS.format(values="(?, ?, ?, ?)")
_ANSWER_COUNT = "(SELECT value FROM user_counters WHERE user_id = ? AND counter = 'answers')"
_SCORE = "(SELECT points FROM scores WHERE scope = ? AND user_id = ?)"
# Badge ids are [a-z0-9_] (bot.settings.BadgeRule), so a comma parts them.
_HELD_BADGES = "(SELECT group_concat(badge) FROM user_badges WHERE user_id = ?)"


class DefersMemberRows(ReadCommitted[T]):
    """An answer's unit: it leaves its member rows in the writer's :class:`MemberRows` (see the module)."""


class MemberRows:
    """The member rows of one group commit's answers, waiting for :meth:`flush`."""

    __slots__ = ("_badges", "_counters", "_days", "_members", "_scores", "_streaks", "active")

    def __init__(self) -> None:
        self._members: set[int] = set()
        self._counters: list[tuple[int, str, int]] = []
        self._days: list[tuple[int, str, int]] = []
        self._streaks: list[tuple[int, str, int, int]] = []
        self._scores: list[tuple[str, int, int]] = []
        self._badges: list[tuple[int, str, str]] = []
        self.active = True  # False while the batch runs unit by unit: then every row is written at once

    def settle(self, db: Connection, user_id: int) -> None:
        """Before reading the member's rows: write them first if this group commit changed them already."""
        if user_id in self._members:
            self.flush(db)

    def before(self, db: Connection, unit: Unit[Any]) -> None:
        """Ahead of each unit of the batch: a unit that is not an answer's sees every row written."""
        if self._members and not isinstance(unit, DefersMemberRows):
            self.flush(db)

    def count(self, user_id: int, counter: BadgeCounter, step: int) -> None:
        self._members.add(user_id)
        self._counters.append((user_id, counter, step))

    def earn(self, user_id: int, day: str, points: int) -> None:
        self._members.add(user_id)
        self._days.append((user_id, day, points))

    def streak(self, user_id: int, day: str, length: int) -> None:
        self._members.add(user_id)
        self._streaks.append((user_id, day, length, length))

    def score(self, user_id: int, scopes: Sequence[str], delta: int) -> None:
        self._members.add(user_id)
        self._scores += [(scope, user_id, delta) for scope in scopes]

    def badge(self, user_id: int, badge: str, earned_at: str) -> None:
        self._members.add(user_id)
        self._badges.append((user_id, badge, earned_at))

    def flush(self, db: Connection) -> None:
        """Send the waiting rows, a statement per table (:func:`~bot.store.scores.send_rows`), and forget them."""
        if not self._members:
            return
        for sql, rows in (
            (_COUNTERS, self._counters),
            (_DAYS, self._days),
            (_STREAKS, self._streaks),
            (_SCORES, self._scores),
            (_BADGES, self._badges),
        ):
            send_rows(db, sql, rows)
        self.clear()

    def clear(self) -> None:
        """Forget the waiting rows (their transaction was rolled back)."""
        self._members.clear()
        self._counters.clear()
        self._days.clear()
        self._streaks.clear()
        self._scores.clear()
        self._badges.clear()


def member_rows(db: Connection) -> MemberRows | None:
    """The writer's book when it is taking rows (SQLite's group commit run together), else ``None``."""
    rows = getattr(db, "member_rows", None)
    return rows if isinstance(rows, MemberRows) and rows.active else None


def gate_columns(scopes: int) -> str:
    """What the answer's gate reads besides the round and the member's day when the rows wait: the
    answer count, the badges held (:func:`held_badges`), then the score in each of ``scopes`` scopes
    (parameters: :func:`gate_parameters`)."""
    return ", ".join([_ANSWER_COUNT, _HELD_BADGES] + [_SCORE] * scopes)


def held_badges(column: str | None) -> frozenset[str]:
    """The badges :func:`gate_columns` read the member holds."""
    return frozenset(column.split(",")) if column else frozenset()


def gate_parameters(user_id: int, scopes: Sequence[str]) -> list[Any]:
    parameters: list[Any] = [user_id, user_id]
    for scope in scopes:
        parameters += (scope, user_id)
    return parameters
