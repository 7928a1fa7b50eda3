"""SQL for tasks: a member's progress through the open rounds, answers and skips, pending free-text inputs.

Recording an answer is the hottest unit of all; see :meth:`TaskQueries.record_answer` for how it stays
correct at READ COMMITTED on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.store.database import Connection, Database
from bot.store.dialects import for_share, read_committed, shard, take_turns
from bot.store.effects import after_answer, apply_award
from bot.store.records import (
    AnswerResult,
    AnswerStatus,
    NewAnswer,
    PointRules,
    ProgressQuery,
    SkipStatus,
    TaskProgress,
)
from bot.store.timestamps import to_text


class TaskQueries:
    """Answers, progress and pending inputs over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # answers ------------------------------------------------------------------------------------

    async def progress(self, query: ProgressQuery) -> TaskProgress:
        """Everything choosing the user's next task needs, read in one snapshot."""
        return await self.store.read(lambda db: _progress(db, query))

    async def record_answer(
        self, answer: NewAnswer, rules: PointRules, now: datetime, follow_up: ProgressQuery | None = None
    ) -> AnswerResult:
        """Record one answer and its award in one transaction; a duplicate changes nothing.

        With ``follow_up``, a recorded answer also brings back the member's progress, read in the same
        transaction, so that choosing the next question costs no further trip to the database.

        The hottest unit, so on PostgreSQL it runs at READ COMMITTED with explicit locks instead of
        SERIALIZABLE: the round's row is share-locked (closing it waits for answers in flight, and an
        answer after the close sees it closed), a task with a quota takes turns, the award locks the
        member, and every count is an atomic upsert or guarded by a UNIQUE constraint.
        """

        @read_committed
        def unit(db: Connection) -> AnswerResult:
            status = round_gate(db, answer.round_id, answer.user_id)
            if status is None or status[0] != "open":
                return AnswerResult(AnswerStatus.ROUND_CLOSED)
            if status[2]:
                return AnswerResult(AnswerStatus.BANNED)
            if answer.quota is not None:
                take_turns(db, f"quota:{answer.round_id}:{answer.task_id}")
                counted = db.execute(
                    "SELECT SUM(answers) FROM task_counts WHERE round_id = ? AND task_id = ?",
                    (answer.round_id, answer.task_id),
                ).fetchone()[0]
                if counted is not None and counted >= answer.quota:
                    return AnswerResult(AnswerStatus.QUOTA_FULL)
            db.execute(
                "DELETE FROM pending_inputs WHERE user_id = ? AND round_id = ? AND task_id = ?",
                (answer.user_id, answer.round_id, answer.task_id),
            )
            inserted = db.execute(
                "INSERT INTO answers (round_id, task_id, user_id, value, created_at, space_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (answer.round_id, answer.task_id, answer.user_id, answer.value, to_text(now), answer.space_id),
            ).fetchone()
            if inserted is None:
                return AnswerResult(AnswerStatus.ALREADY_ANSWERED)
            answer_id = int(inserted[0])
            db.execute(
                "INSERT INTO task_counts (round_id, task_id, shard, answers) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (round_id, task_id, shard) DO UPDATE SET answers = task_counts.answers + 1",
                (answer.round_id, answer.task_id, shard(db)),
            )
            award = replace(answer.award, source_key=f"answer:{answer_id}")
            awarded = after_answer(db, answer.user_id, apply_award(db, award, rules, now), rules, now)  # badges
            progress = _progress(db, follow_up, unbanned_in=status[1]) if follow_up is not None else None
            return AnswerResult(AnswerStatus.RECORDED, answer_id, awarded, progress)

        return await self.store.write(unit)

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
    return db.execute(
        for_share(
            db,
            "SELECT status, space_id, EXISTS (SELECT 1 FROM bans WHERE bans.space_id = rounds.space_id"
            " AND bans.user_id = ?) FROM rounds WHERE id = ?",
        ),
        (user_id, round_id),
    ).fetchone()


def _progress(db: Connection, query: ProgressQuery, unbanned_in: int | None = None) -> TaskProgress:
    """The member's progress; ``unbanned_in``: a space the caller's transaction found them not banned in."""
    banned = query.space_id != unbanned_in and (
        db.execute("SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (query.space_id, query.user_id)).fetchone()
        is not None
    )
    done = {
        round_id: {
            row[0]
            for row in db.execute(
                "SELECT task_id FROM answers WHERE round_id = ? AND user_id = ?"
                " UNION SELECT task_id FROM skips WHERE round_id = ? AND user_id = ?",
                (round_id, query.user_id, round_id, query.user_id),
            )
        }
        for round_id in query.round_ids
    }
    counts = {
        round_id: {
            row[0]: int(row[1])
            for row in db.execute(
                "SELECT task_id, SUM(answers) FROM task_counts WHERE round_id = ? GROUP BY task_id", (round_id,)
            )
        }
        for round_id in query.count_round_ids
    }
    profile: dict[str, str] = {}
    if query.condition_task_ids:
        marks = ",".join("?" * len(query.condition_task_ids))
        profile = {
            row[0]: row[1]
            for row in db.execute(
                f"SELECT task_id, value FROM answers WHERE user_id = ? AND task_id IN ({marks})"  # noqa: S608
                " ORDER BY id",
                (query.user_id, *query.condition_task_ids),
            )
        }
    return TaskProgress(banned, done, counts, profile)
