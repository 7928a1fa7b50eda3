"""Moderation: who moderates a space, bans, and the audit log of what moderators did.

Moderators are the platform ids listed in settings plus whoever the platform says (chat admins on
Telegram, Manage Server on Discord: each adapter registers its check). Every other feature asks
:meth:`Moderation.refuse_unless_moderator` before a moderator's use case.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.context import Context, Services
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply
from bot.texts import Markup, clean_text, keys, t

log = logging.getLogger(__name__)

ModeratorCheck = Callable[[UserRef, SpaceRef], Awaitable[bool]]
AUDIT_LINES = 20


class Moderation:
    """Moderator checks, bans and the audit log over one set of services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._checks: dict[str, ModeratorCheck] = {}

    def register_check(self, platform: str, check: ModeratorCheck) -> None:
        """Let an adapter say who moderates a space on its platform (chat admins, Manage Server)."""
        self._checks[platform] = check

    async def is_moderator(self, ctx: Context) -> bool:
        """Moderators are the ids in settings for the platform, plus whoever the platform says."""
        return await self.moderates(ctx.user, ctx.space)

    async def moderates(self, user: UserRef, space: SpaceRef) -> bool:
        """Whether ``user`` moderates ``space`` (someone other than the one acting: an idea's assignee)."""
        if user.platform_user_id in self.services.settings.moderators_for(user.platform):
            return True
        check = self._checks.get(user.platform)
        return bool(check is not None and await check(user, space))

    async def refuse_unless_moderator(self, ctx: Context, command: str) -> Reply | None:
        """``None`` for a moderator; otherwise a clear refusal, and the attempt is logged."""
        if await self.is_moderator(ctx):
            return None
        log.warning(
            "moderator_command=%s outcome=refused platform=%s user=%s space=%s",
            command,
            ctx.user.platform,
            ctx.user_id,
            ctx.space_id,
        )
        return Reply(t("moderation.not_moderator", ctx.language), Outcome.REFUSED)

    async def ban(
        self, ctx: Context, target: str, banned: bool = True, *, reason: str = "", platform: str | None = None
    ) -> Reply:
        """Ban (or unban) the member with platform id ``target`` here; moderators only, audited with ``reason``.

        ``platform`` is the member's platform when it is not the moderator's own (the web dashboard names
        members of every platform); a chat command names members of its own platform.
        """
        refusal = await self.refuse_unless_moderator(ctx, "ban" if banned else "unban")
        if refusal is not None:
            return refusal
        store = self.services.store
        target_user = await store.members.find_user(platform or ctx.user.platform, target)
        if target_user is None:
            return Reply(t("moderation.unknown_user", ctx.language, user=target), Outcome.REFUSED)
        if banned and target_user == ctx.user_id:
            return Reply(t("moderation.not_yourself", ctx.language), Outcome.REFUSED)
        changed = await store.members.set_ban(
            ctx.space_id, target_user, ctx.user_id, banned, self.services.clock(), clean_text(reason)
        )
        key = ("moderation.banned" if banned else "moderation.unbanned") if changed else "moderation.no_change"
        return Reply(t(key, ctx.language, user=target), Outcome.DONE)

    async def audit_log(self, ctx: Context, limit: int = AUDIT_LINES) -> Reply:
        """The latest moderator actions here; moderators only."""
        refusal = await self.refuse_unless_moderator(ctx, "audit")
        if refusal is not None:
            return refusal
        entries = await self.services.store.members.audit_entries(ctx.space_id, limit)
        if not entries:
            return Reply(t("moderation.audit_empty", ctx.language), private=True)
        lines = [t("moderation.audit_title", ctx.language)]
        lines += [
            t(
                "moderation.audit_line",
                ctx.language,
                when=entry["created_at"][:16].replace("T", " "),
                moderator=entry["moderator"] or t("moderation.audit_automatic", ctx.language),
                action=_action_text(entry["action"], ctx.language),
                target=entry["member"] or entry["target"],
                detail=entry["detail"],
            )
            for entry in entries
        ]
        return Reply(Markup("\n".join(lines)), private=True)


def _action_text(action: str, language: str) -> str:
    """An audit action in words when the locales name it (``moderation.audit_action.<action>``), else its
    stored name: actions the bot takes by itself read as sentences, a moderator's own stay terse."""
    key = f"moderation.audit_action.{action}"
    return t(key, language) if key in keys("en") else action
