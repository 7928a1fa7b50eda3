"""The server store: PostgreSQL behind the same interface as :class:`~bot.store.sqlite.SqliteStore`.

It runs the very units SQLite runs. A unit is a plain function over a connection that looks like the
part of ``sqlite3.Connection`` units use (:class:`PgConnection`: ``execute(sql, params)`` with ``?``
placeholders, a cursor with ``fetchone``/``fetchall``/``rowcount``, rows indexable by position and by
name), so every statement is written once, in SQL both databases accept.

Several bot processes may share one database, so correctness rests on the database alone, never on a
lock in this process: each write unit runs in its own transaction at SERIALIZABLE isolation (a unit that
reads and then writes — the daily cap, a badge threshold, a redemption's balance — behaves as if it ran
alone), and a transaction the server aborts for a serialization failure or a deadlock is run again from
the start, a bounded number of times (so is one that met, in a unique index, a row another process
committed after the unit looked for it). Units marked :func:`~bot.store.dialects.read_committed` run at
that level instead, with explicit locks: queue claims (``FOR UPDATE SKIP LOCKED``) and the answer, the
hottest unit, which at SERIALIZABLE was aborted by false conflicts between members whose rows share an
index page. Counters every writer bumps are sharded per writer connection (migration 0007), so writers
in several processes never update the same counter row. A unit's result is
returned only after its COMMIT; a unit that raises is rolled back alone, as on SQLite.

Units run on worker threads with psycopg 3's synchronous API, one connection per thread: reads on
their own threads (REPEATABLE READ READ ONLY for read units, one snapshot), writes on theirs (four
writers by default, see :class:`PostgresStore`). A write unit's statements go out in pipeline mode with
its BEGIN and COMMIT (:mod:`bot.store.pg_connection`): the connection waits only where the unit reads a
result. READ COMMITTED units waiting together share one transaction (a unit that raises sends the batch
again, each unit in its own savepoint), so one flush of the server's log commits them all. The answers
among them are held and go out together, one call of a server-side function for all of them
(:mod:`bot.store.pg_answers`), before any is read: the batch waits on the server once, and an answer
alone costs two round trips, the call and the COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import errors

from bot.store import batches, migrations
from bot.store.base import Store
from bot.store.database import Connection, StoreUnavailableError, Unit, translated
from bot.store.dialects import ReadCommitted, isolation_of, read_committed
from bot.store.pg_connection import PgConnection, Row, connect

__all__ = ["PgConnection", "PostgresStore", "Row", "connect", "scratch_schema"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Aborted by the server to keep transactions serializable: safe to run again from the start.
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
# A unit that looked for a row, found none and then met it in a unique index (another process committed
# it in between) gets a unique violation, not a serialization failure: run again, its second look sees
# the row. A violation that survives a fresh start is the unit's own and is raised.
_UNIQUE_RERUNS = 2
# Units one transaction takes at most (units at READ COMMITTED, waiting together: see PostgresStore.write).
_MAX_BATCH = 64
# Units waiting that make the queue go to one more writer while others have it (see PostgresStore._wake).
_BACKLOG = 8


@dataclass(slots=True)
class _Queued:
    unit: Unit[Any]
    result: asyncio.Future[Any]  # of the caller's loop, set there once the batch committed


# the store -----------------------------------------------------------------------------------------


class PostgresStore(Store):
    """PostgreSQL behind the store interface; use as ``async with PostgresStore(url) as store``."""

    dialect = "postgresql"

    def __init__(self, url: str, *, writers: int = 4, readers: int = 4, max_attempts: int = 60) -> None:
        """``writers``: connections running write units at once in this process (``storage.writers``).

        Each write is a round trip per statement, so one connection leaves the process waiting on the
        network; four overlap them (one process on 2 cores: 1 → 4 writers took answers from about 300/s
        to 450–550/s, with no aborted transactions, since the hot units lock rather than conflict).
        Correctness never depends on the number: the database arbitrates, as between processes.
        """
        super().__init__()
        self.url = url
        self._max_attempts = max_attempts
        self._writers = writers
        self._readers = readers
        self._write_executor: ThreadPoolExecutor | None = None
        self._read_executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[PgConnection] = []
        self._connections_lock = threading.Lock()  # guards the list above and the one below, not the data
        self._idle_writers: list[PgConnection] = []  # last returned last: see _writer
        self._queued: deque[_Queued] = deque()  # READ COMMITTED units waiting for a writer
        self._queued_lock = threading.Lock()  # guards the queue and the count below
        self._draining = 0  # writers given the queue (see _wake): never more than ``writers``
        self._waking = 0  # of those, the ones yet to take their batch
        self.commits = 0
        self.retries = 0

    # lifetime -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, apply pending migrations, start the worker threads. Idempotent."""
        if self._write_executor is not None:
            return
        self._write_executor = ThreadPoolExecutor(self._writers, thread_name_prefix="crowdpulse-pg-writer")
        self._read_executor = ThreadPoolExecutor(self._readers, thread_name_prefix="crowdpulse-pg-reader")
        try:
            await asyncio.get_running_loop().run_in_executor(self._write_executor, self._migrate)
        except BaseException:
            await self.close()
            raise

    def _migrate(self) -> None:
        try:
            db = self._writer()
            migrations.apply(db)
            self._release(db)
        except psycopg.OperationalError as error:
            raise _unavailable(error) from error

    async def close(self) -> None:
        """Let running units finish, then close every connection. Idempotent."""
        executors = [e for e in (self._write_executor, self._read_executor) if e is not None]
        self._write_executor = self._read_executor = None
        for executor in executors:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown, True)
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._idle_writers.clear()
        for connection in connections:
            connection.raw.close()

    def _connection(self) -> PgConnection:
        db: PgConnection | None = getattr(self._local, "db", None)
        if db is not None and db.raw.closed:
            db = None
        if db is None:
            db = connect(self.url)
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def _writer(self) -> PgConnection:
        """A connection for a write transaction: the one that finished one last, if any.

        Not one per writer thread: the pool hands work to its threads in turn, and in a process whose
        members answer in step (a batch at a time) each batch then ran on another connection, so the
        server's processes took turns and worked from cold caches: in four bot processes of fifty
        members each, about a fifth more CPU per answer, server and processes together, than with one
        writer each (benchmark 8, ``p4``).
        """
        with self._connections_lock:
            while self._idle_writers:
                db = self._idle_writers.pop()
                if not db.raw.closed:
                    return db
        db = connect(self.url)
        with self._connections_lock:
            self._connections.append(db)
        return db

    def _release(self, db: PgConnection) -> None:
        if not db.raw.closed:
            with self._connections_lock:
                self._idle_writers.append(db)

    def _forget(self, db: PgConnection) -> None:
        """Drop a broken connection; the thread connects afresh next time."""
        self._local.db = None
        with self._connections_lock:
            if db in self._connections:
                self._connections.remove(db)
        with contextlib.suppress(psycopg.Error):
            db.raw.close()

    # writes -------------------------------------------------------------------------------------

    async def write(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a transaction (retried on serialization failures); return its result once
        committed.

        Units marked :func:`~bot.store.dialects.read_committed` (the answer, the vote, queue claims) that
        wait at the same time share a transaction, as on SQLite: each COMMIT costs the server a flush of
        its log to disk, and one flush for many answers is what lets a process keep up with a crowd.

        Raises:
            StoreUnavailableError: the server could not be reached or the connection broke.
            Exception: whatever ``unit`` raised; its changes were rolled back.
        """
        if self._write_executor is None:
            raise RuntimeError("the store is not open")
        if not isinstance(unit, ReadCommitted):
            return await asyncio.get_running_loop().run_in_executor(self._write_executor, self._run_write, unit)
        queued = _Queued(unit, asyncio.get_running_loop().create_future())
        with self._queued_lock:
            self._queued.append(queued)
            wake = self._wake()
        if wake:  # once this turn of the loop is over: the units it queues meanwhile make the same batch
            asyncio.get_running_loop().call_soon(self._submit_drain)
        result: T = await queued.result
        return result

    def _wake(self) -> bool:
        """Whether to give the queue to one more writer (called holding the queue's lock).

        One when units wait and no writer has the queue. Another only when :data:`_BACKLOG` units wait,
        every writer given the queue has taken its batch, and fewer than ``writers`` have it (so a few
        units may wait for a batch in progress, a transaction's time, as they would in it). A writer on
        its way takes every unit that arrived meanwhile, so a unit costs no thread hand-off of its own
        and a batch's results reach the event loop in one wake-up (a ``concurrent.futures.Future``, its
        loop twin and a hand-off per answer, with the garbage collections their objects brought, were
        some 7% of the bot process's CPU per answer in benchmark 8). And members who answer in step
        (a batch's results come back together) make one batch, not one per writer: in four processes of
        fifty members each, writers woken per unit split the batches and cost the server and the
        processes a fifth more CPU per answer than one writer each (benchmark 8, ``p4``).

        The writer is woken once the loop's current turn is over (:meth:`write`), not at the first unit:
        members whose results came back together queue their next answers in that one turn, and a writer
        woken at once, on the other core, took the few queued before the loop was preempted (four bot
        processes on 2 cores: about 35 answers per COMMIT of a process's 50 members instead of 50, some
        6% more CPU per answer, server and processes together).
        """
        if not self._queued or self._waking or self._draining >= self._writers:
            return False
        if self._draining and len(self._queued) < _BACKLOG:
            return False
        self._draining += 1
        self._waking += 1
        return True

    def _submit_drain(self) -> None:
        executor = self._write_executor
        if executor is not None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile
                executor.submit(self._drain)
                return
        self._drain()  # closing: the units still waiting run here

    def _drain(self) -> None:
        """Run the READ COMMITTED units waiting, up to :data:`_MAX_BATCH` in one transaction, and hand
        their results to their loop. The writer then goes back to the pool's queue (other write units
        get their turn) and, if units wait, the queue goes to the next writer."""
        with self._queued_lock:
            batch = [self._queued.popleft() for _ in range(min(len(self._queued), _MAX_BATCH))]
            self._waking -= 1
            wake = self._wake()  # more than a batch waits
        if wake:
            self._submit_drain()
        _deliver(batch, self._run_batch([queued.unit for queued in batch]))
        with self._queued_lock:
            self._draining -= 1
            wake = self._wake()
        if wake:
            self._submit_drain()

    def _run_batch(self, units: list[Unit[Any]]) -> list[batches.Outcome]:
        """The units in one transaction, or (one raised) each in a savepoint, or (the server refused the
        batch) each alone, to tell whose fault it was."""
        if not units:
            return []
        try:
            try:
                return self._run_write(read_committed(lambda db: _together(db, units)))
            except batches.UnitRaised:  # rolled back: the batch again, each unit in a savepoint of its own
                return self._run_write(read_committed(lambda db: _apart(db, units)))
        except Exception as error:
            return [(False, error)] if len(units) == 1 else [self._outcome(unit) for unit in units]

    def _outcome(self, unit: Unit[Any]) -> tuple[bool, Any]:
        try:
            return True, self._run_write(unit)
        except Exception as error:
            return False, error

    def _run_write(self, unit: Unit[T]) -> T:
        isolation = isolation_of(unit).upper()
        unique_reruns = 0
        for attempt in range(1, self._max_attempts + 1):
            db = self._writer()
            try:
                try:
                    if db.shard is None:
                        db.claim_shard()
                    with db.pipelined():  # BEGIN and COMMIT travel with the unit's statements
                        db.raw.execute(f"BEGIN ISOLATION LEVEL {isolation}".encode())
                        result = unit(db)
                        db.send_held()  # what the unit held and did not read goes out with its transaction
                        db.score_book.flush(db)
                        db.raw.execute(b"COMMIT")
                except BaseException as failure:
                    self._undo_write(db, failure)
                    raise
            except _RETRYABLE as error:
                if attempt == self._max_attempts:
                    raise _unavailable(error) from error
                self.retries += 1
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** min(attempt, 8))))
                continue
            except errors.UniqueViolation:
                if unique_reruns == _UNIQUE_RERUNS:
                    raise
                unique_reruns += 1
                self.retries += 1
                continue
            except psycopg.OperationalError as error:
                raise _unavailable(error) from error
            except errors.RaiseException as error:
                raise translated(error) from error
            finally:
                self._release(db)
            self.commits += 1
            return result
        raise AssertionError("unreachable")

    def _undo_write(self, db: PgConnection, failure: BaseException) -> None:
        """End a write unit that failed. After a server error met in pipeline mode the connection is
        closed (the server rolls the transaction back): psycopg may have counted as prepared a statement
        the server skipped once the pipeline aborted, and would name it in vain on this connection."""
        db.score_book.undo(0)
        if isinstance(failure, psycopg.Error):
            self._forget(db)
        else:
            self._rollback(db)

    def _rollback(self, db: PgConnection) -> None:
        if db.raw.closed or db.raw.broken:
            self._forget(db)
            return
        try:
            db.raw.execute(b"ROLLBACK")
        except psycopg.Error:
            self._forget(db)

    # reads --------------------------------------------------------------------------------------

    async def read(self, unit: Unit[T]) -> T:
        """Run a read unit (several queries, one consistent snapshot) on a reader thread."""
        if self._read_executor is None:
            raise RuntimeError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._read_executor, self._run_read, unit)

    def _run_read(self, unit: Unit[T]) -> T:
        db = self._connection()
        try:
            db.raw.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            result = unit(db)
            db.raw.execute(b"COMMIT")
        except psycopg.OperationalError as error:
            self._rollback(db)
            raise _unavailable(error) from error
        except BaseException:
            self._rollback(db)
            raise
        return result

    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Row]:
        if self._read_executor is None:
            raise RuntimeError("the store is not open")
        values = tuple(parameters)
        return await asyncio.get_running_loop().run_in_executor(self._read_executor, self._run_fetchall, sql, values)

    def _run_fetchall(self, sql: str, parameters: tuple[Any, ...]) -> list[Row]:
        db = self._connection()
        try:
            return db.execute(sql, parameters).fetchall()
        except psycopg.OperationalError as error:
            if db.raw.closed or db.raw.broken:
                self._forget(db)
            raise _unavailable(error) from error


def _deliver(batch: list[_Queued], outcomes: list[batches.Outcome]) -> None:
    """The batch's outcomes to their callers: one wake-up of each caller's loop (a closed loop has no
    caller left)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], batches.Outcome]]] = {}
    for queued, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(queued.result.get_loop(), []).append((queued.result, outcome))
    for loop, results in by_loop.items():
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, results)


def _settle(results: list[tuple[asyncio.Future[Any], batches.Outcome]]) -> None:
    """On the callers' loop: each waiting caller's result (a caller that was cancelled waits no more)."""
    for future, (ok, value) in results:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _together(db: Connection, units: list[Unit[Any]]) -> list[batches.Outcome]:
    """:func:`batches.together`, with the units that have a ``sent`` form (the answer: held, then one
    call for the batch's answers) sent first and read after: the whole batch waits on the server once,
    not once per unit."""
    try:
        reads = [_sent(db, unit) for unit in units]
        return [(True, read()) for read in reads]
    except psycopg.Error:
        raise
    except Exception as error:
        raise batches.UnitRaised from error


def _sent(db: Connection, unit: Unit[T]) -> Callable[[], T]:
    """The unit's statements sent, and what reads them (a unit without a ``sent`` form runs whole now)."""
    if isinstance(unit, ReadCommitted) and unit.sent is not None:
        return unit.sent(db)
    result = unit(db)
    return lambda: result


def _apart(db: Connection, units: list[Unit[Any]]) -> list[batches.Outcome]:
    assert isinstance(db, PgConnection)
    return batches.apart(db, units, db.score_book, _kept)


def _kept(error: Exception) -> Exception:
    """A unit's own exception, for its caller; a server error aborted the transaction and is raised
    (the store then runs the batch again, or its units one by one)."""
    if isinstance(error, psycopg.Error):
        raise error
    return error


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str = "scratch") -> Iterator[str]:
    """A new, empty schema on the server at ``url``, dropped on exit; yields a URL whose connections use it.

    Tests and benchmarks share one server and need an empty database each: a schema is that, at the cost
    of one statement, and leaves the operator's own schemas alone.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"'.encode())
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE'.encode())


def _unavailable(error: Exception) -> StoreUnavailableError:
    log.error("storage failed: %s (check that the PostgreSQL server is up and reachable)", error)
    failure = StoreUnavailableError(str(error))
    failure.__cause__ = error
    return failure
