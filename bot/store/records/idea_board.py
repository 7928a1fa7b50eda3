"""The team's view of ideas: the Ideas page's filter and rows, a merge's preview, tags, notes, assignees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from bot.store.records.ideas import IdeaRecord, IdeaStatus

BOARD_SORTS = ("top", "trending", "new")


@dataclass(frozen=True, slots=True)
class BoardFilter:
    """Which ideas of a community the Ideas page lists, in which order, and which page of them.

    ``status`` ``None`` lists every idea but merged ones (they live on in their target); ``space_id`` is the
    space an idea was proposed in, ``platform`` that space's platform; ``since``/``until`` are whole days
    (UTC), both included.
    """

    community_id: int
    sort: str = "top"
    status: IdeaStatus | None = None
    category: str | None = None
    space_id: int | None = None
    platform: str | None = None
    since: date | None = None
    until: date | None = None
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One idea as the team sees it: the idea, where it came from, who has it, its tags and notes."""

    idea: IdeaRecord
    platform: str
    space_title: str
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    notes: tuple[NoteRow, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class NoteRow:
    """An internal note on an idea: who wrote it, when, and what (members never see it); ``merged_from``
    is the idea it was written on when that idea has since been merged into this one."""

    author: str
    text: str
    created_at: datetime
    merged_from: int | None = None


@dataclass(frozen=True, slots=True)
class BoardPage:
    rows: tuple[BoardRow, ...]
    total: int


@dataclass(frozen=True, slots=True)
class SpaceChoice:
    """A space of a community the page can filter by."""

    id: int
    platform: str
    title: str


@dataclass(frozen=True, slots=True)
class MergePreview:
    """What merging ``source`` into ``target`` would leave the target: ``kept`` distinct voters (a member
    who voted for both counts once; the target's author's vote on the source is dropped)."""

    source_votes: int
    target_votes: int
    kept: int


class TriageOutcome(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not_found"
