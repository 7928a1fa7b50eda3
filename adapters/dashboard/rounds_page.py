"""The Rounds page and a round's page: its tables, chart and typed answers, filtered, and its exports.

The filter (platform, space, language, days) is read once into an
:class:`~bot.store.records.AnswerFilter` and handed to the engine: the tallies (n, skips, shares and
intervals), the chart, the typed answers and **Export CSV** / **Export JSON** all select the same answers
in SQL, so what a teammate downloads is what the page showed.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.app import Dashboard
from adapters.dashboard.i18n import language_of
from adapters.dashboard.pages import Pages, space_of
from adapters.dashboard.round_view import answer_filter, filter_query, question_tables, typed_answers
from bot.features.rounds.export import filename
from bot.features.rounds.lookup import round_title
from bot.features.rounds.results import round_chart, round_tallies
from bot.replies import Outcome, to_plain
from bot.store.dashboard_sql import CommunityRow
from bot.store.dashboard_views_sql import SpaceRow
from bot.store.records import AnswerFilter, RoundRecord
from bot.texts import available_languages, t

ROUNDS_SHOWN = 200
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class RoundPages(Pages):
    """Handlers of the Rounds page, a round's page, its chart and its exports."""

    async def rounds(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        listed = await self.store.rounds.rounds_in(community.id, ROUNDS_SHOWN)
        return await self._page(request, "rounds.html", rounds=listed)

    async def _round(
        self, request: Request
    ) -> tuple[auth.Principal, CommunityRow, RoundRecord, AnswerFilter, list[SpaceRow]]:
        """The round named in the URL when it belongs to the community named there (else 404), the filter
        the query string asks for, and the community's spaces that filter chose among."""
        principal, community, _ = await self._community(request)
        record = await self.store.rounds.round(request.path_params["round"])
        if record is None or record.space_id != community.id:
            raise HTTPException(404, "error.no_round")
        spaces = await self.store.dashboard_views.spaces_of(community.id)
        default = self.engine.services.settings.default_language
        where = answer_filter(request.query_params, spaces, available_languages(), default)
        return principal, community, record, where, spaces

    async def round_page(self, request: Request) -> Response:
        """A poll round's tables, chart and typed answers, all of the answers the filter selects (``?q=``
        searches the typed ones); an ideas round's ranking as the chat's results text shows it."""
        _, _, record, where, spaces = await self._round(request)
        language = language_of(request)
        search = request.query_params.get("q", "")[:100]
        shown = {
            "round": record,
            "where": where,
            "spaces": spaces,
            "platforms": sorted({space.platform for space in spaces}),
            "languages": available_languages(),
            "filtered": filter_query(where),
        }
        campaign = self.engine.services.catalog.campaign(record.subject)
        if campaign is None:
            results = await self.engine.results.render_results(record.id, language)
            return await self._page(request, "round.html", results=to_plain(results.text), search="", **shown)
        services = self.engine.services
        tallies, texts = await asyncio.gather(  # side by side on the store's report readers (bot.store.reads)
            round_tallies(services, record.id, campaign, language, where),
            typed_answers(services, self.engine.results.themes, record, campaign, language, search, where),
        )
        nps = tuple(str(t(f"results.{group}", language)) for group in ("detractors", "passives", "promoters"))
        return await self._page(
            request,
            "round.html",
            tables=question_tables(tallies, language, nps),
            charted=any(tally.answers and tally.counts for tally in tallies),
            texts=texts,
            search=search,
            **shown,
        )

    async def chart(self, request: Request) -> Response:
        """The chart of the answers the filter selects: ``/results``'s chart, behind the page's checks."""
        _, _, record, where, _ = await self._round(request)
        campaign = self.engine.services.catalog.campaign(record.subject)
        if campaign is None:
            raise HTTPException(404, "error.no_chart")
        language = language_of(request)
        tallies = await round_tallies(self.engine.services, record.id, campaign, language, where)
        heading = f"{round_title(self.engine.services, record.subject, language)} · #{record.id}"
        image = await round_chart(tallies, campaign, heading, f"round-{record.id}.png", language)
        if image is None:
            raise HTTPException(404, "error.no_chart")
        return Response(image.data, media_type="image/png", headers={"cache-control": "private, max-age=60"})

    async def export(self, request: Request) -> Response:
        """**Export CSV** / **Export JSON** of the answers the filter selects: the chat's ``/export`` checks
        (moderators only, audited), then the file streamed a page of rows at a time, in bounded memory."""
        principal, community, record, where, _ = await self._round(request)
        fmt = request.path_params["format"]
        if fmt not in MEDIA_TYPES:
            raise HTTPException(404, "error.no_export")
        if not principal.may_act:
            raise HTTPException(403, "error.viewer")
        reply = await self.engine.run(
            principal.user,
            space_of(community),
            lambda ctx: self.engine.exports.download(ctx, record.id, fmt, where),
        )
        if reply.outcome is not Outcome.DONE:
            raise HTTPException(403, to_plain(reply.text))
        disposition = f'attachment; filename="{filename(record.id, fmt)}"'
        return StreamingResponse(
            self.engine.exports.stream(record.id, fmt, where),
            media_type=MEDIA_TYPES[fmt],
            headers={"content-disposition": disposition},
        )


def routes(dashboard: Dashboard) -> list[Route]:
    handlers = RoundPages(dashboard)
    c = "/c/{community:int}"
    return [
        Route(f"{c}/rounds", handlers.rounds),
        Route(c + "/rounds/{round:int}", handlers.round_page),
        Route(c + "/rounds/{round:int}/chart.png", handlers.chart),
        Route(c + "/rounds/{round:int}/export.{format}", handlers.export),
    ]
