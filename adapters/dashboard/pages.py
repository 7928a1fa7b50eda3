"""What every dashboard page shares (who may see which community, rendering, acting as the teammate),
and the Members page; the others are built on :class:`Pages` in their own modules (``overview_page``,
``rounds_page``, ``ideas_page``, ``rewards_page``, ``team_page``, ``audit_page``).

Every page is under ``/c/<community id>/`` and first checks that the signed-in teammate may see that
community (a password teammate sees all; a chat teammate those they moderate on their platform), and that
a round or idea named in the URL belongs to it, so changing an id in the URL reaches nothing else. Reads
come from the store; actions run the chat's use case through :meth:`bot.engine.Engine.run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.app import Dashboard
from bot.context import Context
from bot.identity import SpaceRef
from bot.replies import Outcome, Reply, to_plain
from bot.store.dashboard_sql import CommunityRow

MEMBERS_SHOWN = 100
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
            raise HTTPException(404, "error.no_community")
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
            raise HTTPException(403, "error.viewer")
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


def space_of(community: CommunityRow) -> SpaceRef:
    """The community's home space, where a teammate's use cases run."""
    return SpaceRef(community.platform, community.external_id, community.title)


def page_routes(dashboard: Dashboard) -> list[Route]:
    pages = Pages(dashboard)
    c = "/c/{community:int}"
    return [
        Route("/", pages.home),
        Route(f"{c}/members", pages.members),
        Route(f"{c}/members/ban", pages.ban, methods=["POST"]),
    ]
