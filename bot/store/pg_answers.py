"""The answer's unit on PostgreSQL: one call of ``crowdpulse_record_answer`` (migrations 0022, 0024), one wait.

Sent as fifteen statements, an answer cost the bot process about 0.45 ms of CPU more than on SQLite (each
statement is a Bind/Describe/Execute built and parsed in psycopg) and the server a message exchange per
statement. The function runs those statements inside the server, in the order and under the locks the
SQLite unit (:meth:`bot.store.tasks_sql.TaskQueries.record_answer`) uses; this module sends the call and,
in the same pipeline, the progress read (so an answer and the member's next question cost one round
trip; a batch of answers sharing a transaction sends every call before reading any, see
:func:`bot.store.postgres._together`), then turns the row into the :class:`AnswerResult` the SQLite
unit gives: the histogram moves (and a quota-free task's answer count, migration 0024) go into the
connection's :class:`~bot.store.scores.ScoreBook` and the level is decided by
:meth:`~bot.store.effects.Payment.settle`, as for every other award.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

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
    TaskProgress,
)
from bot.store.scores import SPENDING, PendingScores, book_of, count_answer, scopes
from bot.store.timestamps import to_text

_CALL = (
    "SELECT * FROM crowdpulse_record_answer(?::bigint, ?::text, ?::bigint, ?::text, ?::text, ?::bigint,"
    " ?::bigint, ?::boolean, ?::integer, ?::boolean, ?::bigint, ?::bigint, ?::bigint, ?::text, ?::text, ?::boolean,"
    " ?::text, ?::text, ?::text, ?::text, ?::bigint, ?::bigint, ?::text[], ?::text[], ?::text[], ?::bigint[])"
)


def send_answer(
    db: Connection, answer: NewAnswer, rules: PointRules, now: datetime, follow_up: ProgressQuery | None
) -> Callable[[], AnswerResult]:
    """Send the call recording ``answer`` (and the read of ``follow_up``'s progress) in the caller's
    transaction; what it returns reads them (the first read waits for everything sent so far)."""
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
    # A task without a quota: nothing in the transaction decides on its count (a progress read uses the
    # counts of quota tasks only), so the group commit writes it once (migration 0024). In the function,
    # each answer of a batch would add a version of the writer's count row and walk those before it.
    later = answer.quota is None
    called = db.execute(
        _CALL,
        (
            answer.round_id,
            answer.task_id,
            answer.user_id,
            answer.value,
            to_text(now),
            answer.space_id,
            answer.quota,
            answer.typed,
            shard(db),
            not later,
            award.space_id,
            award.round_id,
            award.delta,
            award.reason,
            award.detail,
            award.capped,
            to_text(local),
            today.isoformat(),
            (today - timedelta(days=1)).isoformat(),
            week,
            rules.daily_cap,
            rules.streak_bonus,
            _array(feeds),
            _array(badge for _, _, badge in badges),
            _array(counter for counter, _, _ in badges),
            _array(str(at_least) for _, at_least, _ in badges),
        ),
    )
    sent = send_progress(db, follow_up) if follow_up is not None else None  # read with the call's row
    counted = (answer.round_id, answer.task_id) if later else None
    return lambda: _recorded(db, called, sent, counted)


def _array(items: Iterable[str]) -> str:
    """``items`` as an array literal, which the call casts (``::text[]``, ``::bigint[]``). A Python list
    costs psycopg a new array dumper per list per call, chosen by scanning the list's element types:
    with the call's four lists, about 5% of the bot process's CPU on the answer path."""
    return "{" + ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "}"


def _recorded(
    db: Connection, called: Cursor, sent: SentProgress | None, counted: tuple[int, str] | None
) -> AnswerResult:
    """The call's row as an :class:`AnswerResult`; ``counted``: the (round, task) whose answer count the
    function left to this transaction's :class:`~bot.store.scores.ScoreBook` (one row write per commit)."""
    status, answer_id, paid, streak_days, bonus, capped, scored, points, granted = called.fetchone()
    if status != AnswerStatus.RECORDED:
        return AnswerResult(AnswerStatus(status))
    if counted is not None:
        count_answer(db, *counted, later=True)
    progress = _with_waiting_counts(db, sent.read()) if sent is not None else None
    scores = PendingScores(db, Rows(list(zip(scored, points, strict=True))) if scored else None, paid)
    payment = Payment(scores, paid, streak_days, bonus, capped)
    awarded = payment.settle([Rows([(badge,) for badge in granted])])
    return AnswerResult(AnswerStatus.RECORDED, int(answer_id), awarded, progress)


def _with_waiting_counts(db: Connection, progress: TaskProgress) -> TaskProgress:
    """``progress`` as a read after COMMIT would give it: with the answer counts that wait in the
    transaction's book (this answer's and those of the batch before it), as the SQLite unit counts them."""
    book = book_of(db)
    if book is None:
        return progress
    for (round_id, task_id), waiting in book.waiting_counts().items():
        if round_id in progress.counts:
            tasks = progress.counts[round_id]
            tasks[task_id] = tasks.get(task_id, 0) + waiting
    return progress
