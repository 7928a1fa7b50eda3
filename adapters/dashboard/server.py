"""The dashboard's web application, and serving it beside the chat adapters in one event loop.

Pages (:mod:`adapters.dashboard.pages`) render on the server and read without JavaScript; htmx (shipped
in ``static/``) only refreshes the ideas filter in place. Every action a page offers calls the engine use
case the chat command calls, as the signed-in teammate, so rules, audit rows and notifications are the
chat's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from http import HTTPStatus

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from adapters.dashboard import audit_page, overview_page, rewards_page, rounds_page, team_page
from adapters.dashboard.app import HERE, Dashboard
from adapters.dashboard.headers import ReportReads, SecurityHeaders
from adapters.dashboard.i18n import text
from adapters.dashboard.ideas_page import IdeasPage, idea_routes
from adapters.dashboard.pages import page_routes
from bot.engine import Engine
from bot.features.dashboard_access import LINK_PATH

GENERIC_REFUSALS = (400, 403, 404, 405, 413, 429)  # statuses with a ``web.error.http_<status>`` sentence


async def _refused(request: Request, exc: Exception) -> Response:
    """A refusal in the teammate's language: a ``web.error.*`` key raised by a handler is translated, an
    HTTP status Starlette raised by itself (an unknown path, a wrong method) gets its sentence, and a
    use case's own refusal (already in words) is shown as it is."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 401:
        return RedirectResponse("/signin", 303)
    detail = str(exc.detail)
    if detail.startswith("error."):
        detail = text(request, detail)
    elif detail == HTTPStatus(exc.status_code).phrase:
        known = exc.status_code in GENERIC_REFUSALS
        detail = text(request, f"error.http_{exc.status_code}" if known else "error.http_other")
    return Response(f"{exc.status_code}: {detail}", exc.status_code, media_type="text/plain; charset=utf-8")


def build_app(engine: Engine) -> Starlette:
    """The dashboard over ``engine``; its session key is derived from the instance's secret."""
    dashboard = Dashboard(engine)
    settings = engine.services.settings.dashboard
    session_key = hashlib.sha256(b"dashboard-session:" + engine.services.codec_key).hexdigest()
    routes = [
        Route("/signin", dashboard.sign_in_form, methods=["GET"]),
        Route("/signin", dashboard.sign_in, methods=["POST"]),
        Route(LINK_PATH + "{token}", dashboard.link_form, methods=["GET"]),
        Route(LINK_PATH + "{token}", dashboard.link_sign_in, methods=["POST"]),
        Route("/signout", dashboard.sign_out, methods=["POST"]),
        *page_routes(dashboard),
        *overview_page.routes(dashboard),
        *rounds_page.routes(dashboard),
        *rewards_page.routes(dashboard),
        *team_page.routes(dashboard),
        *audit_page.routes(dashboard),
        *idea_routes(IdeasPage(dashboard)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(ReportReads),
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=session_key,
            session_cookie="crowdpulse_dashboard",
            max_age=settings.session_hours * 3600,
            same_site="lax",
            https_only=settings.address.startswith("https://"),
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: _refused})


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the command line owns SIGINT and SIGTERM and stops
    every adapter, this one included, through one event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(engine: Engine, stop: asyncio.Event) -> None:
    """Serve the dashboard in this event loop until ``stop`` is set (``crowdpulse run`` and ``dashboard``)."""
    settings = engine.services.settings.dashboard
    config = uvicorn.Config(
        build_app(engine), host=settings.host, port=settings.port, log_level="warning", lifespan="off"
    )
    running = _Server(config)
    task = asyncio.create_task(running.serve())
    await stop.wait()
    running.should_exit = True
    await task
