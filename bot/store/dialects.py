"""The few places where SQLite and PostgreSQL need different SQL, asked from inside a unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def dialect(db: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``: the dialect of the connection a unit was given."""
    return str(getattr(db, "dialect", "sqlite"))


def shard(db: Any) -> int:
    """The writing connection's own row of a sharded counter (migration 0007).

    On PostgreSQL each writer connection claims one, so writers in several processes never update the
    same counter row; SQLite has a single writer and keeps everything in shard 0.
    """
    return int(getattr(db, "shard", None) or 0)


def has_table(db: Any, name: str) -> bool:
    """Whether the schema holds table ``name`` (inside a unit)."""
    if dialect(db) == "postgresql":
        return db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0] is True
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def read_committed(unit: F) -> F:
    """Mark a unit that is correct at READ COMMITTED and needs it (``FOR UPDATE SKIP LOCKED`` queues).

    PostgreSQL runs other units SERIALIZABLE; SQLite has one writer and ignores the mark.
    """
    unit.isolation = "read committed"  # type: ignore[attr-defined]
    return unit
