"""Communities: a moderator links spaces (a Telegram group, a Discord server…) so they share rounds, ideas
and leaderboards.

``/community link`` in one space shows a one-time code; ``/community join CODE`` typed by a moderator of
another space joins that space to the first one's community; ``/community leave`` takes it out again.
The code is 8 characters of Crockford's base32 from :mod:`secrets` (40 bits), lives :data:`CODE_LIFETIME`,
is used once and is stored only as its hash keyed with the instance's secret, so the database alone never
gives a usable code away.

Who moderates a community: a moderator of any of its spaces, as that space's platform says (the checks
:class:`Moderation` runs on the space the command is typed in).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from bot.context import Context, Services
from bot.features.moderation import Moderation
from bot.replies import Outcome, Reply
from bot.store.records import JoinOutcome, LeaveOutcome
from bot.texts import Markup, t

log = logging.getLogger(__name__)

CODE_LIFETIME = timedelta(minutes=10)
CODE_LENGTH = 8
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O or U to misread
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})  # what Crockford decodes the look-alikes to


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(typed: str) -> str | None:
    """A typed code as it was shown (case, dashes, spaces and look-alike letters forgiven), or ``None``
    when it cannot be one."""
    code = typed.strip().upper().replace("-", "").replace(" ", "").translate(_READ_AS)
    return code if len(code) == CODE_LENGTH and all(c in ALPHABET for c in code) else None


class Communities:
    """Linking spaces into communities, and listing a community's spaces."""

    def __init__(self, services: Services, moderation: Moderation) -> None:
        self.services = services
        self.moderation = moderation
        self.queries = services.store.communities

    def code_hash(self, code: str) -> str:
        return hmac.new(self.services.codec_key, code.encode(), hashlib.sha256).hexdigest()

    async def link(self, ctx: Context) -> Reply:
        """A one-time code for another space's moderator to join this community (sent to the moderator alone)."""
        refusal = await self._refusal(ctx, "community link")
        if refusal is not None:
            return refusal
        code = new_code()
        expires = self.services.clock() + CODE_LIFETIME
        await self.queries.create_code(self.code_hash(code), ctx.space_id, ctx.user_id, expires)
        log.info("action=community_link community=%s space=%s user=%s", ctx.space_id, ctx.here, ctx.user_id)
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        return Reply(t("community.code", ctx.language, code=code, minutes=minutes), Outcome.DONE, private=True)

    async def join(self, ctx: Context, typed: str) -> Reply:
        """Join this space to the community a code was made in."""
        refusal = await self._refusal(ctx, "community join")
        if refusal is not None:
            return refusal
        code = normalise(typed)
        if code is None:
            return Reply(t("community.usage", ctx.language), Outcome.REFUSED)
        outcome = await self.queries.join(ctx.here, self.code_hash(code), self.services.clock())
        log.info("action=community_join space=%s outcome=%s", ctx.here, outcome.value)
        if outcome is not JoinOutcome.JOINED:
            status = Outcome.ALREADY_DONE if outcome is JoinOutcome.ALREADY_MEMBER else Outcome.REFUSED
            return Reply(t(f"community.{outcome.value}", ctx.language), status)
        return Reply(t("community.joined", ctx.language), Outcome.DONE)

    async def leave(self, ctx: Context) -> Reply:
        """Take this space out of its community. A space the settings declare is refused: the operator's
        list is applied again at every start, so leaving would only last until the next restart."""
        refusal = await self._refusal(ctx, "community leave")
        if refusal is not None:
            return refusal
        key = (ctx.space.platform, ctx.space.external_id)
        if any(key in community.space_keys for community in self.services.settings.communities):
            return Reply(t("community.declared", ctx.language), Outcome.REFUSED)
        outcome = await self.queries.leave(ctx.here)
        log.info("action=community_leave space=%s outcome=%s", ctx.here, outcome.value)
        if outcome is not LeaveOutcome.LEFT:
            return Reply(t(f"community.leave_{outcome.value}", ctx.language), Outcome.REFUSED)
        return Reply(t("community.left", ctx.language), Outcome.DONE)

    async def listing(self, ctx: Context) -> Reply:
        """The spaces of this community, its home first; anyone may ask."""
        spaces = await self.queries.spaces(ctx.space_id)
        if len(spaces) < 2:
            return Reply(t("community.alone", ctx.language))
        lines = [t("community.title", ctx.language)]
        lines += [
            t(
                "community.home_line" if space.is_home else "community.line",
                ctx.language,
                platform=space.platform.capitalize(),
                title=space.title or space.external_id,
            )
            for space in spaces
        ]
        return Reply(Markup("\n".join(lines)))

    async def _refusal(self, ctx: Context, command: str) -> Reply | None:
        """Linking is a moderator's, and about a group or a server: a private chat belongs to no community."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, command)
        if refusal is not None:
            return refusal
        if ctx.space.is_private:
            return Reply(t("community.not_private", ctx.language), Outcome.REFUSED)
        return None
