"""Every record and status type that crosses the store boundary: frozen dataclasses and enums, no SQL.

One module per feature below this package; import them from here (``from bot.store.records import
IdeaStatus``), so the features and the SQL modules name one home for each type.
"""

from bot.store.records.ideas import (
    LISTED,
    STATUS_BADGE_COUNTERS,
    ChangeOutcome,
    ChangeResult,
    Compose,
    IdeaPoints,
    IdeaRecord,
    IdeaStatus,
    NewIdea,
    Proposal,
    Recipient,
    StatusChange,
    Submitted,
    VoteResult,
    VoteStatus,
)
from bot.store.records.outbox import OutboxRow
from bot.store.records.points import Award, Awarded, LedgerEntry, PointRules, Standing, Streak
from bot.store.records.rewards import (
    CodeLine,
    RedeemOutcome,
    RedeemRequest,
    RedeemStatus,
    RedemptionRecord,
    RewardRecord,
    UnknownRewardError,
)
from bot.store.records.rounds import NO_CHECKS, Announcement, AttentionChecks, Closing, DueRound, NewRound, RoundRecord
from bot.store.records.tasks import AnswerResult, AnswerStatus, NewAnswer, ProgressQuery, SkipStatus, TaskProgress

__all__ = [
    "LISTED",
    "NO_CHECKS",
    "STATUS_BADGE_COUNTERS",
    "Announcement",
    "AnswerResult",
    "AnswerStatus",
    "AttentionChecks",
    "Award",
    "Awarded",
    "ChangeOutcome",
    "ChangeResult",
    "Closing",
    "CodeLine",
    "Compose",
    "DueRound",
    "IdeaPoints",
    "IdeaRecord",
    "IdeaStatus",
    "LedgerEntry",
    "NewAnswer",
    "NewIdea",
    "NewRound",
    "OutboxRow",
    "PointRules",
    "ProgressQuery",
    "Proposal",
    "Recipient",
    "RedeemOutcome",
    "RedeemRequest",
    "RedeemStatus",
    "RedemptionRecord",
    "RewardRecord",
    "RoundRecord",
    "SkipStatus",
    "Standing",
    "StatusChange",
    "Streak",
    "Submitted",
    "TaskProgress",
    "UnknownRewardError",
    "VoteResult",
    "VoteStatus",
]
