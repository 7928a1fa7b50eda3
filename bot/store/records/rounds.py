"""Rounds: a round as stored, what opening and closing one must do besides changing its row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.store.records.points import PointRules


@dataclass(frozen=True, slots=True)
class RoundRecord:
    id: int
    space_id: int
    kind: str
    subject: str
    status: str
    opened_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class Announcement:
    """The outbox message that tells every space of the round's community it opened (``payload`` gets the
    round's id added)."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewRound:
    """A round to open.

    With an ``announcement`` someone opened it: the audit log records who, and the space is told. Without
    one it is a standing round the bot opens by itself on first use (a campaign's ``auto_open``): quietly.
    ``update_key`` (the platform message) is recorded with the round: the same message delivered again,
    even after that round was closed, returns it instead of opening another.
    """

    space_id: int
    kind: str
    subject: str
    title: str = ""
    opened_by: int | None = None
    closes_at: datetime | None = None
    announcement: Announcement | None = None
    update_key: str | None = None


@dataclass(frozen=True, slots=True)
class AttentionChecks:
    """A campaign's attention checks as the store compares them: each check's task id and the stored value
    (JSON, as recorded) of its instructed answer.

    A member who gave another value to ``failures`` or more of them has all their answers (and skips)
    in the round left out of its tallies; with no checks nothing is left out.
    """

    passing: tuple[tuple[str, str], ...] = ()
    failures: int = 2


NO_CHECKS = AttentionChecks()


@dataclass(frozen=True, slots=True)
class AnswerFilter:
    """Which of a round's answers and skips the dashboard reads: by the platform and space they were given
    in, the member's language and the day (``since``/``until`` inclusive, UTC); ``None`` leaves a field
    open, and :data:`EVERY_ANSWER` filters nothing, so every tally and export takes one without a branch.

    ``default_language`` is what a member who never chose a language reads: filtering by it finds them too.
    """

    platform: str | None = None
    space_id: int | None = None
    language: str | None = None
    since: date | None = None
    until: date | None = None
    default_language: str = "en"

    @property
    def described(self) -> str:
        """The filter as ``name=value`` words (``platform=telegram since=2026-12-01``), for the audit log."""
        fields: dict[str, object] = {"platform": self.platform, "space": self.space_id, "language": self.language}
        fields |= {"since": self.since, "until": self.until}
        return " ".join(f"{name}={value}" for name, value in fields.items() if value is not None)

    @property
    def selects_all(self) -> bool:
        """Whether nothing is filtered (the tallies then read as they always did)."""
        return (self.platform, self.space_id, self.language, self.since, self.until) == (None,) * 5


EVERY_ANSWER = AnswerFilter()


@dataclass(frozen=True, slots=True)
class Closing:
    """What closing a round must do in its transaction besides flipping the status: pay an ideas round's
    winners, and write to the audit log each member a tasks round's attention ``checks`` leave out."""

    round_id: int
    closed_by: int | None
    winner_points: tuple[int, ...]
    rules: PointRules
    checks: AttentionChecks = NO_CHECKS  # whose answers are left out: audited when the round closes
