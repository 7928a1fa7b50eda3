"""SQL for rounds (open, close once, what to tally and export) and for draining the outbox."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.base import Store
from bot.store.dialects import has_table
from bot.store.outbox_sql import audit, enqueue
from bot.store.records import Award, PointRules
from bot.store.scoring import apply_award
from bot.store.timestamps import to_text


@dataclass(frozen=True, slots=True)
class Closing:
    """What closing a round must do in its transaction besides flipping the status."""

    round_id: int
    closed_by: int | None
    platform: str
    winner_points: tuple[int, ...]
    rules: PointRules


class RoundQueries:
    """Round and outbox SQL over a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def open(
        self,
        space_id: int,
        kind: str,
        subject: str,
        title: str,
        opened_by: int | None,
        closes_at: datetime | None,
        platform: str,
        space_external_id: str,
        announcement: dict[str, Any],
        now: datetime,
        update_key: str | None = None,
    ) -> tuple[int, bool]:
        """Open a round, audit it and queue its announcement, in one transaction.

        Returns (round id, created); when a round on this subject is already open, nothing is queued.
        ``update_key`` (the platform message) is recorded with the round: the same message delivered
        again, even after that round was closed, returns it instead of opening another.
        """

        def unit(db: sqlite3.Connection) -> tuple[int, bool]:
            if update_key is not None:
                seen = db.execute("SELECT result FROM processed_updates WHERE update_key = ?", (update_key,)).fetchone()
                if seen is not None:
                    return int(seen[0]), False
            cursor = db.execute(
                "INSERT INTO rounds (space_id, kind, subject, title, opened_by, opened_at, closes_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (space_id, subject) WHERE status = 'open' DO NOTHING",
                (
                    space_id,
                    kind,
                    subject,
                    title,
                    opened_by,
                    to_text(now),
                    to_text(closes_at) if closes_at else None,
                ),
            )
            round_id = db.execute(
                "SELECT id FROM rounds WHERE space_id = ? AND subject = ? AND status = 'open'",
                (space_id, subject),
            ).fetchone()[0]
            if cursor.rowcount == 0:
                return int(round_id), False
            audit(
                db,
                space_id=space_id,
                moderator_id=opened_by,
                action="round_open",
                target=str(round_id),
                detail=subject,
                now=now,
            )
            enqueue(
                db,
                platform=platform,
                target=f"space:{space_external_id}",
                payload={**announcement, "round_id": round_id},
                now=now,
                dedup_key=f"round-open:{round_id}",
            )
            if update_key is not None:
                db.execute(
                    "INSERT INTO processed_updates (update_key, result, created_at) VALUES (?, ?, ?)",
                    (update_key, str(round_id), to_text(now)),
                )
            return int(round_id), True

        return await self.store.write(unit)

    async def close(self, closing: Closing, space_external_id: str, now: datetime) -> bool:
        """Close once: the call that flips the status also awards winners and queues the results.

        Any other call (a second moderator, the deadline racing a command, another process) gets
        ``False`` and changes nothing.
        """

        def unit(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "UPDATE rounds SET status = 'closed', closed_at = ?, closed_by = ? WHERE id = ? AND status = 'open'"
                " RETURNING space_id, kind",
                (to_text(now), closing.closed_by, closing.round_id),
            ).fetchone()
            if row is None:
                return False
            space_id, kind = row
            audit(
                db,
                space_id=space_id,
                moderator_id=closing.closed_by,
                action="round_close" if closing.closed_by else "round_deadline",
                target=str(closing.round_id),
                now=now,
            )
            if kind == "ideas":
                _award_winners(db, closing, space_id, now)
            enqueue(
                db,
                platform=closing.platform,
                target=f"space:{space_external_id}",
                payload={"render": "round_results", "round_id": closing.round_id},
                now=now,
                dedup_key=f"round-results:{closing.round_id}",
            )
            return True

        return await self.store.write(unit)

    async def due(self, now: datetime) -> list[tuple[int, str, str]]:
        """Open rounds whose deadline has passed: (round id, platform, space external id)."""
        rows = await self.store.fetchall(
            "SELECT r.id, s.platform, s.external_id FROM rounds r JOIN spaces s ON s.id = r.space_id"
            " WHERE r.status = 'open' AND r.closes_at IS NOT NULL AND r.closes_at <= ?",
            (to_text(now),),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def answer_counts(self, round_id: int, text_task_ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        """Each task's distinct values and how often each was given (free-text tasks: one total each).

        Grouped in SQL, so tallying a round of a million answers moves a few dozen rows into Python.
        """
        marks = ",".join("?" * len(text_task_ids)) or "''"
        grouped = await self.store.fetchall(
            f"SELECT task_id, value, COUNT(*) FROM answers WHERE round_id = ? AND task_id NOT IN ({marks})"  # noqa: S608
            " GROUP BY task_id, value",
            (round_id, *text_task_ids),
        )
        totals = await self.store.fetchall(
            f"SELECT task_id, 'null', COUNT(*) FROM answers WHERE round_id = ? AND task_id IN ({marks})"  # noqa: S608
            " GROUP BY task_id",
            (round_id, *text_task_ids),
        )
        found: dict[str, list[tuple[str, int]]] = {}
        for task_id, value, count in [*grouped, *totals]:
            found.setdefault(task_id, []).append((value, int(count)))
        return found

    async def latest_texts(self, round_id: int, task_id: str, other_only: bool, limit: int) -> list[str]:
        """The latest typed answers to a task (for yes/no/other: the "other" explanations)."""
        rows = await self.store.fetchall(
            "SELECT value FROM answers WHERE round_id = ? AND task_id = ? AND (? = 0 OR value LIKE '{%')"
            " ORDER BY id DESC LIMIT ?",
            (round_id, task_id, int(other_only), limit),
        )
        return [row[0] for row in reversed(rows)]

    async def participants(self, round_id: int) -> int:
        return int(
            await self.store.fetchval("SELECT COUNT(DISTINCT user_id) FROM answers WHERE round_id = ?", (round_id,), 0)
        )

    async def idea_ranking(self, round_id: int, limit: int) -> list[sqlite3.Row]:
        """Ideas of an ideas round by votes (empty when the ideas tables are not there)."""
        if not await self._has_table("ideas"):
            return []
        return await self.store.fetchall(
            "SELECT i.id, i.text, i.votes, u.display_name AS author FROM ideas i JOIN users u ON u.id = i.author_id"
            " WHERE i.round_id = ? AND i.status NOT IN ('hidden', 'pending', 'merged', 'declined')"
            " ORDER BY i.votes DESC, i.id LIMIT ?",
            (round_id, limit),
        )

    async def rounds_in(self, space_id: int, limit: int) -> list[sqlite3.Row]:
        return await self.store.fetchall(
            "SELECT id, kind, subject, status, opened_at, closes_at, closed_at FROM rounds"
            " WHERE space_id = ? ORDER BY id DESC LIMIT ?",
            (space_id, limit),
        )

    async def export_rows(self, round_id: int) -> list[sqlite3.Row]:
        return await self.store.fetchall(
            "SELECT a.id, a.task_id, a.user_id, u.platform, u.display_name, a.value, a.created_at"
            " FROM answers a JOIN users u ON u.id = a.user_id WHERE a.round_id = ? ORDER BY a.id",
            (round_id,),
        )

    async def audit_of_round_space(self, round_id: int) -> list[sqlite3.Row]:
        """Every audit row of the space the round belongs to, oldest first."""
        return await self.store.fetchall(
            "SELECT a.created_at, a.moderator_id, u.display_name, a.action, a.target, a.detail FROM audit a"
            " LEFT JOIN users u ON u.id = a.moderator_id"
            " WHERE a.space_id = (SELECT space_id FROM rounds WHERE id = ?) ORDER BY a.id",
            (round_id,),
        )

    async def audit(self, space_id: int, moderator_id: int, action: str, target: str, now: datetime) -> None:
        await self.store.write(
            lambda db: audit(db, space_id=space_id, moderator_id=moderator_id, action=action, target=target, now=now)
        )

    async def _has_table(self, name: str) -> bool:
        return await self.store.has_table(name)


def _award_winners(db: sqlite3.Connection, closing: Closing, space_id: int, now: datetime) -> None:
    if not has_table(db, "ideas"):
        return
    winners = db.execute(
        "SELECT id, author_id FROM ideas WHERE round_id = ? AND votes > 0"
        " AND status NOT IN ('hidden', 'pending', 'merged', 'declined') ORDER BY votes DESC, id LIMIT ?",
        (closing.round_id, len(closing.winner_points)),
    ).fetchall()
    for place, ((idea_id, author_id), points) in enumerate(zip(winners, closing.winner_points, strict=False), 1):
        apply_award(
            db,
            Award(
                author_id,
                space_id,
                closing.round_id,
                points,
                "round_winner",
                str(place),
                f"round-winner:{closing.round_id}:{idea_id}",
            ),
            closing.rules,
            now,
        )
