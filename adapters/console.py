"""The console adapter: chat with the engine in a terminal, as one or several users.

Buttons are shown numbered; type the number to tap one. Plain text answers a question that waits for
text. ``/as <name>[@platform] [language]`` switches user (``/as Ana@discord`` plays Ana's Discord account,
so linking accounts can be tried here), ``/quit`` leaves. The same commands as on the chat
platforms work here, so this is also the quickest way to try a change.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from functools import partial

from bot.commands import dispatch
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Button, Reply, to_plain
from bot.texts import operator_text

PLATFORM = "console"
SPACE = SpaceRef(PLATFORM, "terminal", "Console")


def render(reply: Reply) -> tuple[str, list[Button]]:
    """A reply as plain text, with its buttons numbered from 1; returns the text and the buttons."""
    lines = []
    buttons = [button for row in reply.buttons for button in row]
    if reply.image is not None:
        lines.append(f"[image: {reply.image.path or reply.image.url or reply.image.filename}]")
    if reply.attachment is not None:
        lines.append(f"[file: {reply.attachment.filename}, {operator_text('bytes', count=len(reply.attachment.data))}]")
    lines.append(to_plain(reply.text))
    row_texts = []
    number = 1
    for row in reply.buttons:
        cells = []
        for button in row:
            cells.append(f"[{number}] {button.label}")
            number += 1
        row_texts.append("  ".join(cells))
    lines.extend(row_texts)
    return "\n".join(lines), buttons


@dataclass
class ConsoleSession:
    """A conversation between the engine and console users; also drives the scripted demo."""

    engine: Engine
    space: SpaceRef = SPACE
    user: UserRef = field(default_factory=lambda: UserRef(PLATFORM, "ana", "Ana", "en"))
    last: dict[str, Reply] = field(default_factory=dict)
    images: list[bytes] = field(default_factory=list)
    _buttons: dict[str, list[Button]] = field(default_factory=dict)

    @property
    def who(self) -> str:
        """The current account's key in :attr:`last` and the buttons: ``platform:name``, so Ana's Telegram
        account never taps the buttons her Discord account was shown."""
        return f"{self.user.platform}:{self.user.platform_user_id}"

    def switch(self, name: str, language: str | None = None) -> str:
        """Play ``name`` (``Ana@discord``: Ana's account on that platform, chatting privately with the bot)."""
        name, at, platform = name.partition("@")
        platform = platform.lower() or PLATFORM
        self.user = UserRef(platform, name.lower(), name, language or self.user.language)
        self.space = SpaceRef(platform, f"dm-{name.lower()}", name, True) if at else SPACE
        return f"(you are now {name} on {platform}, in a private chat)" if at else f"(you are now {name})"

    async def say(self, text: str) -> list[str]:
        """What the current user types; returns what they see."""
        text = text.strip()
        if text.startswith("/as "):
            name, _, language = text[4:].strip().partition(" ")
            return [self.switch(name, language.strip() or None)]
        if text.isdigit() and self._buttons.get(self.who):
            return await self.tap(int(text))
        reply = await dispatch(self.engine, self.user, self.space, text)
        if reply is None:
            reply = await self.engine.text_message(self.user, self.space, text)
        if reply is None:
            return ["(type /help to see what you can do)"]
        return self._show(reply)

    async def deliveries(self) -> list[str]:
        """What the bot posts unasked (announcements, results, notifications), drained from the outbox."""
        posted: list[str] = []

        async def send(platform: str, target: str, reply: Reply) -> None:
            text, buttons = render(reply)
            if buttons and target.startswith("user:"):  # a private message's buttons can be tapped by number
                self._buttons[f"{platform}:{target.removeprefix('user:')}"] = buttons
            if reply.image is not None and reply.image.data:
                self.images.append(reply.image.data)
            posted.append(f"[to {target}]\n{text}")

        for platform in {PLATFORM, self.user.platform}:
            await OutboxDrainer(self.engine, platform, partial(send, platform), Pacer(per_second=1000)).drain_once()
        return posted

    async def tap(self, number: int) -> list[str]:
        buttons = self._buttons.get(self.who, [])
        if not 1 <= number <= len(buttons):
            return [f"(no button {number})"]
        button = buttons[number - 1]
        return self._show(await self.engine.act(self.user, self.space, button.action))

    def _show(self, reply: Reply) -> list[str]:
        shown = []
        for part in reply.chain():
            text, buttons = render(part)
            if buttons:
                self._buttons[self.who] = buttons
            self.last[self.who] = part
            shown.append(text)
        return shown


async def run_console(engine: Engine, stop: asyncio.Event) -> None:
    """Interactive loop on stdin/stdout until ``/quit`` or end of input; then sets ``stop``."""
    session = ConsoleSession(engine)
    print("CrowdPulse console. Type /start, /help, a button number, or /quit. /as <name> switches user.")
    loop = asyncio.get_running_loop()
    while True:
        print(f"{session.user.display_name}> ", end="", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "/quit":
            print()
            stop.set()
            return
        for shown in [*await session.say(line), *await session.deliveries()]:
            print(shown)
            print()
