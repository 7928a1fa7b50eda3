"""SQL for themes: moderators' edits of a round's themes and the options promoted from them.

Each write is audited in its own transaction. A promotion is an insert that two constraints guard
(``UNIQUE (community, campaign, task, folded label)`` and ``UNIQUE (source round, task, central answer)``): two
moderators promoting the same theme at once, in one process or two, add exactly one option, and the
second is told it is already there.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.store.database import Connection, Database
from bot.store.effects import audit
from bot.store.ideas_sql import LISTED_SQL
from bot.store.records import EditAction, NewThemeEdit, PromotedOption, Promotion, ThemeEdit
from bot.store.timestamps import from_text, to_text


class ThemeQueries:
    """Theme edits and promoted options over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def add_edit(self, edit: NewThemeEdit, now: datetime) -> None:
        """Store a moderator's edit of a round's themes, audited (``theme_<action>``) in the same transaction."""

        def unit(db: Connection) -> None:
            db.execute(
                "INSERT INTO theme_edits (round_id, task_id, action, answer_ids, name, moderator_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    edit.round_id,
                    edit.task_id,
                    edit.action.value,
                    json.dumps(list(edit.answer_ids)),
                    edit.name,
                    edit.moderator_id,
                    to_text(now),
                ),
            )
            detail = " ".join(str(answer_id) for answer_id in edit.answer_ids)
            audit(
                db,
                space_id=edit.space_id,
                moderator_id=edit.moderator_id,
                action=f"theme_{edit.action.value}",
                target=f"round {edit.round_id} {edit.task_id}",
                detail=f"{detail} {edit.name}".strip(),
                now=now,
            )

        await self.store.write(unit)

    async def edits(self, round_id: int, task_id: str) -> list[ThemeEdit]:
        """A task's theme edits in the order they were made (the order they are applied in)."""
        rows = await self.store.fetchall(
            "SELECT id, action, answer_ids, name FROM theme_edits WHERE round_id = ? AND task_id = ? ORDER BY id",
            (round_id, task_id),
        )
        return [
            ThemeEdit(int(row[0]), EditAction(row[1]), tuple(int(i) for i in json.loads(row[2])), str(row[3]))
            for row in rows
        ]

    async def idea_texts(self, round_id: int) -> list[tuple[int, str]]:
        """(idea id, text) of an ideas round's listed ideas, oldest first: the texts its themes are computed from."""
        rows = await self.store.fetchall(
            f"SELECT id, text FROM ideas WHERE round_id = ? AND {LISTED_SQL} ORDER BY id",  # noqa: S608
            (round_id,),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    async def answer_round(self, answer_id: int) -> tuple[int, str] | None:
        """(round id, task id) of a typed answer: where a theme id (one of its answers) belongs."""
        row = await self.store.fetchone("SELECT round_id, task_id FROM answers WHERE id = ?", (answer_id,))
        return None if row is None else (int(row[0]), str(row[1]))

    async def promote(self, promotion: Promotion, now: datetime) -> bool:
        """Add a promoted option, audited; ``False`` (nothing written) when the question already has that
        label or the theme was promoted already."""

        def unit(db: Connection) -> bool:
            cursor = db.execute(
                "INSERT INTO promoted_options (space_id, campaign_id, task_id, option_key, label, source_round_id,"
                " anchor_answer_id, promoted_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    promotion.space_id,
                    promotion.campaign_id,
                    promotion.task_id,
                    promotion.option_key,
                    promotion.label,
                    promotion.source_round_id,
                    promotion.anchor_answer_id,
                    promotion.moderator_id,
                    to_text(now),
                ),
            )
            if cursor.rowcount != 1:
                return False
            audit(
                db,
                space_id=promotion.space_id,
                moderator_id=promotion.moderator_id,
                action="theme_promote",
                target=f"{promotion.campaign_id}/{promotion.task_id}",
                detail=promotion.label,
                now=now,
            )
            return True

        return await self.store.write(unit)

    async def promoted(self) -> list[PromotedOption]:
        """Every promoted option, oldest first, with its community's title: the catalog overrides the bot
        serves (each in its community) and the operator reviews."""
        rows = await self.store.fetchall(
            "SELECT p.id, p.space_id, COALESCE(s.title, ''), p.campaign_id, p.task_id, p.label, p.source_round_id,"
            " COALESCE(u.display_name, ''), p.created_at FROM promoted_options p"
            " JOIN spaces s ON s.id = p.space_id LEFT JOIN users u ON u.id = p.promoted_by ORDER BY p.id"
        )
        return [
            PromotedOption(
                int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), str(r[7]), from_text(r[8])
            )
            for r in rows
        ]
