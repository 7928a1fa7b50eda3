"""The answer's unit on PostgreSQL: one call of ``crowdpulse_record_answer`` (migration 0022), one wait.

Sent as fifteen statements, an answer cost the bot process about 0.45 ms of CPU more than on SQLite (each
statement is a Bind/Describe/Execute built and parsed in psycopg) and the server a message exchange per
statement. The function runs those statements inside the server, in the order and under the locks the
SQLite unit (:meth:`bot.store.tasks_sql.TaskQueries.record_answer`) uses; this module sends the call and,
in the same pipeline, the progress read (so an answer and the member's next question cost one round
trip; a batch of answers sharing a transaction sends every call before reading any, see
:func:`bot.store.postgres._together`), then turns the row into the :class:`AnswerResult` the SQLite
unit gives: the histogram moves go into the connection's :class:`~bot.store.scores.ScoreBook` and the
level is decided by :meth:`~bot.store.effects.Payment.settle`, as for every other award.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.point_rules import week_key
from bot.store.database import Connection, Cursor, Rows
from bot.store.dialects import shard
from bot.store.effects import Payment, local_time
from bot.store.progress import SentProgress, send_progress
from bot.store.records import AnswerResult, AnswerStatus, Awarded, NewAnswer, PointRules, ProgressQuery
from bot.store.scores import SPENDING, PendingScores, scopes
from bot.store.timestamps import to_text

_CALL = (
    "SELECT * FROM crowdpulse_record_answer(?::bigint, ?::text, ?::bigint, ?::text, ?::text, ?::bigint,"
    " ?::bigint, ?::boolean, ?::integer, ?::bigint, ?::bigint, ?::bigint, ?::text, ?::text, ?::boolean,"
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
    badges = [rule for rule in rules.badges if rule.counter == "answers"]
    badges += [rule for rule in rules.badges if rule.counter == "streak"]
    feeds = [] if award.reason == SPENDING else scopes(award.space_id, award.round_id, week)
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
            feeds,
            [rule.id for rule in badges],
            [rule.counter for rule in badges],
            [rule.at_least for rule in badges],
        ),
    )
    sent = send_progress(db, follow_up) if follow_up is not None else None  # read with the call's row
    return lambda: _recorded(db, called, sent)


def _recorded(db: Connection, called: Cursor, sent: SentProgress | None) -> AnswerResult:
    status, answer_id, paid, streak_days, bonus, capped, scored, points, granted = called.fetchone()
    if status != AnswerStatus.RECORDED:
        return AnswerResult(AnswerStatus(status))
    progress = sent.read() if sent is not None else None
    scores = PendingScores(db, Rows(list(zip(scored, points, strict=True))) if scored else None, paid)
    payment = Payment(Awarded(paid, streak_days, bonus, capped), scores)
    awarded = payment.settle([Rows([(badge,) for badge in granted])])
    return AnswerResult(AnswerStatus.RECORDED, int(answer_id), awarded, progress)
