"""SQL for gamification and rewards: counters, badges and levels, the rewards catalog, codes, redemptions.

Badges are decided inside the unit of work of the effect that earns them (:func:`after_answer` is called
by ``record_answer``; the ideas code calls :func:`award_badges`), so a badge and its cause commit
together, and the primary key of ``user_badges`` hands each one out once however many units race.

A redemption is one unit (:meth:`RewardQueries.redeem`) written so that it would also hold on
PostgreSQL under READ COMMITTED: the member's spends are serialised on a row lock taken before the
balance is read, stock and codes change only through conditional UPDATEs checked by their row count,
and UNIQUE constraints stand behind both (one code per redemption, one redemption per request).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.points import EVERYONE, level_for
from bot.settings import BadgeCounter, BadgeRule
from bot.store.outbox_sql import audit
from bot.store.records import Award, Awarded, PointRules
from bot.store.scoring import apply_award
from bot.store.timestamps import to_text

if TYPE_CHECKING:  # sqlite.py calls after_answer: no import cycle at run time
    from bot.store.base import Store

# badges and levels: called inside other units of work ------------------------------------------


def award_badges(
    db: sqlite3.Connection,
    user_id: int,
    counter: BadgeCounter,
    rules: PointRules,
    now: datetime,
    step: int = 1,
) -> tuple[str, ...]:
    """Count ``step`` more of ``counter`` for the member; returns the ids of the badges this newly earned.

    Call it in the unit of the effect being counted (an idea stored, a vote cast, an idea accepted) and
    only when that effect happened, so the count and the effect commit together. Only rules whose
    threshold lies between the old and the new count are tried: the usual cost is one upsert.
    """
    row = db.execute(
        "INSERT INTO user_counters (user_id, counter, value) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, counter) DO UPDATE SET value = user_counters.value + excluded.value RETURNING value",
        (user_id, counter, step),
    ).fetchone()
    new = int(row[0])
    old = new - step
    return _grant(
        db,
        user_id,
        (rule for rule in rules.badges if rule.counter == counter and old < rule.at_least <= new),
        now,
    )


def after_answer(db: sqlite3.Connection, user_id: int, awarded: Awarded, rules: PointRules, now: datetime) -> Awarded:
    """An answer's badges (answer count, streak) and level-up, decided in the answer's own unit."""
    badges = award_badges(db, user_id, "answers", rules, now)
    # A streak grows by one a day, so reaching a threshold means being equal to it.
    reached = (rule for rule in rules.badges if rule.counter == "streak" and rule.at_least == awarded.streak_days)
    badges += _grant(db, user_id, reached, now)
    return replace(awarded, badges=badges, level_up=_level_up(db, user_id, awarded.points))


def _grant(db: sqlite3.Connection, user_id: int, rules: Iterable[BadgeRule], now: datetime) -> tuple[str, ...]:
    granted = []
    for rule in rules:
        cursor = db.execute(
            "INSERT INTO user_badges (user_id, badge, earned_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, rule.id, to_text(now)),
        )
        if cursor.rowcount == 1:
            granted.append(rule.id)
    return tuple(granted)


def _level_up(db: sqlite3.Connection, user_id: int, gained: int) -> int:
    """The level just reached when ``gained`` points crossed a level threshold, else 0."""
    if gained <= 0:
        return 0
    row = db.execute("SELECT points FROM scores WHERE scope = ? AND user_id = ?", (EVERYONE, user_id)).fetchone()
    earned = int(row[0]) if row else 0
    level = level_for(earned)[0]
    return level if level > level_for(earned - gained)[0] else 0


# records --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RewardRecord:
    id: str
    title: str
    cost: int
    stock: int | None  # None: no limit
    codes_left: int
    redeemed: int

    @property
    def available(self) -> bool:
        return self.stock is None or self.stock > 0


class RedeemStatus(StrEnum):
    REDEEMED = "redeemed"
    ALREADY_REDEEMED = "already_redeemed"
    UNKNOWN_REWARD = "unknown_reward"
    OUT_OF_STOCK = "out_of_stock"
    NOT_ENOUGH_POINTS = "not_enough_points"


@dataclass(frozen=True, slots=True)
class RedeemRequest:
    """One member asking for one reward; ``request_key`` makes a retry of the same request a no-op."""

    user_id: int
    space_id: int
    reward_id: str
    request_key: str | None
    rules: PointRules


@dataclass(frozen=True, slots=True)
class RedeemOutcome:
    status: RedeemStatus
    title: str = ""
    cost: int = 0
    balance: int = 0  # after the spend when redeemed, else what the member holds
    redemption_id: int = 0
    code: str | None = None


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    """A row of the redemptions export (the code itself stays out: it is the member's alone)."""

    id: int
    created_at: datetime
    reward_id: str
    title: str
    cost: int
    user_id: int
    display_name: str
    platform: str
    platform_user_id: str
    code_issued: bool


@dataclass(frozen=True, slots=True)
class CodeLine:
    """One code from an operator's file, with its line number for error messages."""

    line: int
    reward_id: str
    code: str


class UnknownRewardError(ValueError):
    """A codes file names rewards that do not exist; nothing of the file was imported."""

    def __init__(self, lines: Sequence[CodeLine]) -> None:
        self.lines = tuple(lines)
        super().__init__(", ".join(f"line {line.line}: {line.reward_id!r}" for line in lines))


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
    """Rewards, badges and profile SQL over a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # the catalog (operators) --------------------------------------------------------------------

    async def add_reward(self, reward_id: str, title: str, cost: int, stock: int | None, now: datetime) -> bool:
        """Add a reward, or change its title and cost (and stock, when given); ``True`` when it is new."""

        def unit(db: sqlite3.Connection) -> bool:
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

        def unit(db: sqlite3.Connection) -> Counter[str]:
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

    # a member's profile -------------------------------------------------------------------------

    async def earned(self, user_id: int) -> int:
        """Points earned over all time: levels follow them, so spending points never costs a level."""
        return int(
            await self.store.fetchval(
                "SELECT points FROM scores WHERE scope = ? AND user_id = ?", (EVERYONE, user_id), 0
            )
        )

    async def codes_of(self, user_id: int, limit: int) -> list[tuple[str, str]]:
        """The member's latest reward codes as (reward title, code): a lost reply is never a lost code."""
        rows = await self.store.fetchall(
            "SELECT r.title, c.code FROM reward_codes c JOIN rewards r ON r.id = c.reward_id"
            " WHERE c.redeemed_by = ? ORDER BY c.redemption_id DESC LIMIT ?",
            (user_id, limit),
        )
        return [(row[0], row[1]) for row in rows]

    async def badges(self, user_id: int) -> list[str]:
        rows = await self.store.fetchall(
            "SELECT badge FROM user_badges WHERE user_id = ? ORDER BY earned_at, badge", (user_id,)
        )
        return [row[0] for row in rows]

    async def streak(self, user_id: int) -> tuple[date | None, int, int]:
        """(last day answered, streak length then, best streak ever)."""
        row = await self.store.fetchone("SELECT last_day, length, best FROM streaks WHERE user_id = ?", (user_id,))
        if row is None:
            return None, 0, 0
        return date.fromisoformat(row[0]), int(row[1]), int(row[2])


def _redeem(db: sqlite3.Connection, request: RedeemRequest, now: datetime) -> RedeemOutcome:
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
