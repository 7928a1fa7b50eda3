"""Copying every row of one store into another, empty one (``crowdpulse copy-store``), then proving it.

Both stores are opened first, so both schemas are at the latest migration. The copy is one write unit on
the target — all or nothing — fed by one read unit on the source (one snapshot), table by table in
foreign-key order with ids kept. The two run at once on their stores' threads and pass rows through a
short queue of batches, so a community of millions of rows is copied in bounded memory. The derived
tables (``scores``, ``score_counts``) are copied as they are, like any other: nothing in the database
derives them (the writer keeps them, migration 0017), so the copy holds exactly the source's rows.
Identity sequences (PostgreSQL) are moved past the copied ids.

Afterwards every table's row count, the ledger's total and every member's balance are compared between
source and target; any difference raises :class:`CopyMismatchError`.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.store.dialects import dialect, runs_once
from bot.texts import operator_text

# Foreign-key order. Tables a future migration adds go last (see _tables).
ORDER = (
    "meta",
    "users",
    "spaces",
    "rounds",
    "answers",
    "task_counts",
    "ledger",
    "daily_points",
    "streaks",
    "pending_inputs",
    "processed_updates",
    "outbox",
    "bans",
    "audit",
    "ideas",
    "votes",
    "vote_events",
    "idea_drafts",
    "user_counters",
    "user_badges",
    "rewards",
    "redemptions",
    "reward_codes",
    "scores",
    "score_counts",
)
NOT_COPIED = ("schema_migrations", "sqlite_sequence")
BATCH = 2000
IN_FLIGHT = 8  # batches between the two threads: the copy's memory bound
_END = object()


class CopyMismatchError(RuntimeError):
    """The target does not hold what the source holds after the copy."""


class TargetNotEmptyError(RuntimeError):
    """The target already holds data; copying into it would mix two histories."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    ledger_total: int = 0
    balances: int = 0  # members whose balance was compared

    def lines(self) -> list[str]:
        found = [f"{table}: {count}" for table, count in self.rows.items()]
        return [
            *found,
            f"ledger total {self.ledger_total},"
            f" {operator_text('balances_compared', count=self.balances)}:"
            " identical in source and target",
        ]


def _tables(db: Any) -> list[str]:
    if dialect(db) == "postgresql":
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
    else:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    names = {row[0] for row in rows} - set(NOT_COPIED)
    return [t for t in ORDER if t in names] + sorted(names - set(ORDER))


def _columns(db: Any, table: str) -> list[str]:
    cursor = db.execute(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 - names from the schema itself
    return [column[0] for column in cursor.description]


class _Abandoned(Exception):
    """The other end of the pipe stopped; its own error is the one to report."""


class _Pipe:
    """Rows from the source's reader thread to the target's writer thread, :data:`IN_FLIGHT` batches at most.

    Items are a table's header ``(name, columns)``, then lists of rows, then :data:`_END`; a failing
    source sends its exception instead. Either side closing the pipe frees the other from waiting.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(IN_FLIGHT)
        self._closed = threading.Event()

    def put(self, item: Any) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Abandoned

    def get(self) -> Any:
        while not self._closed.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise _Abandoned from item
            return item
        raise _Abandoned

    def close(self) -> None:
        self._closed.set()


def send(db: sqlite3.Connection, pipe: _Pipe) -> None:
    """Every table's header and rows, in batches (a read unit on the source: one snapshot)."""
    try:
        for table in _tables(db):
            columns = _columns(db, table)
            order = " ORDER BY id" if "id" in columns else ""
            cursor = db.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")  # noqa: S608
            pipe.put((table, columns))
            while rows := cursor.fetchmany(BATCH):
                pipe.put([tuple(row) for row in rows])
        pipe.put(_END)
    except _Abandoned:
        return
    except Exception as error:
        pipe.put(error)
        raise


def receive(db: sqlite3.Connection, pipe: _Pipe, on_rows: Callable[[int], None] | None = None) -> None:
    """Write what the pipe brings into an empty schema (a write unit on the target); ``on_rows(copied)``
    after each batch."""
    try:
        tables = _tables(db)
        busy = [t for t in tables if db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]  # noqa: S608
        if busy:
            raise TargetNotEmptyError(f"the target already holds data (tables: {', '.join(busy)}); give an empty one")
        if dialect(db) == "postgresql":
            db.execute("SET CONSTRAINTS ALL DEFERRED")  # ideas may be merged into a later idea
        else:
            db.execute("PRAGMA defer_foreign_keys = ON")
        statement, kept, copied = "", list[int](), 0
        while (item := pipe.get()) is not _END:
            if isinstance(item, tuple):
                statement, kept = _start_table(db, tables, *item)
            else:
                db.executemany(statement, [tuple(row[i] for i in kept) for row in item])
                copied += len(item)
                if on_rows is not None:
                    on_rows(copied)
        if dialect(db) == "postgresql":
            _continue_sequences(db, tables)
    finally:
        pipe.close()


def _start_table(db: sqlite3.Connection, tables: list[str], table: str, columns: list[str]) -> tuple[str, list[int]]:
    """Prepare ``table`` for the source's rows: the INSERT and which of the source's columns it takes."""
    if table not in tables:
        raise CopyMismatchError(f"the target has no table {table}: is it at an older version?")
    target_columns = set(_columns(db, table))
    kept = [i for i, column in enumerate(columns) if column in target_columns]
    names = ", ".join(columns[i] for i in kept)
    marks = ", ".join("?" * len(kept))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})", kept  # noqa: S608


def _continue_sequences(db: sqlite3.Connection, tables: list[str]) -> None:
    """Identity columns (PostgreSQL) continue after the copied ids."""
    for table in (t for t in tables if "id" in _columns(db, t)):
        sequence = db.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()[0]
        if sequence is not None:
            db.execute(
                f"SELECT setval(?, (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)",  # noqa: S608
                (sequence,),
            )


def summary(db: sqlite3.Connection) -> tuple[dict[str, int], int, dict[int, int]]:
    """Row counts per table, the ledger's total and every member's balance (a read unit)."""
    counts = {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in _tables(db)}  # noqa: S608
    total = int(db.execute("SELECT COALESCE(SUM(delta), 0) FROM ledger").fetchone()[0])
    balances = {
        int(row[0]): int(row[1]) for row in db.execute("SELECT user_id, SUM(delta) FROM ledger GROUP BY user_id")
    }
    return counts, total, balances


async def copy_store(source: Any, target: Any, on_progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy every row of the open store ``source`` into the open, empty store ``target``, and verify it.

    ``on_progress(rows copied, rows in all)`` is called after each batch, on the target's writer thread
    (a progress bar's update: the engine never prints).

    Raises:
        TargetNotEmptyError: the target holds data already (nothing was written).
        CopyMismatchError: counts or sums differ after the copy.
    """
    pipe = _Pipe()
    total = sum((await source.read(summary))[0].values()) if on_progress is not None else 0

    def on_rows(copied: int) -> None:
        if on_progress is not None:
            on_progress(copied, total)

    def receiving(db: Any) -> None:
        receive(db, pipe, on_rows)

    outcomes: list[object] = list(
        await asyncio.gather(
            source.read(lambda db: send(db, pipe)),
            target.write(runs_once(receiving)),
            return_exceptions=True,
        )
    )
    for outcome in reversed(outcomes):  # the target's refusal explains more than the source's stop
        if isinstance(outcome, BaseException) and not isinstance(outcome, _Abandoned):
            raise outcome
    before = await source.read(summary)
    after = await target.read(summary)
    if before != after:
        differing = sorted(t for t in set(before[0]) | set(after[0]) if before[0].get(t) != after[0].get(t))
        raise CopyMismatchError(
            f"after the copy the target differs: tables {differing}, ledger total {before[1]} vs {after[1]},"
            f" balances equal: {before[2] == after[2]}"
        )
    return CopyReport(rows=before[0], ledger_total=before[1], balances=len(before[2]))
