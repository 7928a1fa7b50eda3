"""The fake Bot API server: HTTP in front of the method handlers, plus the driver API tests play users with.

Why the server is thin: it owns only what concerns every request — the ``/bot<token>/<method>`` route,
method-name lookup, recording ``calls`` and ``errors``, injected faults and delays, and the lifecycle — and
the driver calls that need several parts at once (a user's message is stored in the world *and* queued as an
update). Everything a method does lives in the handler module of its area.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

import aiohttp
from aiohttp import web

from .activity import Activity
from .callbacks import CallbackQueries
from .chats import ChatMethods
from .commands import CommandMethods
from .limits import FloodControl
from .media import MediaMethods
from .messages import MessageMethods
from .params import Handler, MethodArea, Params, read_params
from .polling import DropConnection, PollingMethods
from .polls import PollMethods
from .protocol import JSON, SECRET_HEADER, ApiError
from .records import Call, CallbackAnswer, ErrorReply, FloodError
from .sending import Sender
from .updates import PollOutcome, UpdateQueue
from .world import ANONYMOUS_ADMIN_ID, World


class _Secret(enum.Enum):
    """Sentinel type, so that ``None`` can mean "send no secret header"."""

    CONFIGURED = enum.auto()


CONFIGURED_SECRET: Final = _Secret.CONFIGURED
"""Default of ``push_webhook(secret_token=...)``: send the secret given to ``setWebhook``."""


@dataclass(frozen=True)
class _Hold:
    """A call :meth:`FakeTelegramServer.hold_next` will never answer."""

    method: str
    chat_id: int
    after_handling: bool


class FakeTelegramServer(World):
    """The fake Bot API server plus the driver API tests use to play users.

    Use as ``async with FakeTelegramServer(token="123:ABC") as tg:``; point PTB at it with
    ``ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "crowdpulse_test_bot",
        bot_name: str = "CrowdPulse",
        flood_limits: bool = False,
        time_scale: float = 1.0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        super().__init__(token, bot_username, bot_name)
        self.token = token
        self.calls: list[Call] = []
        self.errors: list[ErrorReply] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.flood_errors: list[FloodError] = []
        # Called with each call once its handler succeeded (a benchmark's members wait on them, not poll).
        self.observers: list[Callable[[Call], None]] = []
        self._activity = Activity()
        self._updates = UpdateQueue(self._activity)
        self._callbacks = CallbackQueries(self, self.callback_answers)
        sender = Sender(self, FloodControl(time_scale) if flood_limits else None, self.flood_errors)
        messages = MessageMethods(self, sender)
        areas: list[MethodArea] = [
            ChatMethods(self),
            PollingMethods(self._updates),
            CommandMethods(),
            messages,
            self._callbacks,
            MediaMethods(self, sender, messages),
            PollMethods(self, sender, self.calls),
        ]
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for area in areas for name, handler in area.handlers().items()
        }
        self._failures: dict[str, list[ApiError]] = {}
        self._delays: dict[str, list[float]] = {}
        self._holds: list[_Hold] = []
        self.held: list[JSON] = []
        """Parameters of each call held by :meth:`hold_next`, once it is held (the test waits on it)."""
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancel handlers whose client went away (PTB cancels a long poll on stop), so an
        # abandoned getUpdates does not linger and later "conflict" with the next one.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._updates.wake_poll(PollOutcome.SHUTDOWN)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    # ---------------------------------------------------------------- driver: users act

    def send_text(self, user: JSON, chat: JSON, text: str, reply_to_message_id: int | None = None) -> JSON:
        """Queue a message update from ``user``; a leading ``/command`` gets its bot_command entity
        and ``/start`` in private marks the user as having started the bot."""
        self.check_sender(user, chat)
        message = self.user_message(user, chat, text, reply_to_message_id)
        if chat["type"] == "private" and self.is_start_command(text):
            self.started.add(user["id"])
        return self._updates.enqueue({"message": message})

    def send_text_as_anonymous_admin(self, chat: JSON, text: str) -> JSON:
        """Queue a group message written by an anonymous admin: from GroupAnonymousBot, with
        ``sender_chat`` set to the group itself."""
        group = self.require_group(chat["id"])
        anonymous = {
            "id": ANONYMOUS_ADMIN_ID,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        }
        message = self.user_message(anonymous, group, text, None)
        message["sender_chat"] = copy.deepcopy(group)
        return self._updates.enqueue({"message": message})

    def click(self, user: JSON, message: JSON, callback_data: str) -> JSON:
        """Queue a callback_query for a button of the bot's message, as it currently looks.

        Refuses (ValueError) to click a button the message does not have: a real user can't.
        """
        return self._updates.enqueue({"callback_query": self._callbacks.open(user, message, callback_data)})

    def redeliver(self, update: JSON) -> None:
        """Queue ``update`` again with its own update_id, as Telegram does when the bot crashed
        before confirming it. Like on Telegram, a client polling with an offset above that id
        (a bot that did confirm it) will skip it; a restarted bot (offset 0) receives it."""
        self._updates.redeliver(update)

    # ---------------------------------------------------------------- driver: inspection

    def calls_to(self, method: str) -> list[JSON]:
        """Parameters of every call to ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    # ---------------------------------------------------------------- driver: faults

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of handling them."""
        error = ApiError(status, description, retry_after)
        self._failures.setdefault(self._canonical(method), []).extend([error] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` wait ``seconds`` before being handled."""
        self._delays.setdefault(self._canonical(method), []).extend([seconds] * times)

    def hold_next(self, method: str, chat_id: int, *, after_handling: bool) -> None:
        """Never answer the next call of ``method`` to ``chat_id``: its client waits until it goes away.

        ``after_handling`` says where the call hangs: after Telegram did what it asked (the message is in
        the chat, only the answer is lost) or before (nothing happened). A bot killed meanwhile is a bot
        killed mid-send at that exact point; the handler is cancelled when the killed client's connection
        closes, so a hold before handling never takes effect.
        """
        self._holds.append(_Hold(self._canonical(method), chat_id, after_handling))

    def drop_long_poll(self) -> bool:
        """Abort the connection of the pending long-polling getUpdates; False if none is pending."""
        return self._updates.wake_poll(PollOutcome.DROP)

    def _canonical(self, method: str) -> str:
        if method.lower() not in self._methods:
            raise ValueError(f"unknown Bot API method {method!r}")
        return self._methods[method.lower()][0]

    # ---------------------------------------------------------------- driver: waiting

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll ``predicate`` until true; on timeout fail with what the bot did recently."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition {getattr(predicate, '__qualname__', predicate)!s} still false after "
                    f"{timeout}s; {self._recent_activity()}"
                )
            await asyncio.sleep(0.01)

    async def wait_until_consumed(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every queued update was confirmed by an offset and the bot went quiet
        (no request other than getUpdates in flight or finished within ``QUIET_PERIOD``), so
        handlers started by those updates had a chance to reply."""

        def consumed() -> bool:
            return not self._updates.pending and self._activity.quiet()

        deadline = time.monotonic() + timeout
        while not consumed():
            if time.monotonic() >= deadline:
                pending = [update["update_id"] for update in self._updates.pending]
                raise AssertionError(
                    f"updates not consumed after {timeout}s: unconfirmed {pending}, "
                    f"{self._activity.in_flight} request(s) in flight; {self._recent_activity()}"
                )
            await asyncio.sleep(0.01)

    def _recent_activity(self) -> str:
        calls = [call.method for call in self.calls if call.method != "getUpdates"][-8:]
        errors = [f"{error.method}: {error.description}" for error in self.errors[-3:]]
        return f"last calls {calls}, last errors {errors}"

    # ---------------------------------------------------------------- driver: webhook

    async def push_webhook(
        self, update: JSON, secret_token: str | _Secret | None = CONFIGURED_SECRET, url: str | None = None
    ) -> int:
        """POST ``update`` to the URL given to setWebhook and return the HTTP status.

        The secret header carries the configured secret by default; pass a string to send a
        different one or None to omit it. ``url`` sends it to one worker behind the webhook's address
        instead, as a load balancer does. A 2xx removes the update from the pending queue.
        """
        webhook = self._updates.webhook
        if webhook is None:
            raise RuntimeError("no webhook is set")
        secret = webhook.get("secret_token") if secret_token is CONFIGURED_SECRET else secret_token
        headers = {SECRET_HEADER: secret} if isinstance(secret, str) else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or webhook["url"], json=update, headers=headers) as response,
        ):
            status = response.status
        if 200 <= status < 300:
            self._updates.remove(update["update_id"])
        return status

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """One Bot API call: token and method checks, recording, injected faults, then the handler.

        Method names are case-insensitive, as on Telegram; calls are recorded under the
        canonical camelCase name.
        """
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error_response(name, ApiError(401, "Unauthorized"))
        if name.lower() not in self._methods:
            return self._error_response(name, ApiError(404, "Not Found"))
        method, handler = self._methods[name.lower()]
        with self._activity.request(method):
            try:
                params = await read_params(request)
                call = Call(method, params)
                self.calls.append(call)
                await self._apply_delay(method)
                self._raise_injected_failure(method)
                hold = self._take_hold(method, params)
                if hold is not None and not hold.after_handling:
                    await self._hang(params)
                result = await handler(Params(params))
                for observer in self.observers:
                    observer(call)
                if hold is not None and hold.after_handling:
                    await self._hang(params)
            except ApiError as error:
                return self._error_response(method, error)
            except DropConnection:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never sent: the connection is gone
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Serve uploaded bytes at ``<base_file_url><token>/<file_path>`` as ``getFile`` promises."""
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None or stored.data is None:
            raise web.HTTPNotFound
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    def _error_response(self, method: str, error: ApiError) -> web.Response:
        self.errors.append(ErrorReply(method, error.status, error.description, error.retry_after))
        return web.json_response(error.reply(), status=error.status)

    async def _apply_delay(self, method: str) -> None:
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.pop(0))

    def _take_hold(self, method: str, params: JSON) -> _Hold | None:
        for hold in self._holds:
            if hold.method == method and str(params.get("chat_id")) == str(hold.chat_id):
                self._holds.remove(hold)
                return hold
        return None

    async def _hang(self, params: JSON) -> None:
        self.held.append(params)
        await asyncio.Event().wait()  # until the client goes away and aiohttp cancels the handler

    def _raise_injected_failure(self, method: str) -> None:
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)
