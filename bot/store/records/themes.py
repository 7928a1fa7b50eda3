"""Themes: a moderator's edit of a round's themes, and an option promoted from a theme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EditAction(StrEnum):
    """What a moderator did to a theme (the ``theme_edits.action`` column)."""

    RENAME = "rename"  # the theme holding the anchor answer is called ``name``
    MERGE = "merge"  # the themes holding the other answers join the anchor's theme
    SPLIT = "split"  # the anchor's theme is clustered again at a tighter threshold
    MOVE = "move"  # the named answers leave their themes for one new theme of their own


@dataclass(frozen=True, slots=True)
class ThemeEdit:
    """One stored edit: ``answer_ids[0]`` is the anchor (answer ids; idea ids for an ideas round)."""

    id: int
    action: EditAction
    answer_ids: tuple[int, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class NewThemeEdit:
    """An edit to store, audited in the same transaction."""

    round_id: int
    task_id: str
    action: EditAction
    answer_ids: tuple[int, ...]
    name: str
    space_id: int
    moderator_id: int


@dataclass(frozen=True, slots=True)
class Promotion:
    """A theme to add as an option of its question in the campaign's later rounds."""

    campaign_id: str
    task_id: str
    option_key: str  # the folded label: one option per label per question
    label: str
    source_round_id: int
    anchor_answer_id: int  # the theme's central answer: one promotion per theme
    space_id: int  # the community's (home space's): its later rounds serve the option
    moderator_id: int


@dataclass(frozen=True, slots=True)
class PromotedOption:
    """A promoted option as stored: served by the campaign's rounds in its community (``space_id``, the
    home space, titled ``community``) opened after ``source_round_id``."""

    id: int
    space_id: int
    community: str
    campaign_id: str
    task_id: str
    label: str
    source_round_id: int
    promoted_by: str
    created_at: datetime | None
