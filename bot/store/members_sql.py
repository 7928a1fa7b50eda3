"""SQL for members and spaces as the engine meets them, and for moderation: bans and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.database import Connection, Database
from bot.store.effects import audit
from bot.store.records import Identity, Place
from bot.store.timestamps import to_text

# audit rows whose target is a user id (one ``?`` each in audit_entries)
MEMBER_ACTIONS = ("ban", "unban", "quality_exclude", "attention_exclusion", "link", "unlink")
# a space's audit rows naming the moderator and, for an action about a member, the member; parameters:
# MEMBER_ACTIONS, then the space (more conditions may follow: it ends inside the WHERE)
AUDIT_ROWS = (
    "SELECT a.created_at, u.display_name AS moderator, a.action, a.target, a.detail,"
    " m.display_name AS member FROM audit a LEFT JOIN users u ON u.id = a.moderator_id"
    " LEFT JOIN users m ON a.action IN (?, ?, ?, ?, ?, ?) AND CAST(m.id AS TEXT) = a.target"
    " WHERE a.space_id = ?"
)


class MemberQueries:
    """Users, spaces, bans and the audit log over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def ensure_user(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None, now: datetime
    ) -> int:
        """The account's own id (see :meth:`identify`)."""
        return (await self.identify(platform, platform_user_id, display_name, language, now)).account_id

    async def identify(
        self, platform: str, platform_user_id: str, display_name: str, language: str | None, now: datetime
    ) -> Identity:
        """The account's id and its person's, creating the account or refreshing name and language as needed.

        A known user with nothing to refresh costs one read, the person included (a join on the account's
        primary key): no write, no turn in the writer's queue, and no update that would make other
        processes' transactions on this row start again.
        """
        known = await self.store.fetchone(
            "SELECT u.id, u.display_name, u.language, l.person_id FROM users u"
            " LEFT JOIN account_links l ON l.account_id = u.id WHERE u.platform = ? AND u.platform_user_id = ?",
            (platform, platform_user_id),
        )
        if known is not None and (known[1], known[2]) == (display_name, language):
            return Identity(int(known[0]), int(known[3] if known[3] is not None else known[0]))

        def unit(db: Connection) -> Identity:
            row = db.execute(
                "INSERT INTO users (platform, platform_user_id, display_name, language, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, platform_user_id) DO UPDATE"
                " SET display_name = excluded.display_name, language = excluded.language RETURNING id",
                (platform, platform_user_id, display_name, language, to_text(now)),
            ).fetchone()
            person = db.execute("SELECT person_id FROM account_links WHERE account_id = ?", (row[0],)).fetchone()
            return Identity(int(row[0]), int(person[0] if person else row[0]))

        return await self.store.write(unit)

    async def ensure_space(self, platform: str, external_id: str, title: str, is_private: bool) -> Place:
        """The space's id and its community's, creating the space or refreshing its title as needed.

        One read when nothing changed: the community comes from the same row, so resolving it costs the
        answer path nothing more than resolving the space did.
        """
        known = await self.store.fetchone(
            "SELECT id, title, community_id FROM spaces WHERE platform = ? AND external_id = ?",
            (platform, external_id),
        )
        if known is not None and known[1] == title:
            return _place(known[0], known[2])

        def unit(db: Connection) -> Place:
            row = db.execute(
                "INSERT INTO spaces (platform, external_id, title, is_private) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, external_id) DO UPDATE SET title = excluded.title RETURNING id, community_id",
                (platform, external_id, title, int(is_private)),
            ).fetchone()
            return _place(row[0], row[1])

        return await self.store.write(unit)

    async def find_user(self, platform: str, platform_user_id: str) -> int | None:
        """The *person* of a platform account (a ban or a report follows the person, not the account)."""
        value = await self.store.fetchval(
            "SELECT COALESCE(l.person_id, u.id) FROM users u LEFT JOIN account_links l ON l.account_id = u.id"
            " WHERE u.platform = ? AND u.platform_user_id = ?",
            (platform, platform_user_id),
        )
        return int(value) if value is not None else None

    # moderation ---------------------------------------------------------------------------------

    async def set_ban(
        self, space_id: int, user_id: int, moderator_id: int, banned: bool, now: datetime, reason: str = ""
    ) -> bool:
        """Ban or unban, audited with its reason in the same transaction; ``False`` when nothing changed."""

        def unit(db: Connection) -> bool:
            if banned:
                cursor = db.execute(
                    "INSERT INTO bans (space_id, user_id, banned_by, reason, created_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (space_id, user_id, moderator_id, reason, to_text(now)),
                )
            else:
                cursor = db.execute("DELETE FROM bans WHERE space_id = ? AND user_id = ?", (space_id, user_id))
            if cursor.rowcount:
                audit(
                    db,
                    space_id=space_id,
                    moderator_id=moderator_id,
                    action="ban" if banned else "unban",
                    target=str(user_id),
                    detail=reason,
                    now=now,
                )
            return cursor.rowcount == 1

        return await self.store.write(unit)

    async def is_banned(self, space_id: int, user_id: int) -> bool:
        return (
            await self.store.fetchone("SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (space_id, user_id))
            is not None
        )

    async def set_quiet(self, user_id: int, quiet: bool | None) -> bool:
        """Turn the person's ``/quiet`` on or off (``None``: the other way round); returns the new state.

        One UPDATE, so two taps at once each flip it once and both read the state they left.
        """
        sql = "UPDATE users SET quiet = 1 - quiet" if quiet is None else "UPDATE users SET quiet = ?"
        parameters: tuple[int, ...] = (user_id,) if quiet is None else (int(quiet), user_id)

        def unit(db: Connection) -> bool:
            return bool(db.execute(f"{sql} WHERE id = ? RETURNING quiet", parameters).fetchone()[0])

        return await self.store.write(unit)

    async def audit_entries(self, space_id: int, limit: int) -> list[dict[str, Any]]:
        """The latest audit rows, newest first; ``member`` is the display name of the member an action
        was about (a ban, a member held back or left out), whose ``target`` is their internal id."""
        rows = await self.store.fetchall(f"{AUDIT_ROWS} ORDER BY a.id DESC LIMIT ?", (*MEMBER_ACTIONS, space_id, limit))
        return [dict(row) for row in rows]


def _place(space_id: Any, community_id: Any) -> Place:
    return Place(int(space_id), int(community_id) if community_id is not None else int(space_id))
