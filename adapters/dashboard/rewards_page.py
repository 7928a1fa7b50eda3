"""The Rewards page: stock, codes left and redemptions for everyone; for owners, adding or restocking a
reward and importing codes from an uploaded file.

Owner actions run :class:`~bot.features.rewards.managing.RewardManagement`, the same rules as
``crowdpulse rewards add`` and ``rewards import``, audited as the teammate. An upload is read only up to
its limit: a larger file is refused before it is parsed, whatever its ``Content-Length`` claims.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.app import Dashboard
from adapters.dashboard.pages import Pages
from adapters.dashboard.team_page import owner_of
from bot.features.rewards.managing import MAX_UPLOAD_BYTES, RewardManagement


class RewardsPage(Pages):
    """The Rewards page's handlers."""

    def __init__(self, dashboard: Dashboard) -> None:
        super().__init__(dashboard)
        self.management = RewardManagement(self.engine.services)

    async def rewards(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        return await self._page(
            request,
            "rewards.html",
            rewards=await self.store.rewards.catalog(),
            redemptions=await self.store.rewards.redemptions(community.id),
            max_upload_kb=MAX_UPLOAD_BYTES // 1000,
        )

    async def save(self, request: Request) -> Response:
        """Add a reward or change one (a restock is a new stock): owners only."""
        await owner_of(self, request)
        form = await auth.checked_form(request)
        reward_id, title = str(form.get("id", "")).strip(), str(form.get("title", ""))
        cost, stock = _number(form.get("cost")), _number(form.get("stock"))
        if cost is None:
            raise HTTPException(400, "error.bad_number")
        return await self._act(request, lambda ctx: self.management.save(ctx, reward_id, title, cost, stock), "rewards")

    async def import_codes(self, request: Request) -> Response:
        """Import the uploaded ``reward_id,code`` file: owners only, at most :data:`MAX_UPLOAD_BYTES`."""
        await owner_of(self, request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 10_000:  # the form's other fields
            raise HTTPException(413, "error.too_big")
        try:
            upload = (await auth.checked_form(request)).get("codes")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "error.no_file")
            data = await upload.read(MAX_UPLOAD_BYTES + 1)
            filename = upload.filename or "codes.csv"
        finally:
            await request.close()  # the parsed upload's temporary file, refused or not
        return await self._act(request, lambda ctx: self.management.import_upload(ctx, data, filename), "rewards")


def _number(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def routes(dashboard: Dashboard) -> list[Route]:
    page = RewardsPage(dashboard)
    c = "/c/{community:int}"
    return [
        Route(f"{c}/rewards", page.rewards),
        Route(f"{c}/rewards/save", page.save, methods=["POST"]),
        Route(f"{c}/rewards/import", page.import_codes, methods=["POST"]),
    ]
