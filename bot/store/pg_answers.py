"""The answer's unit on PostgreSQL: the answers of a transaction held, then sent in one call of
``crowdpulse_record_answers`` (migrations 0022, 0024, 0025) per wave of distinct members.

Sent as fifteen statements, an answer cost the bot process about 0.45 ms of CPU more than on SQLite (each
statement is a Bind/Describe/Execute built and parsed in psycopg) and the server a message exchange per
statement; as one call per answer, the server still ran the fourteen statements of the call for each
answer, and its executor's per-statement work was most of its CPU. The function now takes the answers
of a whole group commit and writes each table's rows for all of them in one statement.

:func:`send_answer` holds the answer on the connection (:meth:`PgConnection.hold`) and returns what
reads its result. The held answers go out when the first of them is read, or before any other statement
of the transaction: every member's first answer in a first call, a member's second answer of the same
group commit in a second, and so on (the function upserts each member's rows once per call), each call
followed by the progress reads of its answers that asked for one. The reader turns the answer's row into
the :class:`AnswerResult` the SQLite unit gives: the histogram moves (and a quota-free task's answer
count, migration 0024) go into the connection's :class:`~bot.store.scores.ScoreBook` and the level is
decided by :meth:`~bot.store.effects.Payment.settle`, as for every other award.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from bot.point_rules import week_key
from bot.store.database import Connection, Cursor, Rows
from bot.store.dialects import shard
from bot.store.effects import Payment, local_time
from bot.store.progress import SentProgress, send_progress
from bot.store.records import (
    AnswerResult,
    AnswerStatus,
    NewAnswer,
    PointRules,
    ProgressQuery,
)
from bot.store.scores import SPENDING, PendingScores, count_answer, scopes
from bot.store.timestamps import day_text, to_text

if TYPE_CHECKING:  # psycopg is imported only where PostgreSQL is used
    from bot.store.pg_connection import PgConnection

_CALL = (
    "SELECT * FROM crowdpulse_record_answers(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::text[],"
    " ?::bigint[], ?::bigint[], ?::boolean[], ?::integer, ?::bigint[], ?::bigint[], ?::bigint[], ?::text[],"
    " ?::text[], ?::boolean[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[],"
    " ?::text[], ?::text[], ?::text[])"
)
_SHARD_AT = 8  # the call's one parameter that is not an array: the writer connection's shard


class _Call:
    """One call sent: its rows, one per answer of its wave, read once the first of them is asked for."""

    __slots__ = ("_cursor", "_rows")

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor
        self._rows: list[Any] | None = None

    def row(self, index: int) -> Any:
        if self._rows is None:
            self._rows = self._cursor.fetchall()
        return self._rows[index]


class _HeldAnswer:
    """An answer waiting to be sent, then where its row and its progress read are."""

    __slots__ = ("call", "counted", "follow_up", "index", "progress", "user_id", "values")

    def __init__(
        self, values: tuple[Any, ...], user_id: int, follow_up: ProgressQuery | None, counted: tuple[int, str] | None
    ) -> None:
        self.values = values
        self.user_id = user_id
        self.follow_up = follow_up
        self.counted = counted
        self.call: _Call | None = None
        self.index = 0
        self.progress: SentProgress | None = None


class _HeldAnswers:
    """The answers a transaction holds (:meth:`PgConnection.hold`), sent by :meth:`send`."""

    __slots__ = ("answers",)

    def __init__(self) -> None:
        self.answers: list[_HeldAnswer] = []

    def send(self, db: PgConnection) -> None:
        """A call per wave, each member at most once in a wave and their answers in the order given,
        each call followed by the progress reads of its answers."""
        seen: Counter[int] = Counter()
        waves: list[list[_HeldAnswer]] = []
        for answer in self.answers:
            number = seen[answer.user_id]
            seen[answer.user_id] += 1
            if number == len(waves):
                waves.append([])
            waves[number].append(answer)
        for wave in waves:
            parameters: list[Any] = [list(column) for column in zip(*(answer.values for answer in wave), strict=True)]
            parameters.insert(_SHARD_AT, shard(db))
            call = _Call(db.execute(_CALL, parameters))
            for index, answer in enumerate(wave):
                answer.call, answer.index = call, index
            for answer in wave:  # before the next wave: a member's progress as it is after this answer
                if answer.follow_up is not None:
                    answer.progress = send_progress(db, answer.follow_up)


def send_answer(
    db: Connection, answer: NewAnswer, rules: PointRules, now: datetime, follow_up: ProgressQuery | None
) -> Callable[[], AnswerResult]:
    """Hold ``answer`` (and the read of ``follow_up``'s progress) for the caller's transaction; what it
    returns reads them, sending what the transaction holds first."""
    pg = cast("PgConnection", db)
    local = local_time(now, rules)
    today = local.date()
    award = answer.award
    week = week_key(local)
    # The answer count's badges first, then the streak's: the order the SQLite unit hands them out in.
    badges = [
        (counter, at_least, badge)
        for counter in ("answers", "streak")
        for at_least, badge in rules.thresholds.get(counter, ())
    ]
    feeds = () if award.reason == SPENDING else scopes(award.space_id, award.round_id, week)
    values = (
        answer.round_id,
        answer.task_id,
        answer.user_id,
        answer.value,
        to_text(now),
        answer.space_id,
        answer.quota,
        answer.typed,
        award.space_id,
        award.round_id,
        award.delta,
        award.reason,
        award.detail,
        award.capped,
        to_text(local),
        day_text(today),
        day_text(today - timedelta(days=1)),
        week,
        rules.daily_cap,
        rules.streak_bonus,
        _array(feeds),
        _array(badge for _, _, badge in badges),
        _array(counter for counter, _, _ in badges),
        _array(str(at_least) for _, at_least, _ in badges),
    )
    # A task without a quota: nothing in the transaction decides on its count (a progress read uses the
    # counts of quota tasks only), so the group commit writes it once (migration 0024); the function
    # counts a quota task's answers itself, in turn.
    counted = (answer.round_id, answer.task_id) if answer.quota is None else None
    held = _HeldAnswer(values, answer.user_id, follow_up, counted)
    if not isinstance(pg.held, _HeldAnswers):
        pg.send_held()  # anything else held goes first
        pg.hold(_HeldAnswers())
    assert isinstance(pg.held, _HeldAnswers)
    pg.held.answers.append(held)
    return lambda: _recorded(pg, held)


def _array(items: Iterable[str]) -> str:
    """``items`` as an array literal, which the function casts (``::text[]``, ``::bigint[]``): one text
    per answer in the call's ``text[]`` parameter, where a list would need an array of arrays of one
    length for all."""
    return "{" + ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "}"


def _recorded(db: PgConnection, held: _HeldAnswer) -> AnswerResult:
    """The answer's row as an :class:`AnswerResult`; the count of a task without a quota goes to this
    transaction's :class:`~bot.store.scores.ScoreBook` (one row write per commit)."""
    if held.call is None:
        db.send_held()
    assert held.call is not None
    status, answer_id, paid, streak_days, bonus, capped, scored, points, granted = held.call.row(held.index)
    if status != AnswerStatus.RECORDED:
        return AnswerResult(AnswerStatus(status))
    if held.counted is not None:
        count_answer(db, *held.counted, later=True)
    progress = held.progress.read() if held.progress is not None else None
    scores = PendingScores(db, Rows(list(zip(scored, points, strict=True))) if scored else None, paid)
    payment = Payment(scores, paid, streak_days, bonus, capped)
    awarded = payment.settle([Rows([(badge,) for badge in granted])])
    return AnswerResult(AnswerStatus.RECORDED, int(answer_id), awarded, progress)
