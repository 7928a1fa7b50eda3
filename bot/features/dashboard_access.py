"""``/dashboard``: a one-time link that signs a teammate into the web dashboard from a chat.

The chat already knows who the teammate is, so the link stands in for a password: it is sent privately,
works once, expires after ``dashboard.link_minutes`` and is stored as its sha256 only, so a copy of the
database signs nobody in. What the teammate may see there is decided by the dashboard per community, with
the same moderator check as chat commands (:class:`bot.features.moderation.Moderation`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from bot.context import Context, Services
from bot.replies import Outcome, Reply
from bot.store.dashboard_sql import LinkHolder
from bot.texts import t

log = logging.getLogger(__name__)

LINK_PATH = "/signin/link/"


def link_hash(token: str) -> str:
    """What the database keeps of a sign-in link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


class DashboardAccess:
    """Sign-in links for the web dashboard."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def sign_in_link(self, ctx: Context) -> Reply:
        """A fresh one-time link, only in a private chat (a link shown in a group would sign anyone in)."""
        if not ctx.space.is_private:
            return Reply(t("dashboard.not_private", ctx.language), Outcome.REFUSED)
        settings = self.services.settings.dashboard
        if not settings.enabled:
            return Reply(t("dashboard.disabled", ctx.language), Outcome.REFUSED)
        token = secrets.token_urlsafe(32)
        holder = LinkHolder(ctx.user.platform, ctx.user.platform_user_id, ctx.user.display_name)
        expires_at = self.services.clock() + timedelta(minutes=settings.link_minutes)
        await self.services.store.dashboard.create_link(link_hash(token), holder, expires_at)
        log.info("dashboard_link=created platform=%s user=%s", ctx.user.platform, ctx.user_id)
        url = f"{settings.address}{LINK_PATH}{token}"
        return Reply(t("dashboard.link", ctx.language, url=url, minutes=settings.link_minutes), private=True)
