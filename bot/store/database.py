"""What the SQL modules run on, said as protocols: a connection, a unit of work over it, a database.

Every statement in :mod:`bot.store` is written once and runs on SQLite and on PostgreSQL alike. A *unit*
is a plain function over a :class:`Connection`: ``execute(sql, params)`` with ``?`` placeholders and a
cursor whose rows answer by position and by column name. ``sqlite3.Connection`` is one as it is;
:class:`bot.store.postgres.PgConnection` is the other. Typing units over this protocol rather than over
``sqlite3.Connection`` lets the type checker hold both stores to it with no exemption.

A :class:`Database` runs units (``write`` in a transaction of its own, ``read`` over one snapshot) and
single queries; the per-feature query classes take one, so they need neither store class, and
:class:`bot.store.base.Store` can compose them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

T = TypeVar("T")


class StoreUnavailableError(Exception):
    """The database refused a write (disk full, read-only file, locked beyond the busy timeout, server gone)."""


ACCOUNT_LINKED = "crowdpulse: account linked"  # what the guards of migration 0010 raise


class AccountLinkedError(Exception):
    """A write named an account that is now linked to another person: the caller resolved it before the
    link (another process linked it); resolving it again gives the person's id to write under."""


def translated(error: Exception) -> Exception:
    """``error``, or an :class:`AccountLinkedError` when it is a linked-account guard's refusal."""
    return AccountLinkedError(str(error)) if ACCOUNT_LINKED in str(error) else error


class Cursor(Protocol):
    """The part of a DB-API cursor that units use; rows answer ``row[0]`` and ``row["column"]``."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Rows:
    """Rows already known, seen as a cursor, for the code that reads a statement's result
    (:class:`~bot.store.scores.PendingScores`, :meth:`~bot.store.effects.Payment.settle`): what
    PostgreSQL's answer function returned in arrays, or the scores an answer's unit worked out itself."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = list(rows)

    @property
    def rowcount(self) -> int:
        return len(self._rows)

    @property
    def description(self) -> Any:
        return None

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int = 1) -> list[Any]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection(Protocol):
    """The part of ``sqlite3.Connection`` that units use (``?`` placeholders, parameters as a sequence)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


# A unit of work: every statement of one use case, run by the store in one transaction.
Unit = Callable[[Connection], T]


class Database(Protocol):
    """What a query class needs of a store: units, and single queries beside them."""

    dialect: ClassVar[str]  # "sqlite" or "postgresql", for the few single queries whose text differs

    async def write(self, unit: Unit[T]) -> T:
        """Run a write unit in its own transaction; return its result once it is durable."""
        ...

    async def read(self, unit: Unit[T]) -> T:
        """Run a read unit over one consistent snapshot."""
        ...

    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """One query's rows."""
        ...

    async def fetchone(self, sql: str, parameters: Iterable[Any] = ()) -> Any:
        """One query's first row, or ``None``."""
        ...

    async def fetchval(self, sql: str, parameters: Iterable[Any] = (), default: Any = None) -> Any:
        """The first column of the first row, or ``default`` when there is none or it is NULL."""
        ...
