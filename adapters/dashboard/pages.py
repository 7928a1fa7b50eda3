"""The dashboard's pages: Overview, Rounds, Members, Rewards and Audit log of one community (the Ideas
page, with its many actions, is :mod:`adapters.dashboard.ideas_page`, built on :class:`Pages`).

Every page is under ``/c/<community id>/`` and first checks that the signed-in teammate may see that
community (a password teammate sees all; a chat teammate those they moderate on their platform), and that
a round or idea named in the URL belongs to it, so changing an id in the URL reaches nothing else. Reads
come from the store; actions run the chat's use case through :meth:`bot.engine.Engine.run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.app import Dashboard
from adapters.dashboard.i18n import language_of
from adapters.dashboard.round_view import question_tables, typed_answers
from bot.context import Context
from bot.features.rounds.results import round_tallies
from bot.identity import SpaceRef
from bot.replies import Outcome, Reply, to_plain
from bot.store.dashboard_sql import CommunityRow
from bot.store.records import IdeaStatus, RoundRecord
from bot.texts import t

LOW_STOCK = 5  # a reward with this many or fewer left shows on the Overview
MEMBERS_SHOWN = 100
AUDIT_SHOWN = 100
ROUNDS_SHOWN = 200
Handler = Callable[[Request], Awaitable[Response]]


class Pages:
    """The page handlers over one :class:`Dashboard`."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard
        self.engine = dashboard.engine
        self.store = dashboard.store

    # who may see what ---------------------------------------------------------------------------

    async def _principal(self, request: Request) -> auth.Principal:
        principal = await auth.principal(request, self.store)
        if principal is None:
            raise HTTPException(401)
        return principal

    async def _communities(self, principal: auth.Principal) -> list[CommunityRow]:
        """A password teammate sees every community; a chat teammate those they moderate there."""
        if principal.by_password:
            return await self.store.dashboard.communities()
        visible = []
        for community in await self.store.dashboard.communities(principal.platform):
            ctx = await self.engine.context(principal.user, space_of(community))
            if await self.engine.moderation.is_moderator(ctx):
                visible.append(community)
        return visible

    async def _community(self, request: Request) -> tuple[auth.Principal, CommunityRow, list[CommunityRow]]:
        principal = await self._principal(request)
        communities = await self._communities(principal)
        wanted = request.path_params["community"]
        chosen = next((c for c in communities if c.id == wanted), None)
        if chosen is None:
            raise HTTPException(404, "No such community here.")
        return principal, chosen, communities

    async def _page(self, request: Request, template: str, **values: Any) -> Response:
        principal, community, communities = await self._community(request)
        return self.d.render(
            request, template, principal=principal, community=community, communities=communities, **values
        )

    async def _act(self, request: Request, use_case: Callable[[Context], Awaitable[Reply]], back: str) -> Response:
        """Run a chat use case as the teammate (viewers are refused first) and show its answer."""
        principal, community, _ = await self._community(request)
        if not principal.may_act:
            raise HTTPException(403, "Viewers can read the dashboard but not act.")
        reply = await self.engine.run(principal.user, space_of(community), use_case)
        request.session["flash"] = {"text": to_plain(reply.text), "ok": reply.outcome is Outcome.DONE}
        return RedirectResponse(f"/c/{community.id}/{back}", 303)

    # pages --------------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        principal = await self._principal(request)
        communities = await self._communities(principal)
        if len(communities) == 1:
            return RedirectResponse(f"/c/{communities[0].id}", 303)
        return self.d.render(request, "home.html", principal=principal, communities=communities, community=None)

    async def overview(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        rounds = [r for r in await self.store.rounds.rounds_in(community.id, ROUNDS_SHOWN) if r.is_open]
        members = await self.store.dashboard.member_count(community.id)
        open_rounds = []
        now = self.engine.services.clock()
        for record in rounds:
            answered = await self.store.rounds.participants(record.id)
            open_rounds.append(
                {
                    "round": record,
                    "participants": answered,
                    "rate": f"{answered / members:.0%}" if members else "–",
                    "progress": _time_progress(record.opened_at, record.closes_at, now),
                }
            )
        ideas = [i for i in await self.store.ideas.listed(community.id) if i.status is IdeaStatus.NEW]
        rewards = [r for r in await self.store.rewards.catalog() if r.stock is not None and r.stock <= LOW_STOCK]
        return await self._page(request, "overview.html", open_rounds=open_rounds, ideas=ideas, rewards=rewards)

    async def rounds(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        return await self._page(request, "rounds.html", rounds=await self.store.rounds.rounds_in(community.id, 200))

    async def _round(self, request: Request) -> tuple[auth.Principal, CommunityRow, RoundRecord]:
        """The round named in the URL, when it belongs to the community named there (else 404)."""
        principal, community, _ = await self._community(request)
        record = await self.store.rounds.round(request.path_params["round"])
        if record is None or record.space_id != community.id:
            raise HTTPException(404, "No such round in this community.")
        return principal, community, record

    async def round_page(self, request: Request) -> Response:
        """A poll round's tables, chart and typed answers (``?q=`` searches them); an ideas round's
        ranking as the chat's results text shows it."""
        _, _, record = await self._round(request)
        language = language_of(request)
        search = request.query_params.get("q", "")[:100]
        campaign = self.engine.services.catalog.campaign(record.subject)
        if campaign is None:
            results = await self.engine.results.render_results(record.id, language)
            return await self._page(request, "round.html", round=record, results=to_plain(results.text), search="")
        tallies = await round_tallies(self.engine.services, record.id, campaign, language)
        nps = tuple(str(t(f"results.{group}", language)) for group in ("detractors", "passives", "promoters"))
        return await self._page(
            request,
            "round.html",
            round=record,
            tables=question_tables(tallies, language, nps),
            charted=any(tally.answers and tally.counts for tally in tallies),
            texts=await typed_answers(self.engine.services, record.id, campaign, language, search),
            search=search,
        )

    async def chart(self, request: Request) -> Response:
        """The round's results chart, the PNG ``/results`` sends, behind the page's own checks."""
        _, _, record = await self._round(request)
        results = await self.engine.results.render_results(record.id, language_of(request))
        if results.image is None:
            raise HTTPException(404, "This round has no chart yet.")
        return Response(results.image.data, media_type="image/png", headers={"cache-control": "private, max-age=60"})

    async def export(self, request: Request) -> Response:
        principal, community, record = await self._round(request)
        fmt = request.path_params["format"]
        if fmt not in ("csv", "json"):
            raise HTTPException(404, "No such export in this community.")
        if not principal.may_act:
            raise HTTPException(403, "Exports are for moderators.")
        reply = await self.engine.run(
            principal.user, space_of(community), lambda ctx: self.engine.exports.export_reply(ctx, record.id, fmt)
        )
        if reply.attachment is None:
            raise HTTPException(403, to_plain(reply.text))
        disposition = f'attachment; filename="{reply.attachment.filename}"'
        media = "text/csv" if fmt == "csv" else "application/json"
        return Response(reply.attachment.data, media_type=media, headers={"content-disposition": disposition})

    async def members(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        search = request.query_params.get("q", "")[:100]
        members = await self.store.dashboard.members(community.id, search, MEMBERS_SHOWN)
        return await self._page(request, "members.html", members=members, search=search)

    async def ban(self, request: Request) -> Response:
        form = await auth.checked_form(request)
        banned = form.get("action") == "ban"
        platform, member, reason = (str(form.get(name, "")) for name in ("platform", "member", "reason"))
        return await self._act(
            request,
            lambda ctx: self.engine.moderation.ban(ctx, member, banned, reason=reason, platform=platform),
            "members",
        )

    async def rewards(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        redemptions = await self.store.rewards.redemptions(community.id)
        return await self._page(
            request, "rewards.html", rewards=await self.store.rewards.catalog(), redemptions=redemptions
        )

    async def audit(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        entries = await self.store.members.audit_entries(community.id, AUDIT_SHOWN)
        return await self._page(request, "audit.html", entries=entries)


def space_of(community: CommunityRow) -> SpaceRef:
    """The community's home space, where a teammate's use cases run."""
    return SpaceRef(community.platform, community.external_id, community.title)


def _time_progress(opened: datetime, closes: datetime | None, now: datetime) -> str:
    """How far an open round is through its time ("–" without a deadline)."""
    if closes is None or closes <= opened:
        return "–"
    return f"{min(1.0, max(0.0, (now - opened) / (closes - opened))):.0%}"


def page_routes(dashboard: Dashboard) -> list[Route]:
    pages = Pages(dashboard)
    c = "/c/{community:int}"
    return [
        Route("/", pages.home),
        Route(c, pages.overview),
        Route(f"{c}/rounds", pages.rounds),
        Route(c + "/rounds/{round:int}", pages.round_page),
        Route(c + "/rounds/{round:int}/chart.png", pages.chart),
        Route(c + "/rounds/{round:int}/export.{format}", pages.export),
        Route(f"{c}/members", pages.members),
        Route(f"{c}/members/ban", pages.ban, methods=["POST"]),
        Route(f"{c}/rewards", pages.rewards),
        Route(f"{c}/audit", pages.audit),
    ]
