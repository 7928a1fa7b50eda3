"""Numbered schema migrations, applied in order at start-up, one series per dialect.

SQLite runs ``migrations/NNNN_name.sql``, PostgreSQL ``migrations/postgres/NNNN_name.sql``: the same
numbers and names, the same tables and constraints, each in its dialect. Each file runs in one
transaction together with its row in ``schema_migrations``, so a failed migration leaves no trace; two
processes starting at once apply it exactly once (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory
lock held while migrating).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.store.database import Connection
from bot.store.dialects import dialect

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
POSTGRES_MIGRATIONS_DIR = MIGRATIONS_DIR / "postgres"
# pg_advisory_lock key of "migrating": any number, the same in every process.
_MIGRATION_LOCK = 0x43505F4D


def available(for_dialect: str = "sqlite") -> list[tuple[int, str, Path]]:
    """Every migration shipped for the dialect, as (version, name, path), in order."""
    directory = POSTGRES_MIGRATIONS_DIR if for_dialect == "postgresql" else MIGRATIONS_DIR
    found = []
    for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, _, name = path.stem.partition("_")
        found.append((int(version), name, path))
    return found


def statements(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies stay whole)."""
    found: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current[:80]!r}")
    return found


@runtime_checkable
class _RunsScripts(Protocol):
    """A connection that runs a whole script itself (PostgreSQL: plpgsql bodies hold semicolons)."""

    def execute_script(self, script: str) -> None: ...


def _run_script(db: Connection, script: str) -> None:
    """Run a migration's script inside the caller's transaction, statement by statement on SQLite (its own
    ``executescript`` would commit first)."""
    if isinstance(db, _RunsScripts):
        db.execute_script(script)
        return
    for statement in statements(script):
        db.execute(statement)


def apply(db: Connection, upto: int | None = None) -> list[int]:
    """Apply every migration not yet applied (up to version ``upto``); returns the versions applied now.

    ``db`` is a ``sqlite3.Connection`` in autocommit mode or a :class:`bot.store.postgres.PgConnection`.
    """
    postgres = dialect(db) == "postgresql"
    with _migrating_alone(db) if postgres else contextlib.nullcontext():
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied_now: list[int] = []
        for version, name, path in available(dialect(db)):
            if upto is not None and version > upto:
                break
            db.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    db.execute("COMMIT")
                    continue
                _run_script(db, path.read_text(encoding="utf-8"))
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).isoformat()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            applied_now.append(version)
        return applied_now


@contextlib.contextmanager
def _migrating_alone(db: Connection) -> Iterator[None]:
    """PostgreSQL: hold the advisory lock that makes other processes wait while this one migrates."""
    db.execute("SELECT pg_advisory_lock(?)", (_MIGRATION_LOCK,))
    try:
        yield
    finally:
        db.execute("SELECT pg_advisory_unlock(?)", (_MIGRATION_LOCK,))
