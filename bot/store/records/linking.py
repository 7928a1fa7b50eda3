"""Records of linked accounts: who an account is, what a code typed or a confirmation came to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Identity:
    """A platform account's own id and its person's: the primary account's id, or its own when unlinked."""

    account_id: int
    person_id: int


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """One account of a person, as ``/link`` lists it."""

    account_id: int
    platform: str
    display_name: str
    primary: bool
    linked_at: datetime | None


class LinkStatus(StrEnum):
    """What typing a code or confirming a link came to; every refusal changes nothing."""

    CLAIMED = "claimed"  # the code was right: the owner is asked to confirm
    LINKED = "linked"
    WRONG = "wrong"  # no such code (a mistake counted against the account)
    TOO_MANY = "too_many"  # too many mistakes lately
    EXPIRED = "expired"
    USED = "used"  # used or revoked
    TAKEN = "taken"  # typed by another account already, waiting for the owner's confirmation
    SELF = "self"  # the code is the person's own
    ALREADY_LINKED = "already_linked"  # one of the two accounts is linked elsewhere
    NOT_OWNER = "not_owner"  # someone else pressed the confirmation


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """A status, and for a claim the owner's account (platform and name) asked to confirm."""

    status: LinkStatus
    platform: str = ""
    name: str = ""
    tries_left: int = 0


@dataclass(frozen=True, slots=True)
class Claimant:
    """The account that typed a code, as the owner's confirmation names it; where the owner is reached."""

    code_id: int
    platform: str
    name: str
    owner_platform: str
    owner_platform_user_id: str
    owner_language: str | None


class UnlinkStatus(StrEnum):
    UNLINKED = "unlinked"
    NOT_LINKED = "not_linked"
    TOO_SOON = "too_soon"


@dataclass(frozen=True, slots=True)
class UnlinkOutcome:
    status: UnlinkStatus
    accounts: int = 0
    allowed_from: datetime | None = None
