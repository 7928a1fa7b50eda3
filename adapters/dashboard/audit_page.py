"""The Audit log: every moderator action from chat or dashboard in this community, newest first, naming
the teammate, filterable by teammate, action and day (``?teammate=&action=&since=&until=``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.dashboard.app import Dashboard
from adapters.dashboard.pages import Pages
from adapters.dashboard.params import day
from bot.store.dashboard_views_sql import AuditQuery

AUDIT_SHOWN = 200


class AuditPage(Pages):
    """The Audit log's handler."""

    def __init__(self, dashboard: Dashboard) -> None:
        super().__init__(dashboard)
        self.views = self.store.dashboard_views

    async def audit(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        params = request.query_params
        actions = await self.views.audit_actions(community.id)
        action = params.get("action", "")
        query = AuditQuery(
            teammate=params.get("teammate", "")[:100],
            action=action if action in actions else "",
            since=day(params.get("since", "")),
            until=day(params.get("until", "")),
            limit=AUDIT_SHOWN,
        )
        entries = await self.views.audit_log(community.id, query)
        return await self._page(request, "audit.html", entries=entries, query=query, actions=actions)


def routes(dashboard: Dashboard) -> list[Route]:
    return [Route("/c/{community:int}/audit", AuditPage(dashboard).audit)]
