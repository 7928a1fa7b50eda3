"""A PostgreSQL connection seen as the part of ``sqlite3.Connection`` that units use.

Units are written once, for both stores, over :class:`bot.store.database.Connection`: ``execute(sql,
params)`` with ``?`` placeholders and rows that answer by position and by name. :class:`PgConnection`
gives psycopg 3 that face: placeholders are translated, ``SUM`` of integers comes back an ``int`` as on
SQLite, the connection claims a shard of the sharded counters (migration 0007), keeps the histogram moves
of its transaction (:class:`bot.store.scores.ScoreBook`) and runs a write unit in pipeline mode
(:meth:`PgConnection.pipelined`), so a unit's statements travel together and it waits only to read.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from psycopg.rows import RowMaker
from psycopg.types.numeric import NumericLoader

from bot.store.scores import ScoreBook

# Rows per sharded counter that writers can hold alone, and the advisory-lock class that hands them out.
SHARDS = 64
_SHARD_LOCKS = 0x43505348
# Cursors kept per statement for later write units (a batch of answers uses two per answer, at most 64
# answers a batch), the most rows a kept cursor may hold on to until its next use, and the most
# statements with cursors kept (past it, all are dropped: statements built with varying text stay bounded).
_SPARE_CURSORS = 128
_SPARE_ROWS = 100
_SPARE_STATEMENTS = 256


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
    """The row class of the cursor's result, found from the result's raw column names: building
    ``cursor.description`` (a ``Column`` object per column, per statement) took about 4% of the bot
    process's CPU on the answer path."""
    result = cursor.pgresult
    if result is None:
        return _row_class(())
    return _named_row_class(tuple(result.fname(i) for i in range(result.nfields)))


@functools.lru_cache(maxsize=1024)
def _named_row_class(names: tuple[bytes | None, ...]) -> type[Row]:
    return _row_class(tuple((name or b"").decode() for name in names))


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


class Held(Protocol):
    """Statements a write unit holds back to send together with those of the units after it."""

    def send(self, db: PgConnection) -> None: ...


class PgConnection:
    """A psycopg connection seen through the part of ``sqlite3.Connection`` that units use."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Row]) -> None:
        self.raw = raw
        self.shard: int | None = None  # this connection's row of the sharded counters, once claimed
        self.score_book = ScoreBook()  # the histogram moves of the transaction under way
        self.pipeline: psycopg.Pipeline | None = None  # set while a write unit runs in pipeline mode
        # Cursors of past write units, by statement, and those lent to the unit under way (see execute).
        self._spare: dict[str, list[psycopg.Cursor[Row]]] = {}
        self._lent: list[tuple[str, psycopg.Cursor[Row]]] = []
        self.held: Held | None = None  # sent before the next statement (see hold)

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

    def hold(self, held: Held) -> None:
        """Keep ``held`` back until a result is read or another statement is run (:meth:`send_held`):
        the answers of a group commit go out as a few calls (:mod:`bot.store.pg_answers`). The store
        sends what is still held before COMMIT; a write unit that fails drops it with its transaction."""
        self.held = held

    def send_held(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.send(self)

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> psycopg.Cursor[Row] | PipelinedCursor:
        """Run ``sql``; in a write unit (pipeline mode), on a cursor that ran the same statement in an
        earlier unit when there is one.

        A new psycopg cursor copies the connection's adapter maps and builds its own adapters for the
        parameters' types, and the objects of the cursors in flight (a batch of answers holds two per
        answer) made the garbage collections about five times as frequent as on SQLite. Reused for the
        same statement, a cursor keeps its adapters: in benchmark 8, 0.26 ms of the bot process's CPU per
        answer became 0.15 ms (SQLite: 0.12 ms). A cursor is lent until the write unit's block ends, so
        the unit reads each cursor it was given as usual.
        """
        if self.held is not None:
            self.send_held()
        query = translate(sql)
        if self.pipeline is None:
            return self.raw.execute(query, tuple(parameters))
        spare = self._spare.get(query)
        cursor = spare.pop() if spare else self.raw.cursor()
        self._lent.append((query, cursor))
        cursor.execute(query, tuple(parameters))
        return PipelinedCursor(cursor, self.pipeline)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Pipeline mode for the block: statements are sent without waiting for their results, and the
        connection waits (one round trip) only when a result is read. Errors surface at that read."""
        try:
            with self.raw.pipeline() as pipeline:
                self.pipeline = pipeline
                try:
                    yield
                finally:
                    self.pipeline = None
                    self.held = None
        finally:  # every result arrived: the block's cursors are free for the next write units
            if len(self._spare) > _SPARE_STATEMENTS:
                self._spare.clear()
            for query, cursor in self._lent:
                spare = self._spare.setdefault(query, [])
                result = cursor.pgresult  # kept by the cursor until its next use: a small one only
                if len(spare) < _SPARE_CURSORS and (result is None or result.ntuples <= _SPARE_ROWS):
                    spare.append(cursor)
            self._lent.clear()

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> psycopg.Cursor[Row]:
        self.send_held()
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
