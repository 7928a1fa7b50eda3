"""Ideas: statuses, proposals, stored ideas, votes and moderators' status changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.settings import BadgeCounter
from bot.store.records.points import PointRules


class IdeaStatus(StrEnum):
    """Where an idea stands. ``pending`` waits for a moderator; ``hidden`` and ``merged`` leave the lists."""

    PENDING = "pending"
    NEW = "new"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    LAUNCHED = "launched"
    DECLINED = "declined"
    MERGED = "merged"
    HIDDEN = "hidden"


# Ideas that are listed, suggested as similar, and take votes (the store's LISTED_SQL says the same in SQL).
LISTED = (IdeaStatus.NEW, IdeaStatus.UNDER_REVIEW, IdeaStatus.ACCEPTED, IdeaStatus.LAUNCHED)


@dataclass(frozen=True, slots=True)
class Proposal:
    """An idea as its author proposed it; checked and cleaned before it is stored or kept as a draft."""

    user_id: int
    space_id: int
    text: str
    category: str | None = None
    parent_id: int | None = None
    origin_id: int | None = None  # the space it was proposed in (a community has several)


@dataclass(frozen=True, slots=True)
class NewIdea:
    """What storing an idea needs besides the proposal.

    ``update_key`` is recorded in ``processed_updates`` with the idea, so a redelivered message (or a
    second tap on "Submit anyway") finds the idea instead of storing another; ``draft_id`` is consumed.
    """

    proposal: Proposal
    round_id: int | None
    status: IdeaStatus
    update_key: str | None = None
    draft_id: int | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    idea_id: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class IdeaRecord:
    id: int
    space_id: int
    round_id: int | None
    author_id: int
    author_name: str
    text: str
    category: str | None
    parent_id: int | None
    status: IdeaStatus
    status_note: str
    merged_into: int | None
    votes: int
    created_at: datetime


STATUS_BADGE_COUNTERS: dict[IdeaStatus, BadgeCounter] = {
    IdeaStatus.ACCEPTED: "ideas_accepted",
    IdeaStatus.LAUNCHED: "ideas_launched",
}


@dataclass(frozen=True, slots=True)
class IdeaPoints:
    """The point rules of ideas, applied in the transaction of the vote or status that earns them."""

    rules: PointRules
    per_upvote: int
    upvote_cap: int
    bonuses: dict[IdeaStatus, int]
    early_supporters: int = 0  # how many of the first voters share in a launch
    supporter_bonus: int = 0  # what each of them gets, once per idea

    def upvotes_worth(self, votes: int) -> int:
        """What ``votes`` upvotes pay the author in all: per upvote, up to the per-idea cap."""
        return max(0, min(votes * self.per_upvote, self.upvote_cap))


class VoteStatus(StrEnum):
    RECORDED = "recorded"
    RETRACTED = "retracted"
    ALREADY_VOTED = "already_voted"
    NOT_VOTED = "not_voted"
    NOT_FOUND = "not_found"
    NOT_VOTABLE = "not_votable"
    OWN_IDEA = "own_idea"
    ROUND_CLOSED = "round_closed"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class VoteResult:
    status: VoteStatus
    votes: int = 0
    idea_status: IdeaStatus | None = None
    merged_into: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone told about a status change: the author or a voter, and the points the change pays them
    (the author's bonus the first time; an early supporter's share of a launch), 0 for most."""

    user_id: int
    platform: str
    platform_user_id: str
    language: str | None
    is_author: bool
    reward: int = 0


Compose = Callable[[Recipient], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A moderator's change to one idea.

    Attributes:
        action: the audit log's name for it (``status``, ``approve``, ``hide``).
        merged_into: the target, for ``merged``.
        only_from: refuse unless the idea has this status now (approving needs ``pending``).
        compose: the outbox payload for each recipient; ``None`` tells nobody.
    """

    idea_id: int
    space_id: int
    moderator_id: int
    status: IdeaStatus
    action: str
    note: str = ""
    merged_into: int | None = None
    only_from: IdeaStatus | None = None
    compose: Compose | None = None


class ChangeOutcome(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not_found"
    ALREADY_MERGED = "already_merged"
    NOT_PENDING = "not_pending"
    BAD_TARGET = "bad_target"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    outcome: ChangeOutcome
    votes: int = 0
    merged_into: int | None = None
