"""The dashboard's shared state and its sign-in and sign-out handlers.

Pages (:mod:`adapters.dashboard.pages`) render on the server and read without JavaScript; htmx (shipped
in ``static/``) only makes navigation quicker. Every action a page offers calls the engine use case the
chat command calls, as the signed-in teammate, so rules, audit rows and notifications are the chat's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from adapters.dashboard import auth
from adapters.dashboard.i18n import language_of, text, translator
from bot.engine import Engine
from bot.features.dashboard_access import link_hash
from bot.identity import SpaceRef, UserRef
from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SIGN_IN_ATTEMPTS_PER_MINUTE = 5


class Dashboard:
    """What every request handler shares: the engine, the templates, the sign-in limiter."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.services.store
        self.templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html
        self.sign_ins = RateLimiter(SIGN_IN_ATTEMPTS_PER_MINUTE / 60, SIGN_IN_ATTEMPTS_PER_MINUTE, max_keys=10_000)
        engine.moderation.register_check(auth.DASHBOARD_PLATFORM, self._acts)

    async def _acts(self, user: UserRef, _: SpaceRef) -> bool:
        """A password teammate moderates every community when their role lets them act."""
        teammate = await self.store.dashboard.teammate(user.platform_user_id)
        return teammate is not None and teammate.role in ("owner", "moderator")

    def render(self, request: Request, template: str, *, status_code: int = 200, **values: Any) -> Response:
        values.setdefault("flash", request.session.pop("flash", None))
        values["csrf"] = auth.csrf_token(request)
        values["lang"] = language = language_of(request)
        values["_"] = translator(language)
        values["said"] = translator(language, section="")
        return self.templates.TemplateResponse(request, template, values, status_code=status_code)

    # signing in and out -------------------------------------------------------------------------

    async def sign_in_form(self, request: Request) -> Response:
        return self.render(request, "signin.html", principal=None)

    async def sign_in(self, request: Request) -> Response:
        form = await auth.checked_form(request)
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        client = request.client.host if request.client else "?"
        if not (self.sign_ins.allow(("ip", client)) and self.sign_ins.allow(("name", name))):
            log.warning("dashboard_sign_in=refused reason=rate_limit client=%s", client)
            return self.render(
                request, "signin.html", status_code=429, principal=None, error=text(request, "error.too_many")
            )
        if not await auth.check_password(self.store, name, password):
            log.info("dashboard_sign_in=refused reason=password client=%s", client)
            return self.render(
                request, "signin.html", status_code=401, principal=None, error=text(request, "error.wrong_password")
            )
        auth.sign_in(request, auth.DASHBOARD_PLATFORM, name, name)
        log.info("dashboard_sign_in=password name=%s", name)
        return RedirectResponse("/", 303)

    async def link_form(self, request: Request) -> Response:
        """A page with a button: fetching the link (a chat's link preview does) must not use it up."""
        return self.render(request, "link.html", principal=None, token=request.path_params["token"])

    async def link_sign_in(self, request: Request) -> Response:
        await auth.checked_form(request)
        holder = await self.store.dashboard.use_link(
            link_hash(request.path_params["token"]), self.engine.services.clock()
        )
        if holder is None:
            return self.render(
                request, "signin.html", status_code=403, principal=None, error=text(request, "error.link")
            )
        auth.sign_in(request, holder.platform, holder.platform_user_id, holder.display_name)
        log.info("dashboard_sign_in=link platform=%s user=%s", holder.platform, holder.platform_user_id)
        return RedirectResponse("/", 303)

    async def sign_out(self, request: Request) -> Response:
        await auth.checked_form(request)
        request.session.clear()
        return RedirectResponse("/signin", 303)
