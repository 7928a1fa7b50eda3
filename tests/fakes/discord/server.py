"""The fake Discord server: an aiohttp app in front of the route areas and the gateway, plus the driver
API tests configure the world and play members with.

Why the server is thin: it owns only what concerns the whole fake — the lifecycle, wiring the parts
together and waiting for the bot to act — and exposes each part's driver calls under one name. Everything a
route or the gateway does lives in the module of its area (see the package overview).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from .channels import ChannelRoutes
from .commands import ApplicationCommands
from .gateway import Gateway
from .identity import IdentityRoutes
from .interactions import InteractionHandle, Interactions
from .limits import FloodControl, FloodLimits, RateLimiter
from .messages import MessageStore
from .protocol import JSON
from .records import NEVER_ACKNOWLEDGED
from .responses import InteractionResponses
from .rest import RestPipeline, Route, add_api_routes
from .user_actions import UserActions

T = TypeVar("T")


class FakeDiscordServer(UserActions):
    """Discord's REST API and gateway on ``127.0.0.1`` (random port), plus a driver API for tests.

    Configure guilds/users/members before the client connects (they go out in GUILD_CREATE at IDENTIFY),
    then drive interactions with :meth:`slash`, :meth:`click`, :meth:`select`, :meth:`submit_modal` and
    :meth:`autocomplete`. ``time_scale`` shrinks Discord's clocks (3 s response window, 15 min token life)
    so lateness can be tested quickly. Several clients may connect at once, each on its own shards (see
    the package docstring); ``recommended_shards`` is the count ``GET /gateway/bot`` recommends.
    """

    def __init__(
        self,
        *,
        app_id: int = 100_000_000_000_000_001,
        bot_user_id: int = 100_000_000_000_000_002,
        token: str = "fake-bot-token",
        bot_name: str = "CrowdPulse",
        time_scale: float = 1.0,
        rate_limit: int = 50,
        rate_window: float = 1.0,
        heartbeat_interval_ms: int = 41_250,
        recommended_shards: int = 1,
        flood_limits: FloodLimits | None = None,
    ) -> None:
        super().__init__(app_id=app_id, bot_user_id=bot_user_id, bot_name=bot_name, online=self._online_now)
        self.token, self.time_scale, self.recommended_shards = token, time_scale, recommended_shards
        self.crashes: list[Exception] = []
        self._changed = asyncio.Condition()
        self._gateway = Gateway(
            self, token=token, heartbeat_interval_ms=heartbeat_interval_ms, crashes=self.crashes, notify=self._notify
        )
        self._store = MessageStore(self, self._gateway)
        self._app_commands = ApplicationCommands(self)
        self._interactions = Interactions(self, self._gateway, self._store.messages)
        self.interactions: list[InteractionHandle] = self._interactions.handles
        flood = FloodControl(flood_limits)
        self.flood_errors = flood.errors
        self._rest = RestPipeline(
            token=token,
            limiter=RateLimiter(rate_limit, rate_window),
            flood=flood,
            followup_channel=self._interactions.channel_of_token,
            crashes=self.crashes,
            notify=self._notify,
        )
        self.calls, self.errors, self.observers = self._rest.calls, self._rest.errors, self._rest.observers
        self.fail_next = self._rest.fail_next  # the driver's fault injection is the pipeline's own
        self._channel_routes = ChannelRoutes(self, self._store)
        self._routes: list[Route] = [
            *IdentityRoutes(self, lambda: self.recommended_shards).routes(),
            *self._app_commands.routes(),
            *InteractionResponses(self, self._store, self._interactions, lambda: self.time_scale).routes(),
            *self._channel_routes.routes(),
        ]
        self._runner: web.AppRunner | None = None

    def _online_now(self) -> bool:
        return self._gateway.online

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeDiscordServer:
        app = web.Application(middlewares=[self._rest.middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway.handle)
        self._channel_routes.add_attachment_route(app.router)
        add_api_routes(app.router, self._routes)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)  # a line a request buries the bot's
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/gateway"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """Closes sockets (code 1001) and the server, then re-raises the fake's own crashes, which
        discord.py would otherwise hide behind retries. Close the discord.py client first.

        The interactions left unacknowledged are noted in :data:`NEVER_ACKNOWLEDGED` for the session's check.
        """
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside pytest").rsplit(" (", 1)[0]  # less its phase
        NEVER_ACKNOWLEDGED.extend(f"{test}: {handle!r}" for handle in self.unacknowledged)
        await self._gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.crashes and exc_type is None:
            raise RuntimeError(f"the fake Discord server crashed {len(self.crashes)}x") from self.crashes[0]

    # ----------------------------------------------------------------- gateway (driver API)

    @property
    def identify_count(self) -> int:
        return self._gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self._gateway.resume_count

    @property
    def intents(self) -> int:
        """The intents the last IDENTIFY asked for."""
        return self._gateway.intents

    @property
    def presence(self) -> JSON | None:
        """The last presence update (op 3) a client sent."""
        return self._gateway.presence

    @property
    def invalid_session_next(self) -> bool:
        """Set it to make the next RESUME fail (op 9), so the client IDENTIFYs afresh."""
        return self._gateway.invalid_session_next

    @invalid_session_next.setter
    def invalid_session_next(self, value: bool) -> None:
        self._gateway.invalid_session_next = value

    def shards(self) -> list[tuple[int, int]]:
        """See :meth:`.gateway.Gateway.shards`."""
        return self._gateway.shards()

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the driver API asks for it
        """See :meth:`.gateway.Gateway.wait_ready`."""
        await self._gateway.wait_ready(timeout)

    async def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """See :meth:`.gateway.Gateway.drop_gateway`."""
        await self._gateway.drop_gateway(code, shard_id=shard_id)

    # ----------------------------------------------------------------- inspection (driver API)

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[JSON]:
        """Messages now in a channel, oldest first; ephemeral interaction replies only on request."""
        return self._store.channel_messages(channel_id, include_ephemeral=include_ephemeral)

    def dm_messages(self, user_id: int) -> list[JSON]:
        return self._store.dm_messages(user_id)

    def message(self, message_id: int) -> JSON:
        return self._store.message(message_id)

    def attachment_bytes(self, message: JSON | int) -> dict[str, bytes]:
        """Uploaded file contents of a message, by filename."""
        return self._store.attachment_bytes(message)

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The commands last bulk-overwritten for a guild (or globally with ``None``)."""
        return self._app_commands.by_scope.get(guild_id, [])

    @property
    def unacknowledged(self) -> list[InteractionHandle]:
        """See :attr:`.interactions.Interactions.unacknowledged`."""
        return self._interactions.unacknowledged

    def expect_unacknowledged(self, handle: InteractionHandle) -> None:
        """This interaction is meant to go unanswered (a test of the fake's 10062, say)."""
        self._interactions.expect_unacknowledged(handle)

    # ----------------------------------------------------------------- waiting (driver API)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Waits until ``predicate()`` is truthy and returns its value. Re-checked after every request and
        gateway event, and every 20 ms for conditions on the bot's own state (set after a reply arrives)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while not (result := predicate()):
                if loop.time() >= deadline:
                    raise AssertionError(f"condition not met within {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(deadline - loop.time(), 0.02))
            return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
