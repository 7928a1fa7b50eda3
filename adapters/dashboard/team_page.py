"""The Team page, for owners: teammates listed, added with a role and a password, given another role,
removed. A moderator or a viewer gets 403, on the page and on every post.

Adding runs :func:`adapters.dashboard.auth.save_teammate`, the very function behind ``crowdpulse
dashboard-user add`` (argon2id, the same password rule); the store refuses to remove or demote the last
owner. Each change is written to the audit log of the community it was made from, naming the owner.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.app import Dashboard
from adapters.dashboard.pages import Pages
from bot.context import Context
from bot.replies import Outcome, Reply
from bot.texts import t


async def owner_of(pages: Pages, request: Request) -> auth.Principal:
    """The signed-in teammate when they are an owner (a password account's role), else 403."""
    principal, _, _ = await pages._community(request)
    if principal.role != "owner":
        raise HTTPException(403, "error.owners_only")
    return principal


class TeamPage(Pages):
    """The Team page's handlers."""

    def __init__(self, dashboard: Dashboard) -> None:
        super().__init__(dashboard)
        self.services = self.engine.services

    async def team(self, request: Request) -> Response:
        await owner_of(self, request)
        return await self._page(
            request, "team.html", teammates=await self.store.dashboard.teammates(), roles=auth.ROLES
        )

    async def add(self, request: Request) -> Response:
        await owner_of(self, request)
        form = await auth.checked_form(request)
        name, password, role = (str(form.get(field, "")) for field in ("name", "password", "role"))

        async def use_case(ctx: Context) -> Reply:
            try:
                await auth.save_teammate(self.store, name, password, role, self.services.clock())
            except auth.TeammateError as error:
                key, variables = error.args
                return Reply(t(f"web.{key}", ctx.language, **variables), Outcome.REFUSED)
            await self._audit(ctx, "teammate_save", name.strip(), role)
            return Reply(t("web.team.saved", ctx.language, name=name.strip(), role=role), Outcome.DONE)

        return await self._act(request, use_case, "team")

    async def change(self, request: Request) -> Response:
        """A new role for a teammate, or their removal (``role`` ``remove``)."""
        await owner_of(self, request)
        form = await auth.checked_form(request)
        name, wanted = str(form.get("name", "")), str(form.get("role", ""))
        if wanted != "remove" and wanted not in auth.ROLES:
            raise HTTPException(400, "error.bad_role")
        role = None if wanted == "remove" else wanted

        async def use_case(ctx: Context) -> Reply:
            if not await self.store.dashboard.change_teammate(name, role):
                return Reply(t("web.team.unchanged", ctx.language, name=name), Outcome.REFUSED)
            await self._audit(ctx, "teammate_remove" if role is None else "teammate_role", name, role or "")
            key = "web.team.removed" if role is None else "web.team.saved"
            return Reply(t(key, ctx.language, name=name, role=role or ""), Outcome.DONE)

        return await self._act(request, use_case, "team")

    async def _audit(self, ctx: Context, action: str, target: str, detail: str) -> None:
        await self.store.dashboard_views.record(
            ctx.space_id, ctx.user_id, action, target, detail, self.services.clock()
        )


def routes(dashboard: Dashboard) -> list[Route]:
    page = TeamPage(dashboard)
    c = "/c/{community:int}"
    return [
        Route(f"{c}/team", page.team),
        Route(f"{c}/team/add", page.add, methods=["POST"]),
        Route(f"{c}/team/change", page.change, methods=["POST"]),
    ]
