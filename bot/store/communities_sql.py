"""SQL for communities: linking codes, joining with one (once, whoever races), declared communities.

A community is named by its home space's id; a space that joined one has ``spaces.community_id`` set to
it, a space that never did is a community of one. Codes are stored as their keyed hash only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store.database import Connection, Database
from bot.store.records import CommunitySpace, JoinOutcome, LeaveOutcome
from bot.store.timestamps import to_text


class CommunityQueries:
    """Linking codes and community membership over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def create_code(self, code_hash: str, community_id: int, created_by: int, expires_at: datetime) -> None:
        await self.store.write(
            lambda db: db.execute(
                "INSERT INTO community_codes (code_hash, community_id, created_by, expires_at) VALUES (?, ?, ?, ?)",
                (code_hash, community_id, created_by, to_text(expires_at)),
            )
        )

    async def join(self, space_id: int, code_hash: str, now: datetime) -> JoinOutcome:
        """Join the space to the community the code was made in, using the code up, in one transaction.

        Two joins racing (the same code typed twice, or two codes for one space) are serialised by the
        store (SQLite's single writer, PostgreSQL's SERIALIZABLE units retried): the space joins once and
        a code is used once. A refusal uses no code.
        """

        def unit(db: Connection) -> JoinOutcome:
            code = db.execute(
                "SELECT c.community_id, c.expires_at, c.used_at, s.community_id FROM community_codes c"
                " JOIN spaces s ON s.id = c.community_id WHERE c.code_hash = ?",
                (code_hash,),
            ).fetchone()
            if code is None:
                return JoinOutcome.WRONG_CODE
            if code[2] is not None:
                return JoinOutcome.USED
            if code[1] <= to_text(now):
                return JoinOutcome.EXPIRED
            home = int(code[3] if code[3] is not None else code[0])  # the code's space may have joined on since
            space = db.execute("SELECT community_id FROM spaces WHERE id = ?", (space_id,)).fetchone()
            if home in (space_id, space[0]):
                return JoinOutcome.ALREADY_MEMBER
            others = db.execute("SELECT 1 FROM spaces WHERE community_id = ? LIMIT 1", (space_id,)).fetchone()
            if space[0] is not None or others is not None:
                return JoinOutcome.IN_ANOTHER
            busy = db.execute("SELECT 1 FROM rounds WHERE space_id = ? AND status = 'open' LIMIT 1", (space_id,))
            if busy.fetchone() is not None:
                return JoinOutcome.BUSY
            db.execute(
                "UPDATE community_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                (to_text(now), space_id, code_hash),
            )
            db.execute("UPDATE spaces SET community_id = ? WHERE id = ?", (home, space_id))
            return JoinOutcome.JOINED

        return await self.store.write(unit)

    async def leave(self, space_id: int) -> LeaveOutcome:
        """Take the space out of its community; what was said there stays with the community, whose
        rounds, ideas and ledger lines are keyed on the home."""

        def unit(db: Connection) -> LeaveOutcome:
            if db.execute("SELECT 1 FROM spaces WHERE community_id = ? LIMIT 1", (space_id,)).fetchone():
                return LeaveOutcome.HOME
            left = db.execute(
                "UPDATE spaces SET community_id = NULL WHERE id = ? AND community_id IS NOT NULL", (space_id,)
            )
            return LeaveOutcome.LEFT if left.rowcount == 1 else LeaveOutcome.NOT_LINKED

        return await self.store.write(unit)

    async def spaces(self, community_id: int) -> list[CommunitySpace]:
        """The community's spaces, its home first."""
        rows = await self.store.fetchall(
            "SELECT id, platform, external_id, title FROM spaces WHERE id = ? OR community_id = ?"
            " ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, id",
            (community_id, community_id, community_id),
        )
        return [CommunitySpace(row[1], row[2], row[3], int(row[0]) == community_id) for row in rows]

    async def declare(self, spaces: Sequence[tuple[str, str]]) -> int:
        """Make the listed ``(platform, external id)`` spaces one community whose home is the first;
        returns the home's id. Idempotent (settings apply it at every start) and the operator's word wins:
        a listed space leaves any community a moderator had linked it to. Spaces not met yet are created
        (their titles arrive with their first message)."""

        def unit(db: Connection) -> int:
            ids = []
            for platform, external_id in spaces:
                db.execute(
                    "INSERT INTO spaces (platform, external_id) VALUES (?, ?) ON CONFLICT (platform, external_id)"
                    " DO NOTHING",
                    (platform, external_id),
                )
                row = db.execute(
                    "SELECT id FROM spaces WHERE platform = ? AND external_id = ?", (platform, external_id)
                ).fetchone()
                ids.append(int(row[0]))
            home = ids[0]
            db.execute("UPDATE spaces SET community_id = NULL WHERE id = ? AND community_id IS NOT NULL", (home,))
            for space_id in ids[1:]:
                db.execute(
                    "UPDATE spaces SET community_id = ? WHERE id = ? AND (community_id IS NULL OR community_id <> ?)",
                    (home, space_id, home),
                )
            return home

        return await self.store.write(unit)
