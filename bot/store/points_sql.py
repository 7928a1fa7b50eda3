"""SQL for points: awards outside other units, balances, ledgers, leaderboards and a member's profile.

Balances are the sum of the ledger; leaderboards are the ``scores`` the ledger's triggers keep
(migration 0006), and a rank is counted over the score histogram, never by scanning every member.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.point_rules import EVERYONE
from bot.store.database import Database
from bot.store.effects import apply_award
from bot.store.records import Award, Awarded, LedgerEntry, PointRules, Standing, Streak


class PointQueries:
    """Awards, balances, ledgers, standings and profiles over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def award(self, award: Award, rules: PointRules, now: datetime) -> Awarded:
        """Apply one award; an award whose source_key was used before gives ``Awarded(0)``."""
        return await self.store.write(lambda db: apply_award(db, award, rules, now))

    async def balance(self, user_id: int) -> int:
        return int(await self.store.fetchval("SELECT SUM(delta) FROM ledger WHERE user_id = ?", (user_id,), 0))

    async def ledger_entries(self, user_id: int, limit: int) -> list[LedgerEntry]:
        rows = await self.store.fetchall(
            "SELECT delta, reason, detail, created_at FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [LedgerEntry(row[0], row[1], row[2], datetime.fromisoformat(row[3])) for row in rows]

    async def top(self, scope: str, limit: int) -> list[Standing]:
        rows = await self.store.fetchall(
            "SELECT s.user_id, u.display_name, s.points FROM scores s JOIN users u ON u.id = s.user_id"
            " WHERE s.scope = ? AND s.points > 0 ORDER BY s.points DESC, s.user_id LIMIT ?",
            (scope, limit),
        )
        standings: list[Standing] = []
        for position, row in enumerate(rows):
            tied = standings and standings[-1].points == row[2]
            rank = standings[-1].rank if tied else position + 1
            standings.append(Standing(row[0], row[1], row[2], rank))
        return standings

    async def standing(self, scope: str, user_id: int) -> Standing | None:
        """The user's points and rank in ``scope``: 1 + the users with strictly more points."""
        row = await self.store.fetchone(
            "SELECT s.points, u.display_name FROM scores s JOIN users u ON u.id = s.user_id"
            " WHERE s.scope = ? AND s.user_id = ?",
            (scope, user_id),
        )
        if row is None or row[0] <= 0:
            return None
        above = await self.store.fetchval(
            "SELECT SUM(users) FROM score_counts WHERE scope = ? AND points > ?", (scope, row[0]), 0
        )
        return Standing(user_id, row[1], int(row[0]), int(above) + 1)

    # a member's profile -------------------------------------------------------------------------

    async def earned(self, user_id: int) -> int:
        """Points earned over all time: levels follow them, so spending points never costs a level."""
        return int(
            await self.store.fetchval(
                "SELECT points FROM scores WHERE scope = ? AND user_id = ?", (EVERYONE, user_id), 0
            )
        )

    async def badges(self, user_id: int) -> list[str]:
        rows = await self.store.fetchall(
            "SELECT badge FROM user_badges WHERE user_id = ? ORDER BY earned_at, badge", (user_id,)
        )
        return [row[0] for row in rows]

    async def streak(self, user_id: int) -> Streak:
        """The member's answering streak as stored (see :func:`bot.point_rules.current_streak`)."""
        row = await self.store.fetchone("SELECT last_day, length, best FROM streaks WHERE user_id = ?", (user_id,))
        if row is None:
            return Streak(None, 0, 0)
        return Streak(date.fromisoformat(row[0]), int(row[1]), int(row[2]))
