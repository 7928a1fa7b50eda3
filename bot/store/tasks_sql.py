"""SQL for tasks: a member's progress through the open rounds, answers and skips, pending free-text inputs.

Recording an answer is the hottest unit of all; see :meth:`TaskQueries.record_answer` for how it stays
correct at READ COMMITTED on PostgreSQL, where :mod:`bot.store.pg_answers` sends a group commit's answers
together, as one call of a server-side function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from bot.point_rules import week_key
from bot.store import pg_answers
from bot.store.database import Connection, Cursor, Database, Rows
from bot.store.dialects import for_share, read_committed
from bot.store.effects import MEMBER_DAY, MemberDay, Waiting, after_answer, count_up, local_time, pay
from bot.store.member_rows import DefersMemberRows, gate_columns, gate_parameters, held_badges, member_rows
from bot.store.progress import (
    PROGRESS_KINDS,
    PROGRESS_WIDTH,
    progress_of,
    progress_parameters,
    progress_statement,
    read_progress,
    with_answer,
)
from bot.store.records import (
    AnswerResult,
    AnswerStatus,
    NewAnswer,
    PointRules,
    ProgressQuery,
    SkipStatus,
    TaskProgress,
)
from bot.store.scores import count_answer, scopes
from bot.store.timestamps import to_text


class TaskQueries:
    """Answers, progress and pending inputs over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # answers ------------------------------------------------------------------------------------

    async def progress(self, query: ProgressQuery) -> TaskProgress:
        """Everything choosing the user's next task needs, read in one snapshot."""
        return await self.store.read(lambda db: read_progress(db, query))

    async def record_answer(
        self, answer: NewAnswer, rules: PointRules, now: datetime, follow_up: ProgressQuery | None = None
    ) -> AnswerResult:
        """Record one answer and its award in one transaction; a duplicate changes nothing.

        With ``follow_up``, a recorded answer also brings back the member's progress, read in the same
        transaction, so that choosing the next question costs no further trip to the database.

        The hottest unit, so on PostgreSQL it runs at READ COMMITTED with explicit locks instead of
        SERIALIZABLE: the round's row is share-locked (closing it waits for answers in flight, and an
        answer after the close sees it closed), a task with a quota takes turns, the award locks the
        member, and every count is an atomic upsert or guarded by a UNIQUE constraint. There the answers
        of a group commit go out together, in one call of a server-side function (migration 0025,
        :mod:`bot.store.pg_answers`): sent as statements an answer cost the bot process more CPU than the
        rows it wrote, and called once per answer, the server more CPU than the bot process.
        """

        def on_server(db: Connection) -> Callable[[], AnswerResult]:
            return pg_answers.send_answer(db, answer, rules, now, follow_up)

        def unit(db: Connection) -> AnswerResult:
            # SQLite (one writer, in process): each result is there at once, so each check comes before
            # the next write and nothing is undone; the member's day is read with the round, and in the
            # group commit also their answer count and scores, whose upserts then wait (member_rows).
            local = local_time(now, rules)
            day = MemberDay.parameters(answer.user_id, local.date())
            rows = member_rows(db)
            feeds = None
            if rows is not None:
                rows.settle(db, answer.user_id)
                feeds = scopes(answer.award.space_id, answer.award.round_id, week_key(local))
            gated: list[Any] = _send_gate(db, answer.round_id, answer.user_id, day, feeds, follow_up).fetchall()
            status: Any = gated[0] if gated and gated[0][0] not in PROGRESS_KINDS else None
            if (refusal := _shut(status)) is not None:
                return refusal
            if answer.quota is not None:
                counted = db.execute(
                    "SELECT SUM(answers) FROM task_counts WHERE round_id = ? AND task_id = ?",
                    (answer.round_id, answer.task_id),
                ).fetchone()[0]
                if counted is not None and counted >= answer.quota:
                    return AnswerResult(AnswerStatus.QUOTA_FULL)
            if answer.typed:
                mine = (answer.user_id, answer.round_id, answer.task_id)
                db.execute("DELETE FROM pending_inputs WHERE user_id = ? AND round_id = ? AND task_id = ?", mine)
            created = to_text(local)  # ``local`` for every timestamp: to_text keeps the last one's text (see there)
            row: Any = db.execute(
                "INSERT INTO answers (round_id, task_id, user_id, value, created_at, space_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (answer.round_id, answer.task_id, answer.user_id, answer.value, created, answer.space_id),
            ).fetchone()
            if row is None:
                return AnswerResult(AnswerStatus.ALREADY_ANSWERED)
            count_answer(db, answer.round_id, answer.task_id, later=answer.quota is None)  # see count_answer
            waiting = None
            if rows is None:
                counted_answers: Cursor = count_up(db, answer.user_id, "answers")
            else:
                rows.count(answer.user_id, "answers", 1)
                counted_answers = Rows([(int(status[6] or 0) + 1,)])
                scores = [int(points or 0) for points in status[8:]]
                waiting = Waiting(rows, feeds or (), scores, held_badges(status[7]))
            progress = None
            if follow_up is not None:  # read with the gate in the group commit (see _send_gate), else now
                progress = (
                    with_answer(
                        progress_of(follow_up, gated[1:]), follow_up, answer.round_id, answer.task_id, answer.value
                    )
                    if feeds is not None
                    else read_progress(db, follow_up)
                )
            answer_id = int(row[0])
            award = answer.award.keyed(f"answer:{answer_id}")
            payment = pay(db, award, rules, local, MemberDay.of(status[3:6]), fresh=True, waiting=waiting)
            awarded = after_answer(db, answer.user_id, payment, rules, local, counted_answers, waiting)  # badges, level
            return AnswerResult(AnswerStatus.RECORDED, answer_id, awarded, progress)

        return await self.store.write(DefersMemberRows(unit, sent=on_server))

    async def skip(
        self, round_id: int, task_id: str, user_id: int, now: datetime, space_id: int | None = None
    ) -> SkipStatus:
        """Record that the member passed on a task: no answer, no points, and not asked again this round.

        Idempotent: the UNIQUE constraint keeps one skip per member per task per round, so a double tap
        or a redelivered update gives ``ALREADY_SKIPPED``. A task already answered is not skipped; an
        answer after a skip is still taken (results then count the answer, not the skip). The round is
        share-locked as for an answer, and a free-text question skipped no longer takes the next text.
        """

        @read_committed
        def unit(db: Connection) -> SkipStatus:
            status = round_gate(db, round_id, user_id)
            if status is None or status[0] != "open":
                return SkipStatus.ROUND_CLOSED
            if status[2]:
                return SkipStatus.BANNED
            mine = (round_id, user_id, task_id)
            if db.execute("SELECT 1 FROM answers WHERE round_id = ? AND user_id = ? AND task_id = ?", mine).fetchone():
                return SkipStatus.ALREADY_ANSWERED
            db.execute("DELETE FROM pending_inputs WHERE round_id = ? AND user_id = ? AND task_id = ?", mine)
            inserted = db.execute(
                "INSERT INTO skips (round_id, user_id, task_id, created_at, space_id) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (*mine, to_text(now), space_id),
            ).rowcount
            return SkipStatus.SKIPPED if inserted else SkipStatus.ALREADY_SKIPPED

        return await self.store.write(unit)

    # free-text inputs ---------------------------------------------------------------------------

    async def expect_input(
        self, user_id: int, space_id: int, action: str, round_id: int, task_id: str, now: datetime
    ) -> None:
        """Remember that the user's next plain text here answers ``task_id`` (via ``action``)."""
        await self.store.write(
            lambda db: db.execute(
                "INSERT INTO pending_inputs (user_id, space_id, action, round_id, task_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, space_id) DO UPDATE SET action = excluded.action,"
                " round_id = excluded.round_id, task_id = excluded.task_id, created_at = excluded.created_at",
                (user_id, space_id, action, round_id, task_id, to_text(now)),
            )
        )

    async def expected_input(self, user_id: int, space_id: int, *, or_elsewhere: bool = False) -> str | None:
        """The token the user's next plain text here answers.

        ``or_elsewhere`` (a private chat, where any text is meant for the bot): failing one awaited here,
        the one awaited most recently in any space, since a group sends a member's questions to them.
        """
        sql = "SELECT action FROM pending_inputs WHERE user_id = ? AND space_id = ?"
        if or_elsewhere:
            sql = (
                "SELECT action FROM pending_inputs WHERE user_id = ?"
                " ORDER BY CASE WHEN space_id = ? THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
            )
        value = await self.store.fetchval(sql, (user_id, space_id))
        return str(value) if value is not None else None


def round_gate(db: Connection, round_id: int, user_id: int) -> Any:
    """The round's (status, space id, member banned there), its row share-locked until the unit commits:
    closing the round waits for the unit, and a unit after the close sees it closed."""
    return _send_gate(db, round_id, user_id).fetchone()


def _send_gate(
    db: Connection,
    round_id: int,
    user_id: int,
    member_day: tuple[Any, ...] = (),
    feeds: Sequence[str] | None = None,
    follow_up: ProgressQuery | None = None,
) -> Cursor:
    """:func:`round_gate`'s statement, sent; with ``member_day`` (:meth:`MemberDay.parameters`) the row
    also holds the member's day (:data:`bot.store.effects.MEMBER_DAY`), and with ``feeds`` (SQLite's
    group commit) then their answer count and their score in each scope of ``feeds``
    (:func:`bot.store.member_rows.gate_columns`), followed by the rows of ``follow_up``'s progress (one
    statement fewer per answer: the unit adds its own answer to them, :func:`~bot.store.progress.with_answer`).
    The round's row comes first, when there is one: a progress row's first column is one of
    :data:`~bot.store.progress.PROGRESS_KINDS`, a round's status never is."""
    if feeds is not None:
        parameters = [user_id, *member_day, *gate_parameters(user_id, feeds), round_id]
        if follow_up is None:
            return db.execute(_gate_with_rows(len(feeds)), parameters)
        sql = _gate_with_progress(len(feeds), progress_statement(follow_up))
        return db.execute(sql, parameters + progress_parameters(follow_up))
    sql = _GATE_WITH_DAY if member_day else _GATE
    return db.execute(for_share(db, sql), (user_id, *member_day, round_id))


_GATE_COLUMNS = (
    "status, space_id, EXISTS (SELECT 1 FROM bans WHERE bans.space_id = rounds.space_id AND bans.user_id = ?)"
)
_GATE = f"SELECT {_GATE_COLUMNS} FROM rounds WHERE id = ?"  # noqa: S608 - constant text, no input
_GATE_WITH_DAY = f"SELECT {_GATE_COLUMNS}, {MEMBER_DAY} FROM rounds WHERE id = ?"  # noqa: S608 - as above


_GATE_WIDTH = 8  # the gate's columns in the group commit, before the scores (see _gate_with_rows)


@cache
def _gate_with_rows(scopes: int) -> str:
    """The gate reading the member's day, answer count and score in ``scopes`` scopes (built once)."""
    return f"SELECT {_GATE_COLUMNS}, {MEMBER_DAY}, {gate_columns(scopes)} FROM rounds WHERE id = ?"  # noqa: S608


@cache
def _gate_with_progress(scopes: int, progress: str) -> str:
    """:func:`_gate_with_rows` and then the ``progress`` statement's rows, padded to the gate's width."""
    padding = ", NULL" * (_GATE_WIDTH + scopes - PROGRESS_WIDTH)
    return f"{_gate_with_rows(scopes)} UNION ALL SELECT *{padding} FROM ({progress})"  # noqa: S608 - as above


def _shut(status: Any) -> AnswerResult | None:
    """The refusal a round's gate row says (closed, or the member banned there), if any."""
    if status is None or status[0] != "open":
        return AnswerResult(AnswerStatus.ROUND_CLOSED)
    return AnswerResult(AnswerStatus.BANNED) if status[2] else None
