"""Linked accounts, one wallet: ``/link`` gives a one-time code, ``/link CODE`` on another platform asks
the first account to confirm, the confirmation links both to one person; ``/unlink`` splits them again.

Codes are 8 characters of Crockford base32 from :mod:`secrets` (40 bits), shown once and stored as
their sha256 only, valid :data:`CODE_VALIDITY`, used once; a code typed where others can read it (a
group) is revoked at once. Mistyped codes are counted per account (:data:`MISTAKES` per
:data:`MISTAKE_WINDOW`). The store does the linking in one transaction (see
:mod:`bot.store.linking_sql` and :mod:`bot.store.merging`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.actions import Action, Verb
from bot.context import Context, Services, stale
from bot.outbox.payloads import reply_payload
from bot.replies import Button, Outcome, Reply
from bot.store.records import Claimant, LinkStatus, UnlinkStatus
from bot.texts import Markup, pick_language, t

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 8
CODE_VALIDITY = timedelta(minutes=10)
MISTAKES = 5
MISTAKE_WINDOW = timedelta(minutes=15)
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})  # what Crockford decoding forgives


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def code_hash(typed: str) -> str:
    """The stored form of a code as typed: spaces and dashes dropped, case and look-alikes forgiven."""
    normal = "".join(typed.split()).replace("-", "").upper().translate(_READS_AS)
    return hashlib.sha256(normal.encode()).hexdigest()


def platform_name(platform: str) -> str:
    return platform.capitalize()


class Linking:
    """``/link``, ``/link CODE``, the confirmation button and ``/unlink``."""

    verbs = frozenset({Verb.LINK_CONFIRM})

    def __init__(self, services: Services, on_change: Callable[[], None]) -> None:
        """``on_change`` is called after a link or an unlink: the engine forgets cached persons."""
        self.services = services
        self._on_change = on_change

    async def link(self, ctx: Context, typed: str | None) -> Reply:
        """No code: list the person's accounts and give a new code. A code: claim it for this account."""
        store, now = self.services.store, self.services.clock()
        if typed:
            if not ctx.space.is_private:
                revoked = await store.links.revoke(code_hash(typed))
                key = "link.code_in_group" if revoked else "link.private_only"
                return Reply(t(key, ctx.language), Outcome.REFUSED)
            outcome = await store.links.claim(
                code_hash(typed), ctx.own_account, now, (MISTAKES, MISTAKE_WINDOW), self._confirmation
            )
            if outcome.status is LinkStatus.CLAIMED:
                text = t("link.asked", ctx.language, platform=platform_name(outcome.platform), name=outcome.name)
                return Reply(text, Outcome.DONE, private=True)
            return self._refusal(ctx, outcome.status, outcome.tries_left)
        if not ctx.space.is_private:
            return Reply(t("link.private_only", ctx.language), Outcome.REFUSED)
        code = new_code()
        await store.links.create_code(ctx.user_id, code_hash(code), now, CODE_VALIDITY)
        lines = [t("link.code", ctx.language, code=code, minutes=int(CODE_VALIDITY.total_seconds() // 60))]
        accounts = await store.links.accounts(ctx.user_id)
        if len(accounts) > 1:
            lines.append(t("link.accounts_title", ctx.language))
            lines += [
                t(
                    "link.account_primary" if account.primary else "link.account",
                    ctx.language,
                    platform=platform_name(account.platform),
                    name=account.display_name,
                )
                for account in accounts
            ]
        return Reply(Markup("\n".join(lines)), Outcome.INFO, private=True)

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Any) -> Reply:
        """The confirmation button: only the code's owner may press it, and only once."""
        code_id = action.int_field(0)
        if code_id is None:
            return stale(ctx)
        outcome = await self.services.store.links.confirm(code_id, ctx.user_id, self.services.clock())
        if outcome.status is not LinkStatus.LINKED:
            return self._refusal(ctx, outcome.status)
        self._on_change()
        text = t("link.linked", ctx.language, platform=platform_name(outcome.platform), name=outcome.name)
        return Reply(text, Outcome.DONE, private=True)

    async def unlink(self, ctx: Context) -> Reply:
        cooldown = timedelta(days=self.services.settings.accounts.unlink_cooldown_days)
        outcome = await self.services.store.links.unlink(ctx.own_account, ctx.user_id, self.services.clock(), cooldown)
        if outcome.status is UnlinkStatus.NOT_LINKED:
            return Reply(t("link.not_linked", ctx.language), Outcome.REFUSED)
        if outcome.status is UnlinkStatus.TOO_SOON:
            assert outcome.allowed_from is not None
            when = outcome.allowed_from.strftime("%Y-%m-%d %H:%M UTC")
            return Reply(t("link.unlink_too_soon", ctx.language, when=when), Outcome.REFUSED)
        self._on_change()
        return Reply(t("link.unlinked", ctx.language, count=outcome.accounts), Outcome.DONE, private=True)

    def _confirmation(self, claimant: Claimant) -> dict[str, Any]:
        """The owner's question, in the owner's language, with the button that links."""
        language = pick_language(claimant.owner_language, self.services.settings.default_language)
        text = t("link.confirm", language, platform=platform_name(claimant.platform), name=claimant.name)
        button = Button(
            str(t("link.confirm_button", language)), self.services.codec.pack(Verb.LINK_CONFIRM, claimant.code_id)
        )
        return reply_payload(Reply(text, Outcome.INFO, private=True, buttons=((button,),)))

    def _refusal(self, ctx: Context, status: LinkStatus, tries_left: int = 0) -> Reply:
        return Reply(t(f"link.{status.value}", ctx.language, tries=tries_left), Outcome.REFUSED)
