"""What the fake-server child process (:mod:`bench.fakes`) does for each request of a benchmark.

A *world* wraps one fake server and plays its users: it creates members, puts a question with a button
in front of them (posted through the server's own API, as the bot would have), queues their clicks all
at once and times, on the server's side, how long it takes until every click was answered. Methods named
``op_<name>`` are the requests the parent may make; they take and return JSON-ready values.

In the closed loop (``op_closed_loop``) each member taps, waits until the tap is answered *and* the next
question is on screen, and taps again (:mod:`bench.members` plays them); they wait on the fake's
observers, woken by the requests that concern their own chat, so 200 waiting members cost no polling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from bench.members import DiscordMembers, TelegramMembers, loop_result
from tests.fakes.discord.interactions import InteractionHandle
from tests.fakes.discord.limits import RESPONSE_WINDOW as DISCORD_RESPONSE_WINDOW
from tests.fakes.discord.limits import FloodLimits
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer

JSON = dict[str, Any]
TELEGRAM_TOKEN = "424242:BENCH-TOKEN"
DISCORD_TOKEN = "crowdpulse-bench-token"
DISCORD_APP = 930_000_000_000_000_101
DISCORD_BOT = 930_000_000_000_000_102
DISCORD_GUILD = 940_000_000_000_000_101
DISCORD_CHANNEL = 940_000_000_000_000_102
# The closed loop's members spread over this many channels, as in a big server: the bot sends the next
# questions of one channel through one queue (Discord counts follow-ups per channel), which holds 50.
DISCORD_LOOP_CHANNELS = 10
POSTING_CONCURRENCY = 32
POLL_SECONDS = 0.002
QUESTION = "What do you order most often?"
BUTTON = "Espresso"


async def _until(done: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109 - a deadline, not a cancel
    """Poll ``done`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def _quiet(activity: Callable[[], int], quiet: float, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait until ``activity()`` (a count of requests seen) stays unchanged for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    seen, since = activity(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet / 10)
        now = activity()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


class TelegramWorld:
    """The fake Bot API server with members in private chats, each shown one question with a button."""

    def __init__(self, *, flood_limits: bool = False, time_scale: float = 1.0) -> None:
        self.server = FakeTelegramServer(TELEGRAM_TOKEN, flood_limits=flood_limits, time_scale=time_scale)
        self.users: dict[int, JSON] = {}
        self.questions: dict[int, tuple[JSON, str]] = {}  # member id -> (message, callback data)
        self.tappers = TelegramMembers(self.server)
        self.http: aiohttp.ClientSession | None = None
        self.info: JSON = {}

    async def __aenter__(self) -> TelegramWorld:
        await self.server.__aenter__()
        self.http = aiohttp.ClientSession()
        self.info = {
            "token": TELEGRAM_TOKEN,
            "base_url": self.server.base_url,
            "base_file_url": self.server.base_file_url,
        }
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.http is not None:
            await self.http.close()
        await self.server.__aexit__(exc_type, exc, tb)

    async def op_members(self, ids: list[int]) -> int:
        """Members who pressed Start (the bot may write to them)."""
        for member in ids:
            self.users[member] = self.server.user(member, f"Member {member}", language_code="en")
        return len(ids)

    async def op_polling(self) -> bool:
        """Whether a bot has started polling (its first getUpdates arrived)."""
        return bool(self.server.calls_to("getUpdates"))

    async def op_questions(self, questions: list[tuple[int, str]]) -> int:
        """Send each member a question with one button carrying ``callback data`` (sendMessage, as the bot)."""
        assert self.http is not None
        gate = asyncio.Semaphore(POSTING_CONCURRENCY)
        url = f"{self.server.base_url}{TELEGRAM_TOKEN}/sendMessage"

        async def post(member: int, data: str) -> None:
            keyboard = {"inline_keyboard": [[{"text": BUTTON, "callback_data": data}]]}
            assert self.http is not None
            async with (
                gate,
                self.http.post(url, json={"chat_id": member, "text": QUESTION, "reply_markup": keyboard}) as response,
            ):
                body = await response.json()
            if not body.get("ok"):
                raise RuntimeError(f"sendMessage refused: {body}")
            self.questions[member] = (body["result"], data)

        await asyncio.gather(*(post(member, data) for member, data in questions))
        return len(questions)

    async def op_click_all(self, ids: list[int], timeout: float) -> JSON:  # noqa: ASYNC109
        """Queue every member's click at once; seconds until the server has answered them all."""
        answers = self.server.callback_answers
        before = len(answers)
        started = time.perf_counter()
        for member in ids:
            message, data = self.questions[member]
            self.server.click(self.users[member], message, data)
        complete = await _until(lambda: len(answers) - before >= len(ids), timeout)
        return {"seconds": time.perf_counter() - started, "answered": len(answers) - before, "complete": complete}

    async def op_start(self, ids: list[int], command: str, timeout: float) -> int:  # noqa: ASYNC109
        """Each member sends ``command`` in their private chat; how many were then shown a question."""
        return await self.tappers.start([self.users[m] for m in ids], command, time.monotonic() + timeout)

    async def op_closed_loop(self, ids: list[int], taps: int, follow: bool, timeout: float) -> JSON:  # noqa: ASYNC109
        """Every member taps through their questions at once, each waiting for what they tapped for
        (:mod:`bench.members`): the taps, their latencies, the wall time and the bot's requests (no polls)."""
        deadline = time.monotonic() + timeout
        before = len(self.server.calls)
        started = time.perf_counter()
        latencies = await asyncio.gather(*(self.tappers.loop(self.users[m], taps, follow, deadline) for m in ids))
        seconds = time.perf_counter() - started
        requests = sum(call.method != "getUpdates" for call in self.server.calls[before:])
        return loop_result(latencies, seconds, requests)

    async def op_settle(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until every update was fetched and the bot went quiet (polls aside): its handlers are done."""
        try:
            await self.server.wait_until_consumed(timeout)
        except AssertionError:
            return False
        return True

    async def op_flood(self, member: int, text: str, times: int) -> int:
        """Queue ``times`` messages ``text`` from ``member`` in their private chat, all at once."""
        user = self.users[member]
        chat = self.server.private_chat(user)
        for _ in range(times):
            self.server.send_text(user, chat, text)
        return times

    async def op_ask(self, member: int, text: str, timeout: float) -> float | None:  # noqa: ASYNC109
        """Queue ``text`` from ``member``; seconds until the bot's next message in their chat (None: never)."""
        user = self.users[member]
        chat = self.server.private_chat(user)
        before = len(self.server.messages(chat["id"]))
        started = time.perf_counter()
        self.server.send_text(user, chat, text)
        if not await _until(lambda: len(self.server.messages(chat["id"])) > before, timeout):
            return None
        return time.perf_counter() - started

    async def op_delivered(self, ids: list[int]) -> JSON:
        """What the members' private chats hold: how many got nothing, how many extra copies, 429s given."""
        counts = [len(self.server.messages(member)) for member in ids]
        return {
            "lost": sum(count == 0 for count in counts),
            "repeated": sum(max(0, count - 1) for count in counts),
            "flood_errors": len(self.server.flood_errors),
            "errors": [error.description for error in self.server.errors[-5:]],
        }


class DiscordWorld:
    """The fake Discord with one server and channel; members click the button of one shared question, or
    run slash commands there (``flood_limits``: with a channel's own limits on follow-ups, as Discord's)."""

    def __init__(self, *, time_scale: float = 1.0, flood_limits: bool = False) -> None:
        self.server = FakeDiscordServer(
            app_id=DISCORD_APP,
            bot_user_id=DISCORD_BOT,
            token=DISCORD_TOKEN,
            time_scale=time_scale,
            flood_limits=FloodLimits() if flood_limits else None,
        )
        self.http: aiohttp.ClientSession | None = None
        self.info: JSON = {}
        self.flood: list[InteractionHandle] = []
        channels = [DISCORD_CHANNEL + number for number in range(DISCORD_LOOP_CHANNELS)]
        self.clickers = DiscordMembers(self.server, DISCORD_GUILD, channels)
        self.questions: dict[int, JSON | None] = {}  # member id -> the question in front of them

    async def __aenter__(self) -> DiscordWorld:
        await self.server.__aenter__()
        channels = [(DISCORD_CHANNEL + number, f"channel-{number}") for number in range(DISCORD_LOOP_CHANNELS)]
        self.server.guild(DISCORD_GUILD, "Bench café", channels=channels)
        self.http = aiohttp.ClientSession()
        self.info = {
            "token": DISCORD_TOKEN,
            "api_base": f"{self.server.url}/api/v10",
            "gateway_url": self.server.ws_url,
            "guild": DISCORD_GUILD,
            "guild_name": "Bench café",
        }
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.http is not None:
            await self.http.close()
        await self.server.__aexit__(exc_type, exc, tb)

    async def op_identified(self, previous: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait for a client to identify after ``previous`` identifications (it then has its server); the count.

        0 when none did in time. Clicks dispatched before then would reach no client.
        """
        server = self.server
        return server.identify_count if await _until(lambda: server.identify_count > previous, timeout) else 0

    async def op_members(self, ids: list[int]) -> int:
        for member in ids:
            self.server.member(DISCORD_GUILD, member, f"member{member}")
        return len(ids)

    async def op_question(self, custom_id: str) -> int:
        """Post the question with one button in the channel (REST, as the bot); its message id."""
        assert self.http is not None
        button = {"type": 2, "style": 1, "label": BUTTON, "custom_id": custom_id}
        async with self.http.post(
            f"{self.info['api_base']}/channels/{DISCORD_CHANNEL}/messages",
            json={"content": QUESTION, "components": [{"type": 1, "components": [button]}]},
            headers={"Authorization": f"Bot {DISCORD_TOKEN}"},
        ) as response:
            body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"posting the question failed: {body}")
        return int(body["id"])

    async def op_click_all(self, ids: list[int], message: int, custom_id: str, until: str, timeout: float) -> JSON:  # noqa: ASYNC109
        """Every member clicks at once; seconds until each click is answered.

        ``until="ack"``: any response counts (what a bare acknowledging client does). ``until="reply"``:
        the member must see the bot's reply, the response itself or, after a deferral, its first follow-up.
        """
        errors = len(self.server.errors)
        started = time.perf_counter()
        handles = [await self.server.click(member, message, custom_id) for member in ids]

        def answered(handle: InteractionHandle) -> bool:
            return handle.callback is not None if until == "ack" else _shown(handle)

        position = 0

        def done() -> bool:
            nonlocal position
            while position < len(handles) and answered(handles[position]):
                position += 1
            return position == len(handles)

        complete = await _until(done, timeout)
        return {
            "seconds": time.perf_counter() - started,
            "answered": sum(answered(handle) for handle in handles),
            "complete": complete,
            "errors": [f"{e.status} {e.message}" for e in self.server.errors[errors : errors + 5]],
        }

    async def op_start(self, ids: list[int], command: str, timeout: float) -> int:  # noqa: ASYNC109
        """Each member runs ``/command`` in the channel; how many were then shown a question."""
        commands = lambda: any(c["name"] == command for c in self.server.commands(DISCORD_GUILD))  # noqa: E731
        if not await _until(commands, timeout):
            raise RuntimeError(f"/{command} was never synced to the bench server")
        shown = await self.clickers.start(ids, command, time.monotonic() + timeout)
        self.questions.update(zip(ids, shown, strict=True))
        return sum(question is not None for question in shown)

    async def op_closed_loop(
        self,
        ids: list[int],
        taps: int,
        follow: bool,
        timeout: float,  # noqa: ASYNC109 - a deadline, not a cancel
        message: int | None = None,
    ) -> JSON:
        """Every member clicks through their questions at once (from :meth:`op_start`, or all the one
        ``message``), each waiting for what they clicked for: as :meth:`TelegramWorld.op_closed_loop`."""
        deadline = time.monotonic() + timeout
        before = len(self.server.calls)
        started = time.perf_counter()
        shared = self.server.message(message) if message is not None else None
        latencies = await asyncio.gather(
            *(self.clickers.loop(m, shared or self.questions.get(m), taps, follow, deadline) for m in ids)
        )
        return loop_result(latencies, time.perf_counter() - started, len(self.server.calls) - before)

    async def op_settle(self, quiet: float, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until the bot has made no request for ``quiet`` seconds."""
        return await _quiet(lambda: len(self.server.calls), quiet, timeout)

    async def op_flood(self, member: int, command: str, times: int) -> int:
        """``member`` runs ``/command`` ``times`` times in the channel, all at once (for :meth:`op_flood_acked`)."""
        self.flood = [await self.server.slash(member, DISCORD_GUILD, DISCORD_CHANNEL, command) for _ in range(times)]
        return times

    async def op_ask(self, member: int, command: str, timeout: float) -> float | None:  # noqa: ASYNC109
        """``member`` runs ``/command``; seconds until they see its answer: the response, or after a
        deferral its first follow-up (None: never)."""
        started = time.perf_counter()
        handle = await self.server.slash(member, DISCORD_GUILD, DISCORD_CHANNEL, command)
        if not await _until(lambda: _shown(handle), timeout):
            return None
        return time.perf_counter() - started

    async def op_flood_acked(self, timeout: float) -> int | None:  # noqa: ASYNC109
        """Once every interaction of the last flood is acknowledged: how many were not within Discord's
        3 seconds (None: some were never acknowledged)."""
        flood = self.flood
        if not await _until(lambda: all(handle.acked_at is not None for handle in flood), timeout):
            return None
        return sum((handle.acked_within or 0.0) >= DISCORD_RESPONSE_WINDOW for handle in flood)


def _shown(handle: InteractionHandle) -> bool:
    """Whether the member sees the bot's answer: a response with a message, or a follow-up after a deferral."""
    callback = handle.callback
    return callback is not None and (callback.get("type") in (4, 7) or bool(handle.followup_ids))


WORLDS: dict[str, Callable[..., Any]] = {"telegram": TelegramWorld, "discord": DiscordWorld}
