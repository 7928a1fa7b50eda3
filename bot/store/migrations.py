"""Numbered schema migrations (``migrations/NNNN_name.sql``), applied in order at start-up.

Each file runs in one ``BEGIN IMMEDIATE`` transaction together with its row in ``schema_migrations``,
so two processes starting at once apply it exactly once, and a failed migration leaves no trace.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def available() -> list[tuple[int, str, Path]]:
    """Every migration shipped, as (version, name, path), in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
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


def apply(db: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied_now: list[int] = []
    for version, name, path in available():
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                db.execute("COMMIT")
                continue
            for statement in statements(path.read_text(encoding="utf-8")):
                db.execute(statement)
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
