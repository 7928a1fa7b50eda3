"""Communities: a space's place in one, linking codes, and what joining with a code can come to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Place:
    """A space's own id and its community's: the home space's id, the space's own for a community of one.

    Features key rounds, ideas and leaderboards on ``community_id``; replies go back to the space itself.
    """

    space_id: int
    community_id: int


class JoinOutcome(StrEnum):
    JOINED = "joined"
    WRONG_CODE = "wrong_code"  # no such code (mistyped, or never made)
    EXPIRED = "expired"
    USED = "used"
    ALREADY_MEMBER = "already_member"  # the space is in that community already
    IN_ANOTHER = "in_another"  # the space belongs to another community (or others joined it)
    BUSY = "busy"  # the space has open rounds of its own: they would be cut off from the community


class LeaveOutcome(StrEnum):
    LEFT = "left"
    NOT_LINKED = "not_linked"  # the space is a community of its own: nothing to leave
    HOME = "home"  # the home holds the community's rounds and ideas: the other spaces leave it instead


@dataclass(frozen=True, slots=True)
class CommunitySpace:
    """One space of a community, as ``/community`` lists it."""

    platform: str
    external_id: str
    title: str
    is_home: bool
