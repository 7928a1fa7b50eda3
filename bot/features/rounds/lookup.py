"""What every round use case needs to name a round: its title, its deadline in words, which one is meant."""

from __future__ import annotations

from datetime import datetime

from bot.catalog import text_in
from bot.context import Context, Services
from bot.features.moderation import Moderation
from bot.replies import Outcome, Reply
from bot.store.records import RoundRecord
from bot.texts import t

_CANDIDATES = 50


def round_title(services: Services, subject: str, language: str) -> str:
    """A round's subject as members read it: the campaign's or topic's title, else the subject itself."""
    catalog = services.catalog
    campaign = catalog.campaign(subject)
    if campaign is not None:
        return text_in(campaign.title, language)
    topic = catalog.topic(subject)
    return text_in(topic.title, language) if topic is not None else subject


def when(services: Services, moment: datetime | None) -> str:
    """A deadline in the instance's time zone ("Mon 24 Nov 18:00"); empty for none."""
    if moment is None:
        return ""
    return moment.astimezone(services.settings.zone).strftime("%a %d %b %H:%M")


async def pick_round(
    services: Services,
    moderation: Moderation,
    ctx: Context,
    command: str,
    round_id: int | None,
    *,
    only_open: bool,
) -> RoundRecord | Reply:
    """The round a moderator means by ``command``: ``round_id`` when it is one of this space's, else the
    only open one (``only_open``) or the latest; a refusal for a non-moderator, or one that says which ids
    to choose from."""
    refusal = await moderation.refuse_unless_moderator(ctx, command)
    if refusal is not None:
        return refusal
    if round_id is not None:
        record = await services.store.rounds.round(round_id)
        if record is None or record.space_id != ctx.space_id:
            return Reply(t("round.unknown", ctx.language, id=round_id), Outcome.REFUSED)
        return record
    latest = await services.store.rounds.rounds_in(ctx.space_id, _CANDIDATES)
    candidates = [record for record in latest if record.is_open or not only_open]
    if not candidates:
        return Reply(t("round.none_open" if only_open else "round.none", ctx.language), Outcome.REFUSED)
    if only_open and len(candidates) > 1:
        ids = ", ".join(f"#{record.id}" for record in candidates)
        return Reply(t("round.which", ctx.language, ids=ids), Outcome.REFUSED)
    return candidates[0]
