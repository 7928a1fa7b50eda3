"""SQL for the dashboard's aggregates: a community's spaces, who answered a round where, answers per hour,
the audit log filtered, and the audit row of a dashboard action that has no chat twin.

Every read is an aggregate or a bounded list (``GROUP BY`` in the database, ``LIMIT`` on the rows), so a
page costs the same few rows whether a round holds a hundred answers or a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.store.database import Database
from bot.store.effects import audit
from bot.store.members_sql import AUDIT_ROWS, MEMBER_ACTIONS
from bot.store.timestamps import to_text


@dataclass(frozen=True, slots=True)
class SpaceRow:
    """A space of a community: a group or channel on one platform."""

    id: int
    platform: str
    title: str


@dataclass(frozen=True, slots=True)
class SpaceTurnout:
    """How many people answered a round in one space (``space_id`` ``None``: before spaces were recorded)."""

    space_id: int | None
    platform: str
    title: str
    persons: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit rows the Audit log shows: by the teammate's name, the action and the day (UTC)."""

    teammate: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    limit: int = 100


class DashboardViews:
    """The dashboard's aggregate reads over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def spaces_of(self, community_id: int) -> list[SpaceRow]:
        """The community's group spaces (its home first): what its filters offer."""
        rows = await self.store.fetchall(
            "SELECT id, platform, title FROM spaces WHERE (id = ? OR community_id = ?) AND is_private = 0 ORDER BY id",
            (community_id, community_id),
        )
        return [SpaceRow(int(row[0]), str(row[1]), str(row[2])) for row in rows]

    async def turnout(self, round_id: int) -> list[SpaceTurnout]:
        """Per space the round was answered in, how many people answered there: the distinct (person,
        space) pairs first, read in order from the index ``answers_turnout`` (migration 0020), then a
        ``GROUP BY`` over those few (a quarter of ``COUNT(DISTINCT)``'s time on a round of half a million
        answers in SQLite), and the spaces joined to its few rows, not to every pair (91,317 pairs of a
        round of 577,559 answers in SQLite: 93 → 60 ms)."""
        rows = await self.store.fetchall(
            "SELECT g.space_id, COALESCE(s.platform, ''), COALESCE(s.title, ''), g.persons FROM"
            " (SELECT d.space_id, COUNT(*) AS persons"
            " FROM (SELECT DISTINCT user_id, space_id FROM answers WHERE round_id = ?) d GROUP BY d.space_id) g"
            " LEFT JOIN spaces s ON s.id = g.space_id ORDER BY g.space_id",
            (round_id,),
        )
        return [
            SpaceTurnout(None if row[0] is None else int(row[0]), str(row[1]), str(row[2]), int(row[3])) for row in rows
        ]

    async def answers_to(self, round_id: int, task_id: str) -> int:
        """How many answers a task of the round has, from the counters every answer bumps (no row read)."""
        return int(
            await self.store.fetchval(
                "SELECT SUM(answers) FROM task_counts WHERE round_id = ? AND task_id = ?", (round_id, task_id), 0
            )
            or 0
        )

    async def answers_per_hour(self, community_id: int, since: datetime) -> dict[str, int]:
        """Answers to the community's rounds since ``since``, by UTC hour (``2026-12-07T13``)."""
        rows = await self.store.fetchall(
            "SELECT SUBSTR(a.created_at, 1, 13) AS hour, COUNT(*) FROM rounds r JOIN answers a ON a.round_id = r.id"
            " AND a.created_at >= ? WHERE r.space_id = ? GROUP BY SUBSTR(a.created_at, 1, 13)",
            (to_text(since), community_id),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def audit_log(self, community_id: int, query: AuditQuery) -> list[dict[str, Any]]:
        """The community's audit rows the query selects, newest first, each naming the teammate
        (``moderator``) and, for an action about a member, that member (``member``)."""
        conditions, parameters = _audit_conditions(query)
        rows = await self.store.fetchall(
            f"{AUDIT_ROWS}{conditions} ORDER BY a.id DESC LIMIT ?",
            (*MEMBER_ACTIONS, community_id, *parameters, query.limit),
        )
        return [dict(row) for row in rows]

    async def audit_actions(self, community_id: int) -> list[str]:
        """The actions the community's audit log holds: what its filter offers."""
        rows = await self.store.fetchall(
            "SELECT DISTINCT action FROM audit WHERE space_id = ? ORDER BY action", (community_id,)
        )
        return [str(row[0]) for row in rows]

    async def record(
        self, community_id: int, moderator_id: int, action: str, target: str, detail: str, now: datetime
    ) -> None:
        """One audit row for a dashboard action whose use case writes none itself (rewards, teammates)."""
        await self.store.write(
            lambda db: audit(
                db,
                space_id=community_id,
                moderator_id=moderator_id,
                action=action,
                target=target,
                detail=detail,
                now=now,
            )
        )


def _audit_conditions(query: AuditQuery) -> tuple[str, tuple[Any, ...]]:
    conditions: list[str] = []
    parameters: list[Any] = []
    if query.teammate:
        conditions.append("LOWER(COALESCE(u.display_name, '')) LIKE ?")
        parameters.append(f"%{query.teammate.lower()}%")
    if query.action:
        conditions.append("a.action = ?")
        parameters.append(query.action)
    if query.since is not None:
        conditions.append("a.created_at >= ?")
        parameters.append(query.since.isoformat())
    if query.until is not None:
        conditions.append("a.created_at < ?")
        parameters.append(f"{query.until.isoformat()}T99")  # any time of that day sorts before "T99"
    return "".join(f" AND {condition}" for condition in conditions), tuple(parameters)
