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
reader thread, so a use case costs one thread hop instead of one per statement. One-statement queries
go to aiosqlite connections, each on a thread of its own: members' to one, in the order asked, and a
report's (:mod:`bot.store.reads`) to the least busy of :data:`REPORT_READERS` others (sqlite3 releases the
GIL while a statement runs, so they use both cores).

The queries of every feature (``store.tasks.record_answer``, ``store.points.top``, …) are shared with the
PostgreSQL store: :class:`bot.store.base.Store`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.store import batches, migrations
from bot.store.base import Store
from bot.store.checkpoints import WRITER_CHECKPOINT_PAGES, Checkpointer
from bot.store.database import StoreUnavailableError, Unit, translated
from bot.store.dialects import replayable
from bot.store.member_rows import MemberRows
from bot.store.reads import reporting
from bot.store.scores import ScoreBook

__all__ = ["SqliteStore", "StoreUnavailableError"]

log = logging.getLogger(__name__)

T = TypeVar("T")

REPORT_READERS = 3  # aiosqlite connections for reports' one-statement reads, beside the members' one


class _WriterConnection(sqlite3.Connection):
    """The writer's connection, with the histogram moves and the answers' member rows of the group commit
    it is running."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.score_book = ScoreBook()
        self.member_rows = MemberRows()


@dataclass(slots=True)
class _Pending:
    unit: Unit[Any]
    future: asyncio.Future[Any]


class SqliteStore(Store):
    """SQLite behind the store interface; use as ``async with SqliteStore(path) as store``."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 128,
    ) -> None:
        super().__init__()
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdpulse-writer")
        self._read_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crowdpulse-reader")
        self._read_local = threading.local()
        self._read_connections: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._reading: list[int] = []  # statements in flight on each reader
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self.checkpointer = Checkpointer(path)
        self.commits = 0

    # lifetime -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, apply pending migrations, start the writer. Idempotent."""
        if self._writer_task is not None:
            return
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(self._executor, self._connect_writer)
        self._readers = [await self._connect_reader() for _ in range(1 + REPORT_READERS)]
        self._reading = [0] * len(self._readers)
        self._writer_task = asyncio.create_task(self._write_loop(), name="crowdpulse-sqlite-writer")
        self.checkpointer.start()

    async def close(self) -> None:
        """Finish every queued write, then close. Idempotent."""
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
            await self.checkpointer.stop()
        readers, self._readers = self._readers, []
        for reader in readers:
            await reader.close()
        if self._writer is not None:
            writer = self._writer
            self._writer = None
            await asyncio.get_running_loop().run_in_executor(self._executor, writer.close)
        self._executor.shutdown(wait=True)
        self._read_executor.shutdown(wait=True)
        for connection in self._read_connections:
            connection.close()
        self._read_connections.clear()

    async def _connect_reader(self) -> aiosqlite.Connection:
        reader = await aiosqlite.connect(self.path, isolation_level=None)
        reader.row_factory = sqlite3.Row
        await reader.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await reader.execute("PRAGMA query_only = ON")
        return reader

    def _connect_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, factory=_WriterConnection)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        _enter_wal(db, self._busy_timeout_ms / 1000)
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        db.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")  # the Checkpointer copies the log
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
        self._queue.put_nowait(_Pending(unit, future))  # the queue has no bound: no coroutine to await
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
            self.checkpointer.committed()
            for pending, (ok, value) in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _run_batch(self, units: Sequence[Unit[Any]]) -> list[tuple[bool, Any]]:
        """Every unit, then the answers' member rows and the batch's netted leaderboard histogram, then one
        COMMIT.

        The units first run one after the other in one transaction. Should one raise, that transaction
        is rolled back and the batch runs again with each unit in a SAVEPOINT of its own, so the failed
        unit is rolled back alone: two statements per unit saved in the usual case, for a second run of
        the batch in the rare one (units are re-runnable, as PostgreSQL's retries need; a batch holding
        one that is not, :func:`~bot.store.dialects.runs_once`, runs with savepoints from the start).
        Run apart, the units write their member rows at once (:mod:`bot.store.member_rows`).
        """
        db = self._writer
        assert isinstance(db, _WriterConnection)
        failure = _begin(db)
        outcomes = None
        if failure is None and all(replayable(unit) for unit in units):
            try:
                outcomes = batches.together(db, units, db.member_rows.before)
            except batches.UnitRaised:  # the batch again, each unit apart
                _roll_back(db)
                failure = _begin(db)
        if failure is None and outcomes is None:
            db.member_rows.active = False
            try:
                outcomes = batches.apart(db, units, db.score_book, _kept)
            finally:
                db.member_rows.active = True
        if failure is None:
            try:
                db.member_rows.flush(db)
                db.score_book.flush(db)
                db.execute("COMMIT")
            except sqlite3.Error as error:
                _roll_back(db)
                failure = _unavailable(error)
        return outcomes if failure is None and outcomes is not None else [(False, failure)] * len(units)

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
        readers = self._readers
        assert readers, "the store is not open"
        if not reporting():
            return list(await readers[0].execute_fetchall(sql, tuple(parameters)))
        reading = self._reading
        index = min(range(1, len(readers)), key=reading.__getitem__)
        reading[index] += 1
        try:
            return list(await readers[index].execute_fetchall(sql, tuple(parameters)))
        finally:
            reading[index] -= 1


def _kept(error: Exception) -> Exception:
    """What a unit's exception becomes for its caller."""
    return _unavailable(error) if _is_storage_fault(error) else translated(error)


def _begin(db: _WriterConnection) -> StoreUnavailableError | None:
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        return _unavailable(error)
    return None


def _roll_back(db: _WriterConnection) -> None:
    db.score_book.undo(0)
    db.member_rows.clear()
    if db.in_transaction:  # a storage failure may have ended it already
        db.execute("ROLLBACK")


def _enter_wal(db: sqlite3.Connection, patience_seconds: float) -> None:
    """Switch the file to WAL. The switch needs the file to itself and SQLite does not wait for that
    (the busy timeout does not apply), so several processes starting on a new file take turns here."""
    deadline = time.monotonic() + patience_seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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
