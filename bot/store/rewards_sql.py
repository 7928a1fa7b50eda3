"""SQL for rewards: the rewards catalog, codes, redemptions and a member's codes.

A redemption is one unit (:meth:`RewardQueries.redeem`) written so that it would also hold on
PostgreSQL under READ COMMITTED: the member's spends are serialised on a row lock taken before the
balance is read, stock and codes change only through conditional UPDATEs checked by their row count,
and UNIQUE constraints stand behind both (one code per redemption, one redemption per request).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from bot.store.database import Connection, Database
from bot.store.effects import apply_award, audit
from bot.store.records import (
    Award,
    CodeLine,
    RedeemOutcome,
    RedeemRequest,
    RedeemStatus,
    RedemptionRecord,
    RewardRecord,
    UnknownRewardError,
)
from bot.store.timestamps import to_text


class _Rollback(Exception):
    """Ends the redemption unit without its changes (the writer rolls it back), answering ``outcome``."""

    def __init__(self, outcome: RedeemOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


_REWARD_COLUMNS = (
    "SELECT r.id, r.title, r.cost, r.stock,"
    " (SELECT COUNT(*) FROM reward_codes c WHERE c.reward_id = r.id AND c.redeemed_by IS NULL),"
    " (SELECT COUNT(*) FROM redemptions d WHERE d.reward_id = r.id) FROM rewards r"
)


class RewardQueries:
    """Rewards, codes and redemptions over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # the catalog (operators) --------------------------------------------------------------------

    async def add_reward(self, reward_id: str, title: str, cost: int, stock: int | None, now: datetime) -> bool:
        """Add a reward, or change its title and cost (and stock, when given); ``True`` when it is new."""

        def unit(db: Connection) -> bool:
            existed = db.execute("SELECT 1 FROM rewards WHERE id = ?", (reward_id,)).fetchone() is not None
            db.execute(
                "INSERT INTO rewards (id, title, cost, stock, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, cost = excluded.cost,"
                " stock = COALESCE(excluded.stock, rewards.stock)",
                (reward_id, title, cost, stock, to_text(now)),
            )
            return not existed

        return await self.store.write(unit)

    async def import_codes(self, lines: Sequence[CodeLine], now: datetime) -> Counter[str]:
        """Load codes (a code already known is skipped) and add them to their rewards' stock.

        Returns how many new codes each reward got. All or nothing.

        Raises:
            UnknownRewardError: some lines name no existing reward; nothing was imported.
        """

        def unit(db: Connection) -> Counter[str]:
            known = {row[0] for row in db.execute("SELECT id FROM rewards")}
            unknown = [line for line in lines if line.reward_id not in known]
            if unknown:
                raise UnknownRewardError(unknown)
            added: Counter[str] = Counter()
            for line in lines:
                cursor = db.execute(
                    "INSERT INTO reward_codes (reward_id, code, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (code) DO NOTHING",
                    (line.reward_id, line.code, to_text(now)),
                )
                added[line.reward_id] += cursor.rowcount
            for reward_id, count in added.items():
                db.execute("UPDATE rewards SET stock = COALESCE(stock, 0) + ? WHERE id = ?", (count, reward_id))
            return +added

        return await self.store.write(unit)

    async def catalog(self) -> list[RewardRecord]:
        rows = await self.store.fetchall(f"{_REWARD_COLUMNS} ORDER BY r.cost, r.id")
        return [RewardRecord(*row) for row in rows]

    async def reward(self, reward_id: str) -> RewardRecord | None:
        row = await self.store.fetchone(f"{_REWARD_COLUMNS} WHERE r.id = ?", (reward_id,))
        return RewardRecord(*row) if row else None

    # redeeming ----------------------------------------------------------------------------------

    async def redeem(self, request: RedeemRequest, now: datetime) -> RedeemOutcome:
        """Spend the member's points on the reward, atomically; see the module docstring."""
        try:
            return await self.store.write(lambda db: _redeem(db, request, now))
        except _Rollback as rollback:
            return rollback.outcome

    async def redemptions(self, space_id: int) -> list[RedemptionRecord]:
        """Every redemption made in a space, oldest first (for moderators' CSV exports)."""
        rows = await self.store.fetchall(
            "SELECT d.id, d.created_at, d.reward_id, r.title, d.cost, d.user_id, u.display_name, u.platform,"
            " u.platform_user_id, EXISTS (SELECT 1 FROM reward_codes c WHERE c.redemption_id = d.id)"
            " FROM redemptions d JOIN rewards r ON r.id = d.reward_id JOIN users u ON u.id = d.user_id"
            " WHERE d.space_id = ? ORDER BY d.id",
            (space_id,),
        )
        return [
            RedemptionRecord(
                id=row[0],
                created_at=datetime.fromisoformat(row[1]),
                reward_id=row[2],
                title=row[3],
                cost=row[4],
                user_id=row[5],
                display_name=row[6],
                platform=row[7],
                platform_user_id=row[8],
                code_issued=bool(row[9]),
            )
            for row in rows
        ]

    # a member's codes ---------------------------------------------------------------------------

    async def codes_of(self, user_id: int, limit: int) -> list[tuple[str, str]]:
        """The person's latest reward codes as (reward title, code), those of linked accounts included: a lost
        reply is never a lost code, nor is one redeemed before linking."""
        rows = await self.store.fetchall(
            "SELECT r.title, c.code FROM reward_codes c JOIN rewards r ON r.id = c.reward_id"
            " WHERE c.redeemed_by = ? OR c.redeemed_by IN (SELECT account_id FROM account_links WHERE person_id = ?)"
            " ORDER BY c.redemption_id DESC LIMIT ?",
            (user_id, user_id, limit),
        )
        return [(row[0], row[1]) for row in rows]


def _redeem(db: Connection, request: RedeemRequest, now: datetime) -> RedeemOutcome:
    reward = db.execute("SELECT title, cost FROM rewards WHERE id = ?", (request.reward_id,)).fetchone()
    if reward is None:
        return RedeemOutcome(RedeemStatus.UNKNOWN_REWARD)
    title, cost = str(reward[0]), int(reward[1])
    # Count the member's redemptions; on PostgreSQL this upsert also holds the member's row lock until
    # commit, so the same member's redemptions run one after the other from here on.
    db.execute(
        "INSERT INTO user_counters (user_id, counter, value) VALUES (?, 'redemptions', 1)"
        " ON CONFLICT (user_id, counter) DO UPDATE SET value = user_counters.value + 1",
        (request.user_id,),
    )
    if request.request_key is not None:
        earlier = db.execute(
            "SELECT d.id, c.code FROM redemptions d LEFT JOIN reward_codes c ON c.redemption_id = d.id"
            " WHERE d.request_key = ?",
            (request.request_key,),
        ).fetchone()
        if earlier is not None:
            raise _Rollback(RedeemOutcome(RedeemStatus.ALREADY_REDEEMED, title, cost, 0, int(earlier[0]), earlier[1]))
    # The reward's row lock (PostgreSQL) also makes concurrent claims of its codes take turns.
    if (
        db.execute(
            "UPDATE rewards SET stock = stock - 1 WHERE id = ? AND (stock IS NULL OR stock > 0)",
            (request.reward_id,),
        ).rowcount
        != 1
    ):
        raise _Rollback(RedeemOutcome(RedeemStatus.OUT_OF_STOCK, title, cost))
    balance = int(
        db.execute("SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE user_id = ?", (request.user_id,)).fetchone()[0]
    )
    if balance < cost:
        raise _Rollback(RedeemOutcome(RedeemStatus.NOT_ENOUGH_POINTS, title, cost, balance))
    redemption_id = int(
        db.execute(
            "INSERT INTO redemptions (reward_id, user_id, space_id, cost, request_key, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (request.reward_id, request.user_id, request.space_id, cost, request.request_key, to_text(now)),
        ).fetchone()[0]
    )
    claimed = db.execute(
        "UPDATE reward_codes SET redeemed_by = ?, redemption_id = ? WHERE id = (SELECT id FROM reward_codes"
        " WHERE reward_id = ? AND redeemed_by IS NULL ORDER BY id LIMIT 1)"
        " AND redeemed_by IS NULL RETURNING code",
        (request.user_id, redemption_id, request.reward_id),
    ).fetchone()
    if (
        claimed is None
        and db.execute("SELECT 1 FROM reward_codes WHERE reward_id = ? LIMIT 1", (request.reward_id,)).fetchone()
    ):
        raise _Rollback(RedeemOutcome(RedeemStatus.OUT_OF_STOCK, title, cost))
    spend = Award(request.user_id, request.space_id, None, -cost, "redeem", title, f"redeem:{redemption_id}")
    apply_award(db, spend, request.rules, now)
    audit(
        db,
        space_id=request.space_id,
        moderator_id=request.user_id,
        action="redeem",
        target=request.reward_id,
        detail=f"#{redemption_id} -{cost}",
        now=now,
    )
    outcome = RedeemOutcome(
        RedeemStatus.REDEEMED,
        title,
        cost,
        balance - cost,
        redemption_id,
        str(claimed[0]) if claimed else None,
    )
    return outcome
