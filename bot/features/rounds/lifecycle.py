"""Rounds: moderators open and close them; closing tallies, awards and announces, exactly once.

A *tasks* round serves a campaign's tasks in a space; an *ideas* round collects ideas on a topic.
Several may be open at once. A round may carry a deadline: the scheduler (:meth:`Rounds.close_due`)
closes it, also after downtime, since it closes every round whose deadline is in the past. Closing is
one conditional UPDATE: whoever flips the status does the rest in the same transaction, so two
moderators, a deadline and several processes can race and the results are announced once.

Announcements and results go through the outbox as small markers (``{"render": "round_results"}``)
rendered when sent (:mod:`bot.features.rounds.results`), so the writer never waits for a chart.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.context import Context, Services
from bot.features.moderation import Moderation
from bot.features.rounds.attention import round_checks
from bot.features.rounds.cache import OpenRounds
from bot.features.rounds.lookup import pick_round, round_title, when
from bot.replies import Outcome, Reply
from bot.store.records import Announcement, Closing, NewRound
from bot.texts import Markup, t

log = logging.getLogger(__name__)

_LISTED = 10


class Rounds:
    """Opening, closing and listing rounds."""

    def __init__(self, services: Services, moderation: Moderation, open_rounds: OpenRounds) -> None:
        self.services = services
        self.moderation = moderation
        self.open_rounds = open_rounds
        self.queries = services.store.rounds

    async def open(
        self, ctx: Context, subject: str, duration: timedelta | None = None, update_key: str | None = None
    ) -> Reply:
        """Open a round on a campaign (tasks) or a topic (ideas), until ``duration`` from now if given.

        ``update_key`` names the platform message: redelivered after the round was closed, it opens
        nothing new (the round it opened is recorded with it).
        """
        refusal = await self.moderation.refuse_unless_moderator(ctx, "round open")
        if refusal is not None:
            return refusal
        catalog = self.services.catalog
        kind = "tasks" if catalog.campaign(subject) else "ideas" if catalog.topic(subject) else None
        if kind is None:
            choices = ", ".join(sorted([*catalog.campaigns, *catalog.topics]))
            return Reply(
                t("round.unknown_subject", ctx.language, subject=subject or "?", choices=choices),
                Outcome.REFUSED,
            )
        now = self.services.clock()
        closes_at = now + duration if duration else None
        title = round_title(self.services, subject, ctx.language)
        new = NewRound(
            ctx.space_id,
            kind,
            subject,
            title,
            opened_by=ctx.user_id,
            closes_at=closes_at,
            announcement=Announcement({"render": "round_opened"}),
            update_key=f"round-open:{update_key}" if update_key else None,
        )
        round_id, created = await self.queries.open(new, now)
        self.open_rounds.forget(ctx.space_id)
        if not created:
            return Reply(t("round.already_open", ctx.language, id=round_id), Outcome.ALREADY_DONE)
        log.info("action=round_open round=%s subject=%s space=%s", round_id, subject, ctx.space_id)
        key = "round.opened_until" if closes_at else "round.opened"
        return Reply(
            t(key, ctx.language, id=round_id, title=title, closes=when(self.services, closes_at)),
            Outcome.DONE,
        )

    async def close(self, ctx: Context, round_id: int | None = None) -> Reply:
        """Close a round now: ``round_id``, or the only open round here when none is given."""
        record = await pick_round(self.services, self.moderation, ctx, "round close", round_id, only_open=True)
        if isinstance(record, Reply):
            return record
        closed = await self._close(record.id, ctx.user_id)
        self.open_rounds.forget(ctx.space_id)
        if not closed:
            return Reply(t("round.already_closed", ctx.language, id=record.id), Outcome.ALREADY_DONE)
        return Reply(t("round.closed_now", ctx.language, id=record.id), Outcome.DONE)

    async def close_due(self) -> int:
        """Close every round whose deadline has passed; returns how many this call closed."""
        closed = 0
        for round_id in await self.queries.due(self.services.clock()):
            if await self._close(round_id, None):
                self.open_rounds.forget_everywhere()
                log.info("action=round_deadline_close round=%s", round_id)
                closed += 1
        return closed

    async def _close(self, round_id: int, closed_by: int | None) -> bool:
        services = self.services
        checks = round_checks(services.catalog, await self.queries.round(round_id))
        winners = tuple(services.settings.rounds.winner_points)
        closing = Closing(round_id, closed_by, winners, services.rules, checks)
        return await self.queries.close(closing, services.clock())

    async def listing(self, ctx: Context) -> Reply:
        """The latest rounds here with their status; moderators only."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "round")
        if refusal is not None:
            return refusal
        records = await self.queries.rounds_in(ctx.space_id, _LISTED)
        if not records:
            return Reply(t("round.none", ctx.language))
        lines = [t("round.list_title", ctx.language)]
        lines += [
            t(
                "round.list_line",
                ctx.language,
                id=record.id,
                title=round_title(self.services, record.subject, ctx.language),
                status=t(f"round.status_{record.status}", ctx.language),
            )
            for record in records
        ]
        return Reply(Markup("\n".join(lines)))
