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
writers by default, see :class:`PostgresStore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import errors
from psycopg.rows import RowMaker
from psycopg.types.numeric import NumericLoader

from bot.store import migrations
from bot.store.base import Store
from bot.store.database import StoreUnavailableError, Unit, translated
from bot.store.dialects import isolation_of
from bot.store.scores import ScoreBook

log = logging.getLogger(__name__)

T = TypeVar("T")

# Aborted by the server to keep transactions serializable: safe to run again from the start.
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
# A unit that looked for a row, found none and then met it in a unique index (another process committed
# it in between) gets a unique violation, not a serialization failure: run again, its second look sees
# the row. A violation that survives a fresh start is the unit's own and is raised.
_UNIQUE_RERUNS = 2
# Rows per sharded counter that writers can hold alone, and the advisory-lock class that hands them out.
SHARDS = 64
_SHARD_LOCKS = 0x43505348


# rows ----------------------------------------------------------------------------------------------


class Row(tuple[Any, ...]):
    """A result row like ``sqlite3.Row``: a tuple that also answers ``row["column"]`` and ``keys()``."""

    __slots__ = ()
    _index: dict[str, int] = {}  # noqa: RUF012 - set on each per-query subclass

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_index": {name: i for i, name in enumerate(names)}})


def _rows(cursor: Any) -> RowMaker[Row]:
    return _row_class(tuple(column.name for column in cursor.description or ()))


class _IntegralNumericLoader(NumericLoader):
    """``SUM`` of an integer column is ``numeric`` on PostgreSQL: give an ``int`` back, as SQLite does."""

    def load(self, data: Any) -> Any:
        value = super().load(data)
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            return int(value)
        return value


# placeholders --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``), outside quotes."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
            out.append("%%" if char == "%" else char)
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


class PgConnection:
    """A psycopg connection seen through the part of ``sqlite3.Connection`` that units use."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Row]) -> None:
        self.raw = raw
        self.shard: int | None = None  # this connection's row of the sharded counters, once claimed
        self.score_book = ScoreBook()  # the histogram moves of the transaction under way
        self.pipeline: psycopg.Pipeline | None = None  # set while a write unit runs in pipeline mode

    def claim_shard(self) -> None:
        """Take a shard no other connection holds, for as long as this connection lives.

        Sharded counters (migration 0007) give each writer a row of its own, so writers in several
        processes never update the same counter row. A session advisory lock per shard says which are
        taken; past :data:`SHARDS` writers, two share one and the server arbitrates (a retry, no harm).
        """
        taken = next(
            (
                shard
                for shard in range(SHARDS)
                if self.execute("SELECT pg_try_advisory_lock(?, ?) AS free", (_SHARD_LOCKS, shard)).fetchall()[0][0]
            ),
            random.randrange(SHARDS),
        )
        self.execute("SELECT set_config('crowdpulse.shard', ?, false)", (str(taken),))
        self.shard = taken

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> psycopg.Cursor[Row] | PipelinedCursor:
        cursor = self.raw.execute(translate(sql), tuple(parameters))
        return cursor if self.pipeline is None else PipelinedCursor(cursor, self.pipeline)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Pipeline mode for the block: statements are sent without waiting for their results, and the
        connection waits (one round trip) only when a result is read. Errors surface at that read."""
        with self.raw.pipeline() as pipeline:
            self.pipeline = pipeline
            try:
                yield
            finally:
                self.pipeline = None

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [tuple(row) for row in rows])
        return cursor

    def execute_script(self, script: str) -> None:
        """Several statements in one string (migrations, plpgsql bodies); no parameters."""
        self.raw.execute(script.encode())


class PipelinedCursor:
    """A cursor sent in pipeline mode. Reading rows waits for them (psycopg does); so does reading
    ``rowcount`` here, which psycopg would otherwise report before the result arrived."""

    __slots__ = ("_cursor", "_pipeline")

    def __init__(self, cursor: psycopg.Cursor[Row], pipeline: psycopg.Pipeline) -> None:
        self._cursor = cursor
        self._pipeline = pipeline

    def _arrived(self) -> psycopg.Cursor[Row]:
        if self._cursor.pgresult is None:
            self._pipeline.sync()
        return self._cursor

    @property
    def rowcount(self) -> int:
        return self._arrived().rowcount

    @property
    def description(self) -> Any:
        return self._arrived().description

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchmany(self, size: int = 0) -> list[Any]:
        return self._cursor.fetchmany(size)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


def connect(url: str) -> PgConnection:
    """An autocommit connection (transactions are begun explicitly) with SQLite-like rows and sums."""
    raw = psycopg.connect(url, autocommit=True, row_factory=_rows)
    raw.adapters.register_loader("numeric", _IntegralNumericLoader)
    return PgConnection(raw)


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
        self._connections_lock = threading.Lock()  # guards the list above, not the data
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
            migrations.apply(self._connection())
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
        """Run ``unit`` in its own transaction (retried on serialization failures); return its result
        once committed.

        Raises:
            StoreUnavailableError: the server could not be reached or the connection broke.
            Exception: whatever ``unit`` raised; its changes were rolled back.
        """
        if self._write_executor is None:
            raise RuntimeError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._write_executor, self._run_write, unit)

    def _run_write(self, unit: Unit[T]) -> T:
        isolation = isolation_of(unit).upper()
        unique_reruns = 0
        for attempt in range(1, self._max_attempts + 1):
            db = self._connection()
            try:
                try:
                    if db.shard is None:
                        db.claim_shard()
                    with db.pipelined():  # BEGIN and COMMIT travel with the unit's statements
                        db.raw.execute(f"BEGIN ISOLATION LEVEL {isolation}".encode())
                        result = unit(db)
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
