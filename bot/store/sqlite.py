"""The embedded store: one SQLite file in WAL mode.

Writes have one owner. Every write is a *unit of work*: a plain function over a ``sqlite3.Connection``
that runs on the writer's own thread. The writer takes every unit that is waiting, runs each inside its
own SAVEPOINT (a unit that fails rolls back alone), commits them with one COMMIT, and only then resolves
their futures — group commit. An answer is acknowledged only after the commit that holds it, so a crash
loses nothing that was acknowledged, and one fsync serves hundreds of answers. No two coroutines can
share a half-done transaction, the trap of sharing one aiosqlite connection for writes.

Reads take two forms, both beside the writer (WAL lets them run while it commits): one-statement
queries through aiosqlite (:meth:`SqliteStore.fetchall` and friends), and *read units* (:meth:`read`)
for the hot paths that need several queries: a plain function over a ``sqlite3.Connection`` run on a
reader thread, so a use case costs one thread hop instead of one per statement.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.store import migrations
from bot.store.outbox_sql import audit
from bot.store.records import (
    AnswerResult,
    AnswerStatus,
    Award,
    Awarded,
    LedgerEntry,
    NewAnswer,
    PointRules,
    RoundRecord,
    Standing,
    TaskProgress,
)
from bot.store.rewards_sql import after_answer
from bot.store.scoring import apply_award
from bot.store.timestamps import from_text, to_text

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], T]


class StoreUnavailableError(Exception):
    """The database refused a write (disk full, read-only file, locked beyond the busy timeout)."""


@dataclass(slots=True)
class _Pending:
    unit: Unit[Any]
    future: asyncio.Future[Any]


class SqliteStore:
    """SQLite behind the store interface; use as ``async with SqliteStore(path) as store``."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 512,
    ) -> None:
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdpulse-writer")
        self._read_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crowdpulse-reader")
        self._read_local = threading.local()
        self._read_connections: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self.commits = 0

    # lifetime -----------------------------------------------------------------------------------

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, apply pending migrations, start the writer. Idempotent."""
        if self._writer_task is not None:
            return
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(self._executor, self._connect_writer)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        self._reader.row_factory = sqlite3.Row
        await self._reader.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await self._reader.execute("PRAGMA query_only = ON")
        self._writer_task = asyncio.create_task(self._write_loop(), name="crowdpulse-sqlite-writer")

    async def close(self) -> None:
        """Finish every queued write, then close. Idempotent."""
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._writer is not None:
            writer = self._writer
            self._writer = None
            await asyncio.get_running_loop().run_in_executor(self._executor, writer.close)
        self._executor.shutdown(wait=True)
        self._read_executor.shutdown(wait=True)
        for connection in self._read_connections:
            connection.close()
        self._read_connections.clear()

    def _connect_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        db.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
        return db

    # the writer ---------------------------------------------------------------------------------

    async def write(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next group commit; return its result once it is durable.

        Raises:
            StoreUnavailableError: the commit failed (disk full, read-only database, …).
            Exception: whatever ``unit`` raised; its changes were rolled back, others' were not.
        """
        if self._writer_task is None:
            raise RuntimeError("the store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(unit, future))
        return await future

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            outcomes = await loop.run_in_executor(self._executor, self._run_batch, [p.unit for p in batch])
            self.commits += 1
            for pending, (ok, value) in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _run_batch(self, units: Sequence[Unit[Any]]) -> list[tuple[bool, Any]]:
        db = self._writer
        assert db is not None
        outcomes: list[tuple[bool, Any]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            return [(False, _unavailable(error))] * len(units)
        for unit in units:
            db.execute("SAVEPOINT unit")
            try:
                outcomes.append((True, unit(db)))
                db.execute("RELEASE unit")
            except Exception as error:
                db.execute("ROLLBACK TO unit")
                db.execute("RELEASE unit")
                outcomes.append((False, _unavailable(error) if _is_storage_fault(error) else error))
        try:
            db.execute("COMMIT")
        except sqlite3.Error as error:
            db.execute("ROLLBACK")
            return [(False, _unavailable(error))] * len(units)
        return outcomes

    # reads --------------------------------------------------------------------------------------

    async def read(self, unit: Unit[T]) -> T:
        """Run a read unit (several queries, one consistent snapshot) on a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._read_executor, self._run_read, unit)

    def _run_read(self, unit: Unit[T]) -> T:
        db: sqlite3.Connection | None = getattr(self._read_local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA query_only = ON")
            self._read_local.db = db
            self._read_connections.append(db)
        db.execute("BEGIN")
        try:
            return unit(db)
        finally:
            db.execute("COMMIT")

    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "the store is not open"
        return list(await self._reader.execute_fetchall(sql, tuple(parameters)))

    async def fetchone(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, parameters: Iterable[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, parameters)
        return default if row is None or row[0] is None else row[0]

    # identities ---------------------------------------------------------------------------------

    async def ensure_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None, now: datetime
    ) -> int:
        """The user's id, creating the user or refreshing name and language as needed."""

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

    async def task_progress(
        self,
        space_id: int,
        user_id: int,
        round_ids: Sequence[int],
        count_round_ids: Sequence[int],
        condition_task_ids: Iterable[str],
    ) -> TaskProgress:
        """Everything choosing the user's next task needs, read in one snapshot."""
        conditions = sorted(set(condition_task_ids))

        def unit(db: sqlite3.Connection) -> TaskProgress:
            banned = (
                db.execute("SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (space_id, user_id)).fetchone()
                is not None
            )
            answered: dict[int, set[str]] = {round_id: set() for round_id in round_ids}
            for round_id in round_ids:
                answered[round_id] = {
                    row[0]
                    for row in db.execute(
                        "SELECT task_id FROM answers WHERE round_id = ? AND user_id = ?", (round_id, user_id)
                    )
                }
            counts = {
                round_id: {
                    row[0]: int(row[1])
                    for row in db.execute("SELECT task_id, answers FROM task_counts WHERE round_id = ?", (round_id,))
                }
                for round_id in count_round_ids
            }
            profile: dict[str, str] = {}
            if conditions:
                marks = ",".join("?" * len(conditions))
                profile = {
                    row[0]: row[1]
                    for row in db.execute(
                        f"SELECT task_id, value FROM answers WHERE user_id = ? AND task_id IN ({marks})"  # noqa: S608
                        " ORDER BY id",
                        (user_id, *conditions),
                    )
                }
            return TaskProgress(banned, answered, counts, profile)

        return await self.read(unit)

    async def record_answer(self, answer: NewAnswer, rules: PointRules, now: datetime) -> AnswerResult:
        """Record one answer and its award in one transaction; a duplicate changes nothing."""

        def unit(db: sqlite3.Connection) -> AnswerResult:
            status = db.execute("SELECT status, space_id FROM rounds WHERE id = ?", (answer.round_id,)).fetchone()
            if status is None or status[0] != "open":
                return AnswerResult(AnswerStatus.ROUND_CLOSED)
            if db.execute(
                "SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (status[1], answer.user_id)
            ).fetchone():
                return AnswerResult(AnswerStatus.BANNED)
            if answer.quota is not None:
                counted = db.execute(
                    "SELECT answers FROM task_counts WHERE round_id = ? AND task_id = ?",
                    (answer.round_id, answer.task_id),
                ).fetchone()
                if counted is not None and counted[0] >= answer.quota:
                    return AnswerResult(AnswerStatus.QUOTA_FULL)
            db.execute(
                "DELETE FROM pending_inputs WHERE user_id = ? AND round_id = ? AND task_id = ?",
                (answer.user_id, answer.round_id, answer.task_id),
            )
            cursor = db.execute(
                "INSERT INTO answers (round_id, task_id, user_id, value, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (answer.round_id, answer.task_id, answer.user_id, answer.value, to_text(now)),
            )
            if cursor.rowcount == 0:
                return AnswerResult(AnswerStatus.ALREADY_ANSWERED)
            answer_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO task_counts (round_id, task_id, answers) VALUES (?, ?, 1)"
                " ON CONFLICT DO UPDATE SET answers = answers + 1",
                (answer.round_id, answer.task_id),
            )
            award = replace(answer.award, source_key=f"answer:{answer_id}")
            awarded = after_answer(db, answer.user_id, apply_award(db, award, rules, now), rules, now)  # badges
            return AnswerResult(AnswerStatus.RECORDED, answer_id, awarded)

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
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET action = excluded.action,"
                " round_id = excluded.round_id, task_id = excluded.task_id, created_at = excluded.created_at",
                (user_id, space_id, action, round_id, task_id, to_text(now)),
            )
        )

    async def expected_input(self, user_id: int, space_id: int) -> str | None:
        value = await self.fetchval(
            "SELECT action FROM pending_inputs WHERE user_id = ? AND space_id = ?", (user_id, space_id)
        )
        return str(value) if value is not None else None


def _round(row: sqlite3.Row) -> RoundRecord:
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


def _is_storage_fault(error: Exception) -> bool:
    return isinstance(error, sqlite3.OperationalError) and any(
        phrase in str(error) for phrase in ("disk", "readonly", "read-only", "locked", "I/O")
    )


def _unavailable(error: Exception) -> StoreUnavailableError:
    log.error(
        "storage write failed: %s (check free disk space and that the database file and its folder are"
        " writable; `crowdpulse doctor` checks both)",
        error,
    )
    failure = StoreUnavailableError(str(error))
    failure.__cause__ = error
    return failure
