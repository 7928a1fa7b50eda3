"""The REST plumbing every ``/api/v10`` request goes through before its route handler, and after it.

Why one pipeline: recording ``calls``, checking the bot token, injecting a test's faults, rate limiting and
rendering every :class:`~.protocol.ApiError` in Discord's shape must happen the same way for every route,
so that the route areas (:mod:`.channels`, :mod:`.commands`, :mod:`.responses`, ...) only do their own work.
A crash of the fake itself becomes a 500 *and* a noted crash, since discord.py would silently retry it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from .forms import form_parts, is_form
from .limits import FloodControl, RateLimiter, rate_limited
from .protocol import API_PREFIX, ApiError, json_response
from .records import Call, ErrorRecord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]
"""``(method, path below /api/v10, handler)``; ``{..._id}`` parts of the path match digits only."""

# Parsed request bodies ride on the request. aiohttp >= 3.13 warns (an error under filterwarnings=error)
# about plain-string request keys, so use typed keys where they exist.
if hasattr(web, "RequestKey"):
    BODY: Any = web.RequestKey("fake_discord_body", object)
    FILES: Any = web.RequestKey("fake_discord_files", dict)
else:
    BODY, FILES = "fake_discord_body", "fake_discord_files"


def add_api_routes(router: web.UrlDispatcher, routes: Sequence[Route]) -> None:
    """Registers routes under ``/api/v10``; ids are numeric, so a bad one is a 404 rather than a crash."""
    for method, path, handler in routes:
        router.add_route(method, API_PREFIX + re.sub(r"\{(\w+_id)\}", r"{\1:\\d+}", path), handler)


DROP = 0
"""A fault's status that drops the connection rather than answer (only after handling: see ``fail_next``)."""


@dataclass(slots=True)
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    retry_after: float
    is_global: bool
    remaining: int
    after_handling: bool = False


class RestPipeline:
    """The aiohttp middleware in front of every route, with the ``calls`` and ``errors`` it records."""

    def __init__(
        self,
        *,
        token: str,
        limiter: RateLimiter,
        flood: FloodControl,
        followup_channel: Callable[[str], int | None],
        crashes: list[Exception],
        notify: Callable[[], Awaitable[None]],
    ) -> None:
        self._token, self._limiter, self._flood = token, limiter, flood
        self._followup_channel, self._crashes, self._notify = followup_channel, crashes, notify
        self.calls: list[Call] = []
        self.errors: list[ErrorRecord] = []
        # Called with each call once answered (a benchmark's members wait on them instead of polling).
        self.observers: list[Callable[[Call], None]] = []
        self._faults: list[_Fault] = []

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        after_handling: bool = False,
    ) -> None:
        """Makes the next ``times`` matching requests fail; ``path`` is a regex full-matched against the
        path below ``/api/v10`` (e.g. ``r"/channels/\\d+/messages"``). 429s carry ``Via`` and ``retry_after``
        so discord.py retries them; 5xx get ``{"code": 0}`` (discord.py retries those after 1 s, 3 s...).
        ``after_handling`` fails the request after Discord did it: the message exists, its answer is lost.
        Status :data:`DROP` drops the connection instead of answering (no retry in discord.py: the caller's).
        """
        fault = _Fault(method.upper(), re.compile(path), status, retry_after, is_global, times, after_handling)
        self._faults.append(fault)

    def _injected_fault(self, method: str, path: str) -> tuple[ApiError | None, bool]:
        """The error to answer with, if any, and whether to answer it only after handling the request."""
        for fault in self._faults:
            if fault.remaining > 0 and fault.method == method and fault.path.fullmatch(path):
                fault.remaining -= 1
                if fault.status == 429:
                    error = rate_limited(fault.retry_after, is_global=fault.is_global, injected=True)
                else:
                    error = ApiError(fault.status, 0, f"{fault.status}: Injected Server Error", injected=True)
                return error, fault.after_handling
        return None, False

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Records the call, checks auth, applies injected faults and rate limits, renders ApiError."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        rate_headers: dict[str, str] = {}
        call: Call | None = None
        try:
            request[BODY], request[FILES] = await read_body(request)
            call = Call(request.method, path, request[BODY], tuple(request[FILES].values()))
            self.calls.append(call)
            self._check_auth(request, path)
            fault, after_handling = self._injected_fault(request.method, path)
            if fault is not None and not after_handling:
                raise fault
            rate_headers = self._rate_headers(request)
            self._flood.check(request, path, rate_headers, self._followup_channel)
            response = await handler(request)
            if fault is not None and fault.status == DROP and request.transport is not None:
                self.errors.append(ErrorRecord(request.method, path, DROP, None, "connection dropped", True))
                request.transport.abort()
            elif fault is not None:
                raise fault
        except ApiError as exc:
            self.errors.append(ErrorRecord(request.method, path, exc.status, exc.code, exc.message, exc.injected))
            response = json_response(exc.body(), exc.status, {**rate_headers, **exc.headers})
        except web.HTTPException as exc:  # unknown route or method
            self.errors.append(ErrorRecord(request.method, path, exc.status, 0, exc.reason))
            response = json_response({"message": f"{exc.status}: {exc.reason}", "code": 0}, exc.status)
        except Exception as exc:  # a bug in the fake: discord.py would silently retry the 500
            self._crashes.append(exc)
            response = json_response({"message": "500: Internal Server Error", "code": 0}, 500)
        response.headers.update(rate_headers)
        if call is not None:
            for observer in self.observers:
                observer(call)
        await self._notify()
        return response

    def _check_auth(self, request: web.Request, path: str) -> None:
        if path.startswith(("/interactions/", "/webhooks/")):
            return  # authorised by the interaction token in the URL, as on Discord
        if request.headers.get("Authorization") != f"Bot {self._token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def _rate_headers(self, request: web.Request) -> dict[str, str]:
        info = request.match_info
        major = "+".join(info.get(k, "") for k in ("channel_id", "guild_id", "app_id", "token"))
        route = f"{request.method} {info.route.resource.canonical if info.route.resource else request.path}"
        return self._limiter.hit(route, major)


async def read_body(request: web.Request) -> tuple[Any, dict[int, tuple[str, bytes]]]:
    """JSON body or multipart ``payload_json`` + ``files[n]`` parts, as discord.py sends them."""
    content_type = request.headers.get(hdrs.CONTENT_TYPE, "")
    if is_form(content_type):
        body: Any = None
        files: dict[int, tuple[str, bytes]] = {}
        for parameters, contents in form_parts(content_type, await request.read()):
            name = parameters.get("name", "")
            if name == "payload_json":
                body = json.loads(contents)
            elif name.startswith("files["):
                files[int(name[6:-1])] = (parameters.get("filename") or "file", contents)
        return body, files
    raw = await request.read()
    try:
        return (json.loads(raw) if raw else None), {}
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
