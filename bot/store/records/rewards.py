"""Rewards: the catalog's rewards, a member's request to redeem one and its outcome, codes, redemptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.store.records.points import PointRules


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
