"""Read-only health checks of a database (a SQLite file or a PostgreSQL server), for ``crowdpulse doctor``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store import migrations
from bot.store.database import Connection


def open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def integrity(db: sqlite3.Connection) -> list[str]:
    """SQLite's own verdict: ``[]`` when the file is sound, else its complaints."""
    rows = [row[0] for row in db.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def pending_migrations(db: Connection, for_dialect: str = "sqlite") -> list[int]:
    applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    return [version for version, _, _ in migrations.available(for_dialect) if version not in applied]


def ledger_mismatches(db: Connection, limit: int = 10) -> list[tuple[int, int, int]]:
    """Members whose overall score differs from what their ledger earned: (user id, ledger, score)."""
    return [
        (row[0], row[1], row[2])
        for row in db.execute(
            "SELECT u.id, COALESCE(l.earned, 0), COALESCE(s.points, 0) FROM users u"
            " LEFT JOIN (SELECT user_id, SUM(delta) AS earned FROM ledger WHERE reason != 'redeem'"
            "            GROUP BY user_id) l ON l.user_id = u.id"
            " LEFT JOIN scores s ON s.scope = 'all' AND s.user_id = u.id"
            " WHERE COALESCE(l.earned, 0) != COALESCE(s.points, 0) LIMIT ?",
            (limit,),
        )
    ]


def negative_balances(db: Connection) -> int:
    return int(
        db.execute(
            "SELECT COUNT(*) FROM (SELECT user_id FROM ledger GROUP BY user_id HAVING SUM(delta) < 0) negative"
        ).fetchone()[0]
    )


def histogram_mismatches(db: Connection) -> int:
    """Scopes whose score histogram does not count the same members above zero as their scores."""
    return int(
        db.execute(
            "SELECT COUNT(*) FROM (SELECT scope, COUNT(*) AS members FROM scores WHERE points > 0 GROUP BY scope) s"
            " LEFT JOIN (SELECT scope, SUM(users) AS counted FROM score_counts GROUP BY scope) c USING (scope)"
            " WHERE s.members != COALESCE(c.counted, 0)"
        ).fetchone()[0]
    )


def unsent_messages(db: Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
