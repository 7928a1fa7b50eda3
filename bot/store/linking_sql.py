"""SQL for linked accounts: one-time codes, mistyped attempts, the linking transaction, unlinking.

A code is stored as its sha256 only. Typing it claims it for the typing account (and queues the owner's
confirmation in the same transaction); confirming links the two in one transaction that first locks both
accounts' rows: two confirmations racing, or a write from a process that still sees the second account
on its own, wait for it and then see it done (migration 0010's guards refuse the stale write).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.store.database import Connection, Database
from bot.store.dialects import for_update, lock_member, read_committed
from bot.store.effects import audit, enqueue
from bot.store.merging import merge_accounts
from bot.store.records import Claimant, LinkedAccount, LinkOutcome, LinkStatus, UnlinkOutcome, UnlinkStatus
from bot.store.timestamps import to_text

Confirmation = Callable[[Claimant], dict[str, Any]]  # the owner's confirmation message, as a payload


class LinkQueries:
    """Codes, claims, links and unlinks over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def create_code(self, owner_id: int, code_hash: str, now: datetime, valid_for: timedelta) -> None:
        """Store a new code for the person, revoking any earlier one not used yet (one live code each).

        This is also how a code typed by the wrong account is undone: its claim stays until the code
        expires, so the owner's new ``/link`` cancels it (and its confirmation button) at once."""

        def unit(db: Connection) -> None:
            db.execute("UPDATE link_codes SET revoked = 1 WHERE owner_id = ? AND used_at IS NULL", (owner_id,))
            db.execute(
                "INSERT INTO link_codes (code_hash, owner_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (code_hash, owner_id, to_text(now), to_text(now + valid_for)),
            )

        await self.store.write(unit)

    async def revoke(self, code_hash: str) -> bool:
        """Invalidate a code that was shown (typed in a group); ``False`` when there is no such live code."""
        return bool(
            await self.store.write(
                lambda db: (
                    db.execute(
                        "UPDATE link_codes SET revoked = 1 WHERE code_hash = ? AND used_at IS NULL AND revoked = 0",
                        (code_hash,),
                    ).rowcount
                )
            )
        )

    async def claim(
        self,
        code_hash: str,
        account_id: int,
        now: datetime,
        mistakes: tuple[int, timedelta],
        confirmation: Confirmation,
    ) -> LinkOutcome:
        """The account typed a code: refuse it, or claim it and queue the owner's confirmation.

        ``mistakes`` is (how many, per how long): a wrong code counts one, and past the limit nothing is
        even looked up, so codes cannot be guessed (32⁸ codes, a handful of tries per quarter hour).
        """
        allowed, window = mistakes

        def unit(db: Connection) -> LinkOutcome:
            made = db.execute(
                "SELECT COUNT(*) FROM link_attempts WHERE user_id = ? AND created_at > ?",
                (account_id, to_text(now - window)),
            ).fetchone()[0]
            if made >= allowed:
                return LinkOutcome(LinkStatus.TOO_MANY)
            code = db.execute(
                for_update(
                    db,
                    "SELECT id, owner_id, expires_at, used_at, revoked, claimed_by FROM link_codes WHERE code_hash = ?",
                ),
                (code_hash,),
            ).fetchone()
            if code is None:
                db.execute("INSERT INTO link_attempts (user_id, created_at) VALUES (?, ?)", (account_id, to_text(now)))
                return LinkOutcome(LinkStatus.WRONG, tries_left=allowed - made - 1)
            status = _refusal(db, code, account_id, now)
            if status is not None:
                return LinkOutcome(status)
            db.execute("UPDATE link_codes SET claimed_by = ? WHERE id = ?", (account_id, code[0]))
            owner = _account(db, code[1])
            me = _account(db, account_id)
            claimant = Claimant(code[0], me[0], me[2], owner[0], owner[1], owner[3])
            enqueue(
                db,
                platform=owner[0],
                target=f"user:{owner[1]}",
                payload=confirmation(claimant),
                now=now,
                dedup_key=f"link-confirm:{code[0]}:{account_id}",
            )
            return LinkOutcome(LinkStatus.CLAIMED, owner[0], owner[2])

        return await self.store.write(unit)

    async def confirm(self, code_id: int, person_id: int, now: datetime) -> LinkOutcome:
        """The owner confirmed: link the claiming account to the owner, once, in one transaction.

        READ COMMITTED with explicit locks (on PostgreSQL): the code's row first (a second confirmation
        waits, then finds it used), then both accounts' rows, so each statement after them sees every
        answer and vote the second account committed before, and none can slip in until this commits.
        """

        @read_committed
        def unit(db: Connection) -> LinkOutcome:
            code = db.execute(
                for_update(
                    db, "SELECT id, owner_id, expires_at, used_at, revoked, claimed_by FROM link_codes WHERE id = ?"
                ),
                (code_id,),
            ).fetchone()
            if code is None or code[5] is None:
                return LinkOutcome(LinkStatus.USED)
            if code[1] != person_id:
                return LinkOutcome(LinkStatus.NOT_OWNER)
            primary, second = int(code[1]), int(code[5])
            for user_id in sorted((primary, second)):
                lock_member(db, user_id)
            status = _refusal(db, code, second, now)
            if status is not None:
                return LinkOutcome(status)
            db.execute("UPDATE link_codes SET used_at = ? WHERE id = ?", (to_text(now), code_id))
            merge_accounts(db, primary, second, f"link:{code_id}", now)
            db.execute(
                "INSERT INTO account_links (account_id, person_id, linked_at) VALUES (?, ?, ?)",
                (second, primary, to_text(now)),
            )
            _audit_where_they_take_part(db, primary, "link", second, now)
            me = _account(db, second)
            return LinkOutcome(LinkStatus.LINKED, me[0], me[2])

        return await self.store.write(unit)

    async def unlink(self, account_id: int, person_id: int, now: datetime, cooldown: timedelta) -> UnlinkOutcome:
        """Split the acting account from its person (a primary: every account linked to it) after the
        cooldown. Nothing moves back: the wallet stays with the primary, so no point is duplicated."""

        def unit(db: Connection) -> UnlinkOutcome:
            if account_id != person_id:
                rows = db.execute("SELECT account_id, linked_at FROM account_links WHERE account_id = ?", (account_id,))
            else:
                rows = db.execute("SELECT account_id, linked_at FROM account_links WHERE person_id = ?", (person_id,))
            links = rows.fetchall()
            if not links:
                return UnlinkOutcome(UnlinkStatus.NOT_LINKED)
            latest = max(datetime.fromisoformat(row[1]) for row in links)
            if now < latest + cooldown:
                return UnlinkOutcome(UnlinkStatus.TOO_SOON, allowed_from=latest + cooldown)
            for row in links:
                lock_member(db, int(row[0]))
                db.execute("DELETE FROM account_links WHERE account_id = ?", (row[0],))
                _audit_where_they_take_part(db, person_id, "unlink", int(row[0]), now)
            return UnlinkOutcome(UnlinkStatus.UNLINKED, len(links))

        return await self.store.write(unit)

    async def accounts(self, person_id: int) -> list[LinkedAccount]:
        """The person's accounts, the primary first."""
        rows = await self.store.fetchall(
            "SELECT u.id, u.platform, u.display_name, l.linked_at FROM users u"
            " LEFT JOIN account_links l ON l.account_id = u.id"
            " WHERE u.id = ? OR l.person_id = ? ORDER BY l.linked_at IS NOT NULL, l.linked_at, u.id",
            (person_id, person_id),
        )
        return [
            LinkedAccount(row[0], row[1], row[2], row[3] is None, datetime.fromisoformat(row[3]) if row[3] else None)
            for row in rows
        ]


def _refusal(db: Connection, code: Any, account_id: int, now: datetime) -> LinkStatus | None:
    """Why ``account_id`` may not use (claim, or be linked by) this code now; ``None`` when it may.

    The confirmation too must come before the code expires: ten minutes cover both steps."""
    _, owner_id, expires_at, used_at, revoked, claimed_by = code
    if used_at is not None or revoked:
        return LinkStatus.USED
    if claimed_by is not None and claimed_by != account_id:  # the owner's new /link cancels this claim
        return LinkStatus.TAKEN
    if datetime.fromisoformat(expires_at) <= now:
        return LinkStatus.EXPIRED
    if owner_id == account_id or _person(db, account_id) == owner_id:
        return LinkStatus.SELF
    linked = db.execute(
        "SELECT 1 FROM account_links WHERE account_id IN (?, ?) OR person_id = ?", (owner_id, account_id, account_id)
    ).fetchone()
    return LinkStatus.ALREADY_LINKED if linked else None


def _audit_where_they_take_part(db: Connection, person_id: int, action: str, account_id: int, now: datetime) -> None:
    """An audit row in every community the person earned or spent points in or is banned from (the
    confirmation itself happens in a private chat, which no moderator's ``/audit`` reads); one row with
    no space when there is none."""
    spaces = db.execute(
        "SELECT space_id FROM ledger WHERE user_id = ? AND space_id IS NOT NULL"
        " UNION SELECT space_id FROM bans WHERE user_id IN (?, ?) ORDER BY 1",
        (person_id, person_id, account_id),
    ).fetchall()
    for space_id in [row[0] for row in spaces] or [None]:
        audit(db, space_id=space_id, moderator_id=person_id, action=action, target=str(account_id), now=now)


def _person(db: Connection, account_id: int) -> int:
    row = db.execute("SELECT person_id FROM account_links WHERE account_id = ?", (account_id,)).fetchone()
    return int(row[0]) if row else account_id


def _account(db: Connection, account_id: int) -> Any:
    """(platform, platform user id, display name, language) of an account."""
    return db.execute(
        "SELECT platform, platform_user_id, display_name, language FROM users WHERE id = ?", (account_id,)
    ).fetchone()
