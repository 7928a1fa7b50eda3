"""SQL for the web dashboard: teammates and their one-time sign-in links, and the few read-only views a
page needs that no chat use case has (communities, members with points, overview counts).

Everything the dashboard *does* goes through the engine's use cases; this module only reads, apart from
its own two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.database import Connection, Database
from bot.store.timestamps import to_text


@dataclass(frozen=True, slots=True)
class Teammate:
    """A dashboard account: its name, its argon2id hash and its role (owner, moderator or viewer)."""

    name: str
    password_hash: str
    role: str


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """Who a one-time sign-in link was made for: a chat account."""

    platform: str
    platform_user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class CommunityRow:
    """A community as the dashboard lists it: its home space."""

    id: int
    platform: str
    external_id: str
    title: str


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A member of a community: who they are, their points here, and whether they are banned."""

    user_id: int
    platform: str
    platform_user_id: str
    display_name: str
    points: int
    banned: bool


# Whether member ``u`` took part in a community: earned points there, proposed an idea there, answered one of
# its rounds. Index probes per member that stop at the first row found (a member has a ledger row here as soon
# as they answered once): a UNION of those user ids would sort every ledger row and answer of the community to
# drop the repeats, about five times as long with a million answers (issue 20's benchmark). Parameters: the
# community's id three times.
_TOOK_PART = (
    "(EXISTS (SELECT 1 FROM ledger l WHERE l.user_id = u.id AND l.space_id = ?)"
    " OR EXISTS (SELECT 1 FROM ideas i WHERE i.author_id = u.id AND i.space_id = ?)"
    " OR EXISTS (SELECT 1 FROM answers a JOIN rounds r ON r.id = a.round_id WHERE a.user_id = u.id AND r.space_id = ?))"
)


# a teammate row that is the only owner: never removed nor demoted, so the dashboard keeps an owner
_LAST_OWNER = "role = 'owner' AND (SELECT COUNT(*) FROM dashboard_users WHERE role = 'owner') = 1"


class DashboardQueries:
    """Teammates, sign-in links and dashboard reads over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # teammates and sign-in links ----------------------------------------------------------------

    async def save_teammate(self, name: str, password_hash: str, role: str, now: datetime) -> None:
        """Add a teammate, or give an existing one a new password and role."""
        await self.store.write(
            lambda db: db.execute(
                "INSERT INTO dashboard_users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role",
                (name, password_hash, role, to_text(now)),
            )
        )

    async def teammate(self, name: str) -> Teammate | None:
        row = await self.store.fetchone("SELECT name, password_hash, role FROM dashboard_users WHERE name = ?", (name,))
        return None if row is None else Teammate(str(row[0]), str(row[1]), str(row[2]))

    async def teammates(self) -> list[tuple[str, str, datetime]]:
        """Every teammate's name, role and when they were added, by name."""
        rows = await self.store.fetchall("SELECT name, role, created_at FROM dashboard_users ORDER BY name")
        return [(str(row[0]), str(row[1]), datetime.fromisoformat(str(row[2]))) for row in rows]

    async def change_teammate(self, name: str, role: str | None) -> bool:
        """Give ``name`` a new role, or remove them (``role`` ``None``); ``False`` when they are unknown or
        the change would leave the dashboard without an owner (checked in the same statement, so two
        owners demoting each other at once still leave one)."""
        parameters: tuple[str, ...]
        if role is None:
            sql, parameters = f"DELETE FROM dashboard_users WHERE name = ? AND NOT ({_LAST_OWNER})", (name,)  # noqa: S608
        else:
            sql = f"UPDATE dashboard_users SET role = ? WHERE name = ? AND (? = 'owner' OR NOT ({_LAST_OWNER}))"  # noqa: S608
            parameters = (role, name, role)
        return await self.store.write(lambda db: db.execute(sql, parameters).rowcount == 1)

    async def acting_teammates(self) -> list[str]:
        """The names of the teammates who may act (owners and moderators): who an idea can be assigned to."""
        rows = await self.store.fetchall(
            "SELECT name FROM dashboard_users WHERE role IN ('owner', 'moderator') ORDER BY name"
        )
        return [str(row[0]) for row in rows]

    async def create_link(self, token_hash: str, holder: LinkHolder, expires_at: datetime) -> None:
        await self.store.write(
            lambda db: db.execute(
                "INSERT INTO dashboard_links (token_hash, platform, platform_user_id, display_name, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (token_hash, holder.platform, holder.platform_user_id, holder.display_name, to_text(expires_at)),
            )
        )

    async def use_link(self, token_hash: str, now: datetime) -> LinkHolder | None:
        """Who the link was for, using it up; ``None`` for an unknown, expired or already used link.

        The check and the use are one transaction, so two requests racing with one link sign in once.
        """

        def unit(db: Connection) -> LinkHolder | None:
            cursor = db.execute(
                "UPDATE dashboard_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                (to_text(now), token_hash, to_text(now)),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute(
                "SELECT platform, platform_user_id, display_name FROM dashboard_links WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            return LinkHolder(str(row[0]), str(row[1]), str(row[2]))

        return await self.store.write(unit)

    # reads for pages ----------------------------------------------------------------------------

    async def communities(self, platform: str | None = None) -> list[CommunityRow]:
        """Every community (home spaces, not private chats), of one platform when given."""
        sql = "SELECT id, platform, external_id, title FROM spaces WHERE community_id IS NULL AND is_private = 0"
        if platform is None:
            rows = await self.store.fetchall(f"{sql} ORDER BY id")
        else:
            rows = await self.store.fetchall(f"{sql} AND platform = ? ORDER BY id", (platform,))
        return [CommunityRow(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    async def members(self, community_id: int, search: str, limit: int) -> list[MemberRow]:
        """Members who took part here (points, ideas, answers) or are banned here, best first, by name or id."""
        pattern = f"%{search.lower()}%"
        rows = await self.store.fetchall(
            "SELECT u.id, u.platform, u.platform_user_id, u.display_name,"  # noqa: S608 - constants only
            " COALESCE((SELECT SUM(l.delta) FROM ledger l WHERE l.user_id = u.id AND l.space_id = ?), 0) AS points,"
            " EXISTS (SELECT 1 FROM bans b WHERE b.space_id = ? AND b.user_id = u.id) AS banned"
            f" FROM users u WHERE ({_TOOK_PART}"
            " OR EXISTS (SELECT 1 FROM bans b WHERE b.space_id = ? AND b.user_id = u.id))"
            " AND (LOWER(u.display_name) LIKE ? OR LOWER(u.platform_user_id) LIKE ?)"
            " ORDER BY points DESC, u.id LIMIT ?",
            (*[community_id] * 6, pattern, pattern, limit),
        )
        return [MemberRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), bool(r[5])) for r in rows]

    async def member_count(self, community_id: int) -> int:
        """How many took part here: the denominator of a round's response rate."""
        value = await self.store.fetchval(
            f"SELECT COUNT(*) FROM users u WHERE {_TOOK_PART}",  # noqa: S608 - a constant
            (community_id,) * 3,
            default=0,
        )
        return int(value)
