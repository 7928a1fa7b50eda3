"""SQL for the team's work on ideas: the Ideas page's filtered, sorted, paged listing, a merge's preview,
and tags, assignees and internal notes, each write one unit with its audit row.

The listing is one page of rows and one count, filtered and ordered by the database (``top``, ``new`` and
``trending`` as the chat's ``/ideas`` orders them, trending's Hacker News score computed in SQL), so a
community with ten thousand ideas costs a page, never all of them in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.store.database import Connection, Database
from bot.store.dialects import dialect
from bot.store.effects import audit
from bot.store.ideas_sql import IDEA_COLUMNS, idea_record
from bot.store.records import (
    BoardFilter,
    BoardPage,
    BoardRow,
    IdeaStatus,
    MergePreview,
    NoteRow,
    SpaceChoice,
    TriageOutcome,
)
from bot.store.timestamps import to_text

# Keep the trending formula identical to bot.features.ideas.similarity.trending_score (gravity 1.5).
_AGE_HOURS = {
    "sqlite": "MAX((julianday(?) - julianday(i.created_at)) * 24, 0)",
    # double precision: EXTRACT gives numeric, whose POWER is exact and far slower
    "postgresql": "GREATEST(CAST(EXTRACT(EPOCH FROM (CAST(? AS timestamptz) - CAST(i.created_at AS timestamptz)))"
    " AS double precision) / 3600, 0)",
}
_ORDER = {
    "top": "i.votes DESC, i.id",
    "new": "i.created_at DESC, i.id DESC",
}
_FROM = (
    " FROM ideas i JOIN users u ON u.id = i.author_id JOIN spaces s ON s.id = COALESCE(i.origin_space_id, i.space_id)"
    " LEFT JOIN users a ON a.id = i.assignee_id"
)
AUDIT_NOTE_SNIPPET = 100  # characters of a note the audit log keeps (the note itself stays on the idea)


class IdeaBoardQueries:
    """The Ideas page's reads and the team's own writes on ideas, over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # reads --------------------------------------------------------------------------------------

    async def board(self, wanted: BoardFilter, now: datetime) -> BoardPage:
        """One page of the community's ideas as ``wanted`` says, with the count of all that match."""

        def unit(db: Connection) -> BoardPage:
            where, parameters = _where(wanted)
            if wanted.sort == "trending":
                order = f"i.votes / POWER({_AGE_HOURS[dialect(db)]} + 2, 1.5) DESC, i.created_at DESC, i.id DESC"
                order_parameters: list[Any] = [to_text(now)]
            else:
                order, order_parameters = _ORDER.get(wanted.sort, _ORDER["top"]), []
            rows = db.execute(
                f"SELECT {IDEA_COLUMNS}, s.platform AS origin_platform, s.title AS origin_title,"
                f" a.display_name AS assignee{_FROM} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*parameters, *order_parameters, wanted.limit, wanted.offset),
            ).fetchall()
            counted = _FROM if wanted.platform is not None else " FROM ideas i"  # the joins only filter by platform
            total = db.execute(f"SELECT COUNT(*){counted} WHERE {where}", parameters).fetchone()[0]
            ids = [int(row["id"]) for row in rows]
            tags, notes = _tags_of(db, ids), _notes_of(db, ids)
            shown = tuple(
                BoardRow(
                    idea_record(row),
                    str(row["origin_platform"]),
                    str(row["origin_title"] or ""),
                    row["assignee"],
                    tuple(tags[int(row["id"])]),
                    tuple(notes[int(row["id"])]),
                )
                for row in rows
            )
            return BoardPage(shown, int(total))

        return await self.store.read(unit)

    async def spaces(self, community_id: int) -> list[SpaceChoice]:
        """The community's spaces (its home first), which the page filters by."""
        rows = await self.store.fetchall(
            "SELECT id, platform, title, external_id FROM spaces WHERE id = ? OR community_id = ?"
            " ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, id",
            (community_id, community_id, community_id),
        )
        return [SpaceChoice(int(row[0]), str(row[1]), str(row[2] or row[3])) for row in rows]

    async def categories(self, community_id: int) -> list[str]:
        """The categories the community's ideas were filed under."""
        rows = await self.store.fetchall(
            "SELECT DISTINCT category FROM ideas WHERE space_id = ? AND category IS NOT NULL ORDER BY category",
            (community_id,),
        )
        return [str(row[0]) for row in rows]

    async def merge_preview(self, source_id: int, target_id: int) -> MergePreview:
        """The votes each idea has and the distinct voters the target would keep after the merge, counted
        as the merge moves them (:func:`bot.store.ideas_sql._move_votes`)."""

        def unit(db: Connection) -> MergePreview:
            rows = db.execute("SELECT id, votes FROM ideas WHERE id IN (?, ?)", (source_id, target_id)).fetchall()
            counts = {int(row[0]): int(row[1]) for row in rows}
            kept = db.execute(
                "SELECT COUNT(*) FROM (SELECT user_id FROM votes WHERE idea_id = ? UNION SELECT user_id FROM votes"
                " WHERE idea_id = ? AND user_id != (SELECT author_id FROM ideas WHERE id = ?)) AS voters",
                (target_id, source_id, target_id),
            ).fetchone()[0]
            return MergePreview(int(counts.get(source_id, 0)), int(counts.get(target_id, 0)), int(kept))

        return await self.store.read(unit)

    # writes: each with its audit row ------------------------------------------------------------

    async def tag(
        self, idea_id: int, space_id: int, moderator_id: int, tag: str, add: bool, now: datetime
    ) -> TriageOutcome:
        """Put a tag on an idea of ``space_id`` (``add``) or take it off."""

        def change(db: Connection) -> str | None:
            if add:
                sql = "INSERT INTO idea_tags (idea_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING"
            else:
                sql = "DELETE FROM idea_tags WHERE idea_id = ? AND tag = ?"
            return tag if db.execute(sql, (idea_id, tag)).rowcount else None

        return await self._edit(_Edit(idea_id, space_id, moderator_id, "tag" if add else "untag", now), change)

    async def assign(
        self, idea_id: int, space_id: int, moderator_id: int, assignee_id: int | None, now: datetime
    ) -> TriageOutcome:
        """Give an idea of ``space_id`` to a teammate (``None``: to nobody)."""

        def change(db: Connection) -> str | None:
            current = db.execute("SELECT assignee_id FROM ideas WHERE id = ?", (idea_id,)).fetchone()[0]
            if current == assignee_id:
                return None
            db.execute("UPDATE ideas SET assignee_id = ? WHERE id = ?", (assignee_id, idea_id))
            if assignee_id is None:
                return ""
            return str(db.execute("SELECT display_name FROM users WHERE id = ?", (assignee_id,)).fetchone()[0])

        return await self._edit(_Edit(idea_id, space_id, moderator_id, "assign", now), change)

    async def add_note(self, idea_id: int, space_id: int, moderator_id: int, text: str, now: datetime) -> TriageOutcome:
        """Add an internal note to an idea of ``space_id`` (the audit row keeps its beginning)."""

        def change(db: Connection) -> str:
            db.execute(
                "INSERT INTO idea_notes (idea_id, author_id, text, created_at) VALUES (?, ?, ?, ?)",
                (idea_id, moderator_id, text, to_text(now)),
            )
            return text[:AUDIT_NOTE_SNIPPET]

        return await self._edit(_Edit(idea_id, space_id, moderator_id, "note", now), change)

    async def _edit(self, edit: _Edit, change: Callable[[Connection], str | None]) -> TriageOutcome:
        """One edit of an idea and its audit row, in one unit: ``change`` makes the edit and returns the
        audit row's detail, or ``None`` when it changed nothing (no row then); another community's idea
        is not found."""

        def unit(db: Connection) -> TriageOutcome:
            owned = db.execute("SELECT 1 FROM ideas WHERE id = ? AND space_id = ?", (edit.idea_id, edit.space_id))
            if owned.fetchone() is None:
                return TriageOutcome.NOT_FOUND
            detail = change(db)
            if detail is None:
                return TriageOutcome.UNCHANGED
            audit(
                db,
                space_id=edit.space_id,
                moderator_id=edit.moderator_id,
                action=edit.action,
                target=f"#{edit.idea_id}",
                detail=detail,
                now=edit.now,
            )
            return TriageOutcome.DONE

        return await self.store.write(unit)


@dataclass(frozen=True, slots=True)
class _Edit:
    """Which idea a teammate edits, in which community, and the audit log's name for the edit."""

    idea_id: int
    space_id: int
    moderator_id: int
    action: str
    now: datetime


def _where(wanted: BoardFilter) -> tuple[str, list[Any]]:
    """The listing's WHERE and its parameters (only ``?`` placeholders: nothing typed reaches the SQL)."""
    clauses: list[str] = ["i.space_id = ?"]
    parameters: list[Any] = [wanted.community_id]
    if wanted.status is None:
        clauses.append("i.status != ?")
        parameters.append(IdeaStatus.MERGED.value)
    else:
        clauses.append("i.status = ?")
        parameters.append(wanted.status.value)
    if wanted.category is not None:
        clauses.append("i.category = ?")
        parameters.append(wanted.category)
    if wanted.space_id is not None:
        clauses.append("COALESCE(i.origin_space_id, i.space_id) = ?")
        parameters.append(wanted.space_id)
    if wanted.platform is not None:
        clauses.append("s.platform = ?")
        parameters.append(wanted.platform)
    if wanted.since is not None:
        clauses.append("i.created_at >= ?")
        parameters.append(to_text(datetime.combine(wanted.since, time(), UTC)))
    if wanted.until is not None:
        clauses.append("i.created_at < ?")
        parameters.append(to_text(datetime.combine(wanted.until + timedelta(days=1), time(), UTC)))
    return " AND ".join(clauses), parameters


def _in(ids: Sequence[int]) -> str:
    return ", ".join("?" * len(ids))


def _tags_of(db: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = db.execute(f"SELECT idea_id, tag FROM idea_tags WHERE idea_id IN ({_in(ids)}) ORDER BY tag", ids)  # noqa: S608
        for row in rows.fetchall():
            found[int(row[0])].append(str(row[1]))
    return found


def _notes_of(db: Connection, ids: Sequence[int]) -> dict[int, list[NoteRow]]:
    """The notes on each idea, and those on ideas merged into it (marked with where they were written):
    a merge hides the merged idea, and what the team wrote about it must not vanish with it."""
    found: dict[int, list[NoteRow]] = defaultdict(list)
    if ids:
        rows = db.execute(
            "SELECT n.idea_id, i.merged_into, u.display_name, n.text, n.created_at FROM idea_notes n"  # noqa: S608
            " JOIN ideas i ON i.id = n.idea_id JOIN users u ON u.id = n.author_id"
            f" WHERE n.idea_id IN ({_in(ids)}) OR i.merged_into IN ({_in(ids)}) ORDER BY n.id",
            [*ids, *ids],
        )
        shown = set(ids)
        for row in rows.fetchall():
            written_on = int(row[0])
            on, merged_from = (written_on, None) if written_on in shown else (int(row[1]), written_on)
            found[on].append(NoteRow(str(row[2]), str(row[3]), datetime.fromisoformat(row[4]), merged_from))
    return found
