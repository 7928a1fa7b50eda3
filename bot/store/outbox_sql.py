"""SQL for the outbox's drainer: claiming due rows, settling them, counting what waits.

Rows are written by :func:`bot.store.effects.enqueue` inside the unit of work of their cause.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.database import Connection, Database
from bot.store.dialects import dialect, read_committed
from bot.store.records import OutboxRow
from bot.store.timestamps import to_text


class OutboxQueries:
    """Claiming and settling outbox rows; a claim is a lease, so a dead worker's rows come back."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def claim(self, platform: str, worker: str, limit: int, lease: timedelta, now: datetime) -> list[OutboxRow]:
        """Claim due rows for ``worker``: unsent, due, and not claimed by a live lease.

        On PostgreSQL rows another worker is claiming right now are skipped, not waited for
        (``FOR UPDATE SKIP LOCKED``), and each row goes to one claimant: the UPDATE only touches rows this
        transaction holds locked. SQLite's single writer gives the same.
        """

        @read_committed
        def unit(db: Connection) -> list[OutboxRow]:
            expired = to_text(now - lease)
            lock = " FOR UPDATE SKIP LOCKED" if dialect(db) == "postgresql" else ""
            rows = db.execute(
                "UPDATE outbox SET claimed_by = ?, claimed_at = ?, attempts = attempts + 1"  # noqa: S608
                " WHERE id IN (SELECT id FROM outbox WHERE platform = ? AND sent_at IS NULL AND not_before <= ?"
                f" AND (claimed_at IS NULL OR claimed_at < ?) ORDER BY id LIMIT ?{lock})"
                " RETURNING id, platform, target, payload, attempts",
                (worker, to_text(now), platform, to_text(now), expired, limit),
            ).fetchall()
            return sorted((OutboxRow(*row) for row in rows), key=lambda row: row.id)

        return await self.store.write(unit)

    async def sent(self, row_id: int, worker: str, now: datetime) -> None:
        await self.store.write(
            lambda db: db.execute(
                "UPDATE outbox SET sent_at = ?, last_error = '' WHERE id = ? AND claimed_by = ?",
                (to_text(now), row_id, worker),
            )
        )

    async def retry_later(self, row_id: int, error: str, not_before: datetime) -> None:
        await self.store.write(
            lambda db: db.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_at = NULL, last_error = ?, not_before = ? WHERE id = ?",
                (error[:500], to_text(not_before), row_id),
            )
        )

    async def give_up(self, row_id: int, error: str, now: datetime) -> None:
        """Stop retrying a message the platform will never accept (blocked bot, deleted chat)."""
        await self.store.write(
            lambda db: db.execute(
                "UPDATE outbox SET sent_at = ?, last_error = ? WHERE id = ?",
                (to_text(now), f"gave up: {error}"[:500], row_id),
            )
        )

    async def pending(self, platform: str) -> int:
        return int(
            await self.store.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE platform = ? AND sent_at IS NULL", (platform,), 0
            )
        )
