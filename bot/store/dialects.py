"""The few places where SQLite and PostgreSQL need different SQL, asked from inside a unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from bot.store.database import Connection, Unit

T = TypeVar("T")


def dialect(db: Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``: the dialect of the connection a unit was given."""
    return str(getattr(db, "dialect", "sqlite"))


def shard(db: Connection) -> int:
    """The writing connection's own row of a sharded counter (migration 0007).

    On PostgreSQL each writer connection claims one, so writers in several processes never update the
    same counter row; SQLite has a single writer and keeps everything in shard 0.
    """
    return int(getattr(db, "shard", None) or 0)


def single_writer(db: Connection) -> bool:
    """Whether the database has one writer (SQLite): what a unit reads stays true until it commits, with
    no lock; on PostgreSQL a unit reads what others may change only after locking it."""
    return dialect(db) == "sqlite"


def has_table(db: Connection, name: str) -> bool:
    """Whether the schema holds table ``name`` (inside a unit)."""
    if dialect(db) == "postgresql":
        return db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0] is True
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def lock_member(db: Connection, user_id: int) -> None:
    """Make the rest of the transaction the only one changing this member's points, cap, streak and badges.

    Units at READ COMMITTED (the answer, the vote) rely on this row lock, and every award takes it
    (:func:`bot.store.effects.apply_award`). It is a write, not only a lock: a SERIALIZABLE unit that read
    the member's balance before a READ COMMITTED one changed it is then aborted and run again, instead
    of deciding on the old balance (the server's conflict tracking sees only serializable units).
    SQLite's single writer needs none of this.
    """
    if dialect(db) == "postgresql":
        db.execute("UPDATE users SET id = id WHERE id = ?", (user_id,))


def for_share(db: Connection, query: str) -> str:
    """``query`` made to keep the rows it reads from changing until a READ COMMITTED unit commits."""
    return f"{query} FOR SHARE" if dialect(db) == "postgresql" else query


def for_update(db: Connection, query: str) -> str:
    """``query`` made to lock the rows it reads: the unit is the only one changing them until it commits."""
    return f"{query} FOR UPDATE" if dialect(db) == "postgresql" else query


def take_turns(db: Connection, key: str) -> None:
    """Transactions naming the same ``key`` run one after the other, each until it commits (PostgreSQL)."""
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))


class ReadCommitted(Generic[T]):
    """A unit marked by :func:`read_committed`; it runs as the unit it wraps (on PostgreSQL, as its
    ``sent`` form when it has one)."""

    isolation = "read committed"

    def __init__(self, unit: Unit[T], sent: Callable[[Connection], Callable[[], T]] | None = None) -> None:
        self.unit = unit
        self.sent = sent

    def __call__(self, db: Connection, /) -> T:
        if self.sent is not None and not single_writer(db):
            return self.sent(db)()
        return self.unit(db)


def read_committed(unit: Unit[T], sent: Callable[[Connection], Callable[[], T]] | None = None) -> ReadCommitted[T]:
    """Mark a unit that is correct at READ COMMITTED, with the locks it takes, and is better off there:
    queues (``FOR UPDATE SKIP LOCKED``), and the answer and the vote, which at SERIALIZABLE would be
    aborted by false conflicts between members whose rows share index pages, or by the idea's count.

    ``sent``: the unit's PostgreSQL form split in two, sending its statements and returning what reads
    their results, so that a batch of such units sharing a transaction sends all of them before waiting
    once (see :func:`bot.store.postgres._together`); ``sent(db)()`` must do what ``unit(db)`` does.

    PostgreSQL runs other units SERIALIZABLE; SQLite has one writer and ignores the mark.
    """
    return ReadCommitted(unit, sent)


def isolation_of(unit: Unit[object]) -> str:
    """The isolation level a unit asks PostgreSQL for: READ COMMITTED when marked, else SERIALIZABLE."""
    return ReadCommitted.isolation if isinstance(unit, ReadCommitted) else "serializable"


class RunsOnce(Generic[T]):
    """A unit marked by :func:`runs_once`; it runs as the unit it wraps."""

    def __init__(self, unit: Unit[T]) -> None:
        self.unit = unit

    def __call__(self, db: Connection, /) -> T:
        return self.unit(db)


def runs_once(unit: Unit[T]) -> RunsOnce[T]:
    """Mark a unit that must not run a second time: it consumes something outside the database (a
    stream of rows). Units are otherwise re-runnable, which SQLite's group commit relies on to spare
    each unit a savepoint (see :meth:`bot.store.sqlite.SqliteStore._run_batch`)."""
    return RunsOnce(unit)


def replayable(unit: Unit[object]) -> bool:
    """Whether running ``unit`` again, after its first run was rolled back, is harmless."""
    return not isinstance(unit, RunsOnce)
