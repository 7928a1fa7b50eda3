"""What every store shares: the domain methods, written once over four primitives.

A store (:class:`~bot.store.sqlite.SqliteStore`, :class:`~bot.store.postgres.PostgresStore`) provides
``write(unit)``, ``read(unit)`` and ``fetchall(sql, params)``; everything else here is built on them, so
both databases run the very same units and the very same SQL. A *unit* is a plain function over a
connection that looks like ``sqlite3.Connection`` (``execute(sql, params)`` with ``?`` placeholders, rows
indexable by position and by column name); PostgreSQL gets such a connection from
:mod:`bot.store.postgres`. Where the dialects truly differ a unit asks :func:`dialect`.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Self, TypeVar

from bot.store.dialects import dialect, for_share, has_table, read_committed, shard, take_turns
from bot.store.outbox_sql import audit
from bot.store.records import (
    AnswerResult,
    AnswerStatus,
    Award,
    Awarded,
    LedgerEntry,
    NewAnswer,
    PointRules,
    ProgressQuery,
    RoundRecord,
    Standing,
    TaskProgress,
)
from bot.store.rewards_sql import after_answer
from bot.store.scoring import apply_award
from bot.store.timestamps import from_text, to_text

__all__ = ["Store", "StoreUnavailableError", "Unit", "dialect", "has_table", "read_committed"]

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], T]


class StoreUnavailableError(Exception):
    """The database refused a write (disk full, read-only file, locked beyond the busy timeout, server gone)."""


class Store(ABC):
    """The domain methods of a store, over ``write``, ``read`` and ``fetchall`` supplied by the subclass."""

    dialect = "sqlite"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations. Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Finish what is under way, then disconnect. Idempotent."""

    @abstractmethod
    async def write(self, unit: Unit[T]) -> T:
        """Run a write unit in its own transaction; return its result once it is durable."""

    @abstractmethod
    async def read(self, unit: Unit[T]) -> T:
        """Run a read unit over one consistent snapshot."""

    @abstractmethod
    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """One query's rows."""

    async def fetchone(self, sql: str, parameters: Iterable[Any] = ()) -> Any:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, parameters: Iterable[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, parameters)
        return default if row is None or row[0] is None else row[0]

    async def has_table(self, name: str) -> bool:
        return await self.read(lambda db: has_table(db, name))

    # identities ---------------------------------------------------------------------------------

    async def ensure_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None, now: datetime
    ) -> int:
        """The user's id, creating the user or refreshing name and language as needed.

        A known user with nothing to refresh costs one read: no write, no turn in the writer's queue, and
        no update that would make other processes' transactions on this row start again.
        """
        known = await self.fetchone(
            "SELECT id, display_name, language FROM users WHERE platform = ? AND platform_user_id = ?",
            (platform, platform_user_id),
        )
        if known is not None and (known[1], known[2]) == (display_name, language):
            return int(known[0])

        def unit(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO users (platform, platform_user_id, display_name, language, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, platform_user_id) DO UPDATE"
                " SET display_name = excluded.display_name, language = excluded.language RETURNING id",
                (platform, platform_user_id, display_name, language, to_text(now)),
            ).fetchone()
            return int(row[0])

        return await self.write(unit)

    async def ensure_space(self, platform: str, external_id: str, title: str, is_private: bool) -> int:
        """The space's id, creating it or refreshing its title as needed (one read when nothing changed)."""
        known = await self.fetchone(
            "SELECT id, title FROM spaces WHERE platform = ? AND external_id = ?", (platform, external_id)
        )
        if known is not None and known[1] == title:
            return int(known[0])

        def unit(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO spaces (platform, external_id, title, is_private) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, external_id) DO UPDATE SET title = excluded.title RETURNING id",
                (platform, external_id, title, int(is_private)),
            ).fetchone()
            return int(row[0])

        return await self.write(unit)

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """A per-instance secret, created once and shared by every process on this database."""

        def unit(db: sqlite3.Connection) -> bytes:
            db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, make()))
            return bytes(db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])

        return await self.write(unit)

    async def meta_value(self, name: str) -> bytes | None:
        """What the instance remembered under ``name`` in ``meta`` (see :meth:`set_meta_value`), or ``None``.

        For small facts about the deployment that every process on this database should share, such
        as which slash commands a platform was last given; not for domain data.
        """
        value = await self.fetchval("SELECT value FROM meta WHERE name = ?", (name,))
        return None if value is None else bytes(value)

    async def set_meta_value(self, name: str, value: bytes) -> None:
        """Remember ``value`` under ``name`` in ``meta``, replacing what was there (one portable upsert).

        Last writer wins, which suits facts that any process may refresh; :meth:`secret` is the
        first-writer-wins variant for values that must never change once created.
        """
        await self.write(
            lambda db: db.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
        )

    async def find_user(self, platform: str, platform_user_id: str) -> int | None:
        value = await self.fetchval(
            "SELECT id FROM users WHERE platform = ? AND platform_user_id = ?", (platform, platform_user_id)
        )
        return int(value) if value is not None else None

    async def user_name(self, user_id: int) -> str:
        return str(await self.fetchval("SELECT display_name FROM users WHERE id = ?", (user_id,), ""))

    # moderation ---------------------------------------------------------------------------------

    async def set_ban(self, space_id: int, user_id: int, moderator_id: int, banned: bool, now: datetime) -> bool:
        """Ban or unban, audited in the same transaction; ``False`` when nothing changed."""

        def unit(db: sqlite3.Connection) -> bool:
            if banned:
                cursor = db.execute(
                    "INSERT INTO bans (space_id, user_id, banned_by, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (space_id, user_id, moderator_id, to_text(now)),
                )
            else:
                cursor = db.execute("DELETE FROM bans WHERE space_id = ? AND user_id = ?", (space_id, user_id))
            if cursor.rowcount:
                audit(
                    db,
                    space_id=space_id,
                    moderator_id=moderator_id,
                    action="ban" if banned else "unban",
                    target=str(user_id),
                    now=now,
                )
            return cursor.rowcount == 1

        return await self.write(unit)

    async def is_banned(self, space_id: int, user_id: int) -> bool:
        return (
            await self.fetchone("SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (space_id, user_id))
            is not None
        )

    async def audit_entries(self, space_id: int, limit: int) -> list[dict[str, Any]]:
        rows = await self.fetchall(
            "SELECT a.created_at, u.display_name AS moderator, a.action, a.target, a.detail FROM audit a"
            " LEFT JOIN users u ON u.id = a.moderator_id WHERE a.space_id = ? ORDER BY a.id DESC LIMIT ?",
            (space_id, limit),
        )
        return [dict(row) for row in rows]

    # rounds -------------------------------------------------------------------------------------

    async def open_rounds(self, space_id: int, kind: str) -> list[RoundRecord]:
        rows = await self.fetchall(
            "SELECT * FROM rounds WHERE space_id = ? AND kind = ? AND status = 'open' ORDER BY id",
            (space_id, kind),
        )
        return [_round(row) for row in rows]

    async def round(self, round_id: int) -> RoundRecord | None:
        row = await self.fetchone("SELECT * FROM rounds WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def open_round(
        self,
        space_id: int,
        kind: str,
        subject: str,
        opened_by: int | None,
        closes_at: datetime | None,
        now: datetime,
    ) -> tuple[RoundRecord, bool]:
        """Open a round, or return the one already open on this subject; the flag says which."""

        def unit(db: sqlite3.Connection) -> tuple[RoundRecord, bool]:
            cursor = db.execute(
                "INSERT INTO rounds (space_id, kind, subject, opened_by, opened_at, closes_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (space_id, subject) WHERE status = 'open' DO NOTHING",
                (space_id, kind, subject, opened_by, to_text(now), to_text(closes_at) if closes_at else None),
            )
            created = cursor.rowcount == 1
            row = db.execute(
                "SELECT * FROM rounds WHERE space_id = ? AND subject = ? AND status = 'open'",
                (space_id, subject),
            ).fetchone()
            return _round(row), created

        return await self.write(unit)

    async def close_round(self, round_id: int, now: datetime) -> bool:
        """Close an open round; ``True`` only for the one call that closed it."""

        def unit(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE rounds SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
                (to_text(now), round_id),
            )
            return cursor.rowcount == 1

        return await self.write(unit)

    # answers ------------------------------------------------------------------------------------

    async def task_progress(self, query: ProgressQuery) -> TaskProgress:
        """Everything choosing the user's next task needs, read in one snapshot."""
        return await self.read(lambda db: _progress(db, query))

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
        def unit(db: sqlite3.Connection) -> AnswerResult:
            status = db.execute(
                for_share(
                    db,
                    "SELECT status, space_id, EXISTS (SELECT 1 FROM bans WHERE bans.space_id = rounds.space_id"
                    " AND bans.user_id = ?) FROM rounds WHERE id = ?",
                ),
                (answer.user_id, answer.round_id),
            ).fetchone()
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
                "INSERT INTO answers (round_id, task_id, user_id, value, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (answer.round_id, answer.task_id, answer.user_id, answer.value, to_text(now)),
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

        return await self.write(unit)

    # points -------------------------------------------------------------------------------------

    async def award(self, award: Award, rules: PointRules, now: datetime) -> Awarded:
        """Apply one award; an award whose source_key was used before gives ``Awarded(0)``."""
        return await self.write(lambda db: apply_award(db, award, rules, now))

    async def balance(self, user_id: int) -> int:
        return int(await self.fetchval("SELECT SUM(delta) FROM ledger WHERE user_id = ?", (user_id,), 0))

    async def ledger_entries(self, user_id: int, limit: int) -> list[LedgerEntry]:
        rows = await self.fetchall(
            "SELECT delta, reason, detail, created_at FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [LedgerEntry(row[0], row[1], row[2], datetime.fromisoformat(row[3])) for row in rows]

    async def top(self, scope: str, limit: int) -> list[Standing]:
        rows = await self.fetchall(
            "SELECT s.user_id, u.display_name, s.points FROM scores s JOIN users u ON u.id = s.user_id"
            " WHERE s.scope = ? AND s.points > 0 ORDER BY s.points DESC, s.user_id LIMIT ?",
            (scope, limit),
        )
        standings: list[Standing] = []
        for position, row in enumerate(rows):
            tied = standings and standings[-1].points == row[2]
            rank = standings[-1].rank if tied else position + 1
            standings.append(Standing(row[0], row[1], row[2], rank))
        return standings

    async def standing(self, scope: str, user_id: int) -> Standing | None:
        """The user's points and rank in ``scope``: 1 + the users with strictly more points."""
        row = await self.fetchone(
            "SELECT s.points, u.display_name FROM scores s JOIN users u ON u.id = s.user_id"
            " WHERE s.scope = ? AND s.user_id = ?",
            (scope, user_id),
        )
        if row is None or row[0] <= 0:
            return None
        above = await self.fetchval(
            "SELECT SUM(users) FROM score_counts WHERE scope = ? AND points > ?", (scope, row[0]), 0
        )
        return Standing(user_id, row[1], int(row[0]), int(above) + 1)

    # free-text inputs ---------------------------------------------------------------------------

    async def expect_input(
        self, user_id: int, space_id: int, action: str, round_id: int, task_id: str, now: datetime
    ) -> None:
        """Remember that the user's next plain text here answers ``task_id`` (via ``action``)."""
        await self.write(
            lambda db: db.execute(
                "INSERT INTO pending_inputs (user_id, space_id, action, round_id, task_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, space_id) DO UPDATE SET action = excluded.action,"
                " round_id = excluded.round_id, task_id = excluded.task_id, created_at = excluded.created_at",
                (user_id, space_id, action, round_id, task_id, to_text(now)),
            )
        )

    async def expected_input(self, user_id: int, space_id: int) -> str | None:
        value = await self.fetchval(
            "SELECT action FROM pending_inputs WHERE user_id = ? AND space_id = ?", (user_id, space_id)
        )
        return str(value) if value is not None else None


def _progress(db: sqlite3.Connection, query: ProgressQuery, unbanned_in: int | None = None) -> TaskProgress:
    """The member's progress; ``unbanned_in``: a space the caller's transaction found them not banned in."""
    banned = query.space_id != unbanned_in and (
        db.execute("SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (query.space_id, query.user_id)).fetchone()
        is not None
    )
    answered = {
        round_id: {
            row[0]
            for row in db.execute(
                "SELECT task_id FROM answers WHERE round_id = ? AND user_id = ?", (round_id, query.user_id)
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
    return TaskProgress(banned, answered, counts, profile)


def _round(row: Any) -> RoundRecord:
    return RoundRecord(
        id=row["id"],
        space_id=row["space_id"],
        kind=row["kind"],
        subject=row["subject"],
        status=row["status"],
        opened_at=datetime.fromisoformat(row["opened_at"]),
        closes_at=from_text(row["closes_at"]),
        closed_at=from_text(row["closed_at"]),
    )
