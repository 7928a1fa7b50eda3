"""Members in the closed loop, played inside the fake server's process (:mod:`bench.fake_worlds`).

A member taps, waits until the tap is answered *and* the next question is on their screen, then taps
again, until no question is left or they made the taps asked of them. A member waits on the fake's
``observers`` (woken by the requests about their own chat or interaction), never by polling: 200
members waiting cost the fake nothing, and the fake's own process shares the machine with the bots.

What a member taps: the first button; after ticking an option of a multiple choice, the first button
of the last row (Submit); on Discord a select menu gets its first option and a form its text. So a
member walks through the starter campaign answering everything, as a real member would.

"On screen" on the server's side: the chat's (or interaction's) newest bot message shows another
question than the one tapped, or a message that is not the tapped question with a line added (the
"all caught up" at the end). A question merely closed with the confirmation below it is not yet the
next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.fakes.discord.interactions import InteractionHandle
from tests.fakes.discord.protocol import LOADING
from tests.fakes.discord.records import Call as DiscordCall
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.content import callback_datas
from tests.fakes.telegram.records import Call as TelegramCall
from tests.fakes.telegram.server import FakeTelegramServer

JSON = dict[str, Any]
TOGGLE = "t"  # the verb of a multiple choice's tick (bot.actions.Verb.TOGGLE): Submit comes next
FORM_ANSWER = "More seats by the window"
Screen = tuple[int, str, str]  # message id, its text, its buttons: what a member saw when tapping


class Waiters:
    """One event per member, set by the fake's observer when something about them happened."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def wake(self, member: int | None) -> None:
        event = self._events.get(member) if member is not None else None
        if event is not None:
            event.set()

    async def until(self, member: int, done: Callable[[], bool], deadline: float) -> bool:
        """Whether ``done()`` held before ``deadline`` (monotonic), re-checked each time ``member`` is woken."""
        event = self._events.setdefault(member, asyncio.Event())
        while True:
            event.clear()
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


def _verb(token: str) -> str:
    return token.split(".", 1)[0]


def loop_result(latencies: Sequence[Sequence[float]], seconds: float, requests: int) -> JSON:
    """What a closed loop reports: every tap's latency, the wall time, the bot's requests (polls aside)."""
    flat = [latency for member in latencies for latency in member]
    return {"taps": len(flat), "seconds": seconds, "latencies": flat, "requests": requests}


class TelegramMembers:
    """Members tapping through their private chats on the fake Bot API."""

    def __init__(self, server: FakeTelegramServer) -> None:
        self.server = server
        self._waiters = Waiters()
        self._askers: dict[str, int] = {}  # open callback query -> the member who tapped
        self._answered: set[str] = set()
        server.observers.append(self._observe)

    def _observe(self, call: TelegramCall) -> None:
        if call.method == "answerCallbackQuery":
            query = str(call.params.get("callback_query_id"))
            self._answered.add(query)
            self._waiters.wake(self._askers.pop(query, None))
        elif str(call.params.get("chat_id", "")).lstrip("-").isdigit():
            self._waiters.wake(int(call.params["chat_id"]))

    def _newest(self, member: int) -> JSON | None:
        """The bot's newest message in the member's private chat (edits applied)."""
        bot = self.server.bot_user["id"]
        stored = self.server.chat_messages.get(member, {})
        return next((m for m in reversed(stored.values()) if m["from"]["id"] == bot and not m["deleted"]), None)

    def question(self, member: int) -> JSON | None:
        newest = self._newest(member)
        return newest if newest is not None and callback_datas(newest) else None

    async def start(self, users: Sequence[JSON], command: str, deadline: float) -> int:
        """Each member sends ``command`` (``/start``); how many then have a question in front of them."""
        for user in users:
            self.server.send_text(user, self.server.private_chat(user), command)
        shown = await asyncio.gather(*(self._waiters.until(u["id"], self._asked(u["id"]), deadline) for u in users))
        return sum(shown)

    def _asked(self, member: int) -> Callable[[], bool]:
        return lambda: self.question(member) is not None

    async def loop(self, user: JSON, taps: int, follow: bool, deadline: float) -> list[float]:
        """Tap up to ``taps`` times; each tap's seconds until answered (and, ``follow``, the next question shown)."""
        member = user["id"]
        latencies: list[float] = []
        previous = ""
        while len(latencies) < taps and (question := self.question(member)) is not None:
            data = _telegram_choice(question, previous)
            seen = _telegram_screen(question)
            started = time.perf_counter()
            query = str(self.server.click(user, question, data)["callback_query"]["id"])
            self._askers[query] = member

            def shown(query: str = query, seen: Screen = seen) -> bool:
                return query in self._answered and (not follow or self._moved_on(member, seen))

            if not await self._waiters.until(member, shown, deadline):
                raise RuntimeError(f"member {member}: tap {len(latencies) + 1} never showed its answer")
            latencies.append(time.perf_counter() - started)
            self._answered.discard(query)
            previous = data
        return latencies

    def _moved_on(self, member: int, seen: Screen) -> bool:
        newest = self._newest(member)
        if newest is None:
            return False
        now = _telegram_screen(newest)
        if callback_datas(newest):
            return now != seen
        return now[0] != seen[0] or not now[1].startswith(seen[1])


def _telegram_screen(message: JSON) -> Screen:
    text = message.get("text") or message.get("caption") or ""
    return message["message_id"], text, json.dumps(message.get("reply_markup"), sort_keys=True)


def _telegram_choice(question: JSON, previous: str) -> str:
    rows: list[list[str]] = [
        [button["callback_data"] for button in row if "callback_data" in button]
        for row in question["reply_markup"]["inline_keyboard"]
    ]
    rows = [row for row in rows if row]
    return rows[-1][0] if _verb(previous) == TOGGLE else rows[0][0]


class DiscordMembers:
    """Members of one server clicking through their questions on the fake Discord, each in one of
    ``channels`` (by their id)."""

    def __init__(self, server: FakeDiscordServer, guild: int, channels: Sequence[int]) -> None:
        self.server, self.guild, self.channels = server, guild, channels
        self._waiters = Waiters()
        self._tokens: dict[str, int] = {}  # interaction token -> the member it is for
        server.observers.append(self._observe)

    def _observe(self, call: DiscordCall) -> None:
        parts = call.path.split("/")
        if len(parts) > 3 and parts[1] in ("interactions", "webhooks"):
            self._waiters.wake(self._tokens.get(parts[3]))

    def _track(self, member: int, handle: InteractionHandle) -> InteractionHandle:
        self._tokens[handle.token] = member
        return handle

    async def start(self, members: Sequence[int], command: str, deadline: float) -> list[JSON | None]:
        """Each member runs ``/command`` in the channel; the question each was shown (None: none)."""
        handles = [self._track(m, await self.server.slash(m, self.guild, self._channel(m), command)) for m in members]
        return list(
            await asyncio.gather(*(self._shown(m, h, None, deadline) for m, h in zip(members, handles, strict=True)))
        )

    async def _shown(
        self, member: int, handle: InteractionHandle, clicked: JSON | None, deadline: float
    ) -> JSON | None:
        screen: list[JSON | None] = []

        def done() -> bool:
            found = _discord_screen(self.server, handle, clicked)
            if found is None:
                return False
            screen.append(found.get("message"))
            return True

        if not await self._waiters.until(member, done, deadline):
            raise RuntimeError(f"member {member}: interaction {handle.id} never showed its answer")
        return screen[0]

    async def loop(self, member: int, question: JSON | None, taps: int, follow: bool, deadline: float) -> list[float]:
        """Click up to ``taps`` times from ``question``; each click's seconds until the member sees the answer
        (``follow``: the next question or form; else any acknowledgement)."""
        latencies: list[float] = []
        while len(latencies) < taps and question is not None and question.get("components"):
            current = self.server.message(int(question["id"]))  # as it looks now
            started = time.perf_counter()
            handle = self._track(member, await self._act(member, current))
            question = handle.payload["message"]  # the fake's copy of it as the member saw it, not as edited
            if follow:
                shown = await self._shown(member, handle, question, deadline)
            else:
                if not await self._waiters.until(member, _acknowledged(handle), deadline):
                    raise RuntimeError(f"member {member}: click never acknowledged")
                shown = question
            latencies.append(time.perf_counter() - started)
            if follow and (handle.callback or {}).get("type") == 9:
                started = time.perf_counter()
                handle = self._track(member, await self._submit(member, handle))
                shown = await self._shown(member, handle, question, deadline)
                latencies.append(time.perf_counter() - started)
            question = shown
        return latencies

    async def _act(self, member: int, question: JSON) -> InteractionHandle:
        components = [item for row in question["components"] for item in row.get("components", [])]
        select = next((c for c in components if c.get("type") == 3), None)
        if select is not None:
            return await self.server.select(member, question, select["custom_id"], [select["options"][0]["value"]])
        button = next(c for c in components if c.get("type") == 2 and c.get("custom_id"))
        return await self.server.click(member, question, button["custom_id"])

    async def _submit(self, member: int, opener: InteractionHandle) -> InteractionHandle:
        form = (opener.callback or {})["data"]
        fields = {field: FORM_ANSWER for field in _text_inputs(form["components"])}
        return await self.server.submit_modal(member, self.guild, self._channel(member), form["custom_id"], fields)

    def _channel(self, member: int) -> int:
        return self.channels[member % len(self.channels)]


def _acknowledged(handle: InteractionHandle) -> Callable[[], bool]:
    return lambda: handle.callback is not None


def _text_inputs(components: Sequence[JSON]) -> list[str]:
    found: list[str] = []
    for component in components:
        if component.get("type") == 4:
            found.append(component["custom_id"])
        inner = component.get("components", []) + ([component["component"]] if "component" in component else [])
        found += _text_inputs(inner)
    return found


def _discord_screen(server: FakeDiscordServer, handle: InteractionHandle, clicked: JSON | None) -> JSON | None:
    """What the member sees after ``handle`` once it is more than a closed question: ``{"message": …}`` (the
    message now in front of them, ``None`` for a form), or ``None`` while there is nothing new yet."""
    callback = handle.callback
    if callback is None:
        return None
    kind = callback.get("type")
    if kind == 9:
        return {"message": None}
    followups = handle.followups
    if followups:
        return {"message": followups[-1]}
    if kind in (4, 5):
        original = handle.original
        ready = original is not None and not original["flags"] & LOADING and original.get("components")
        return {"message": original} if ready else None
    if clicked is not None and kind in (6, 7):
        now = server.message(int(clicked["id"]))
        if now.get("components") and now != clicked:
            return {"message": now}
        if not now.get("components") and not now.get("content", "").startswith(clicked.get("content", "")):
            return {"message": now}
    return None
