"""CrowdPulse on the fake platforms: the real adapters run against tests/fakes/ and a running engine.

Why this module exists: tests/adapters/test_telegram.py, tests/adapters/test_discord_*.py and
tests/reliability/test_platform_faults.py all start python-telegram-bot or discord.py against the fake
Telegram and Discord servers, wire it to the engine, and then look at the chat the way a member does.
That wiring (the settings that aim a client at a fake, starting and stopping it the way an operator does,
restoring discord.py's process-wide endpoints) and those member's-eye helpers are kept here, once, so
that the suites cannot drift apart and a change to how the bot is run is made in one place.

The pytest fixtures (``tg``, ``dc``, ``discord_bot``) are in ``tests/conftest.py``, thin wrappers around
:func:`fake_discord` and :func:`discord_deployment`. This module is not a test module, so pytest does not
rewrite its ``assert`` statements: each one names what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord
from discord.gateway import DiscordWebSocket
from discord.http import Route
from pydantic import SecretStr

from adapters.discord import run_discord
from adapters.telegram import run_telegram
from bot.engine import Engine
from bot.settings import DiscordSettings, Settings
from tests.fakes.discord.interactions import InteractionHandle
from tests.fakes.discord.limits import FloodLimits
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer

JSON = dict[str, Any]

# Telegram ----------------------------------------------------------------------------------------

TELEGRAM_TOKEN = "123456:TEST-TOKEN"


def aim_at_fake_telegram(settings: Settings, tg: FakeTelegramServer) -> None:
    """Point the bot's Telegram settings (token, Bot API and file URLs) at ``tg``."""
    settings.telegram.token = SecretStr(TELEGRAM_TOKEN)
    settings.telegram.base_url = tg.base_url
    settings.telegram.base_file_url = tg.base_file_url


@contextlib.asynccontextmanager
async def running_telegram_bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    """``run_telegram`` as an operator runs it, against ``tg``: ready once it polls (or set its webhook).

    Leaving the block stops it, as a shutdown would; entering again is a restart on the same database.
    """
    aim_at_fake_telegram(settings, tg)
    settings.telegram.poll_timeout = 1
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(engine, settings, stop))
    started = "setWebhook" if settings.telegram.mode == "webhook" else "getUpdates"
    await tg.wait_for(lambda: bool(tg.calls_to(started)) or task.done(), timeout=10)
    if task.done():
        task.result()
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def texts(tg: FakeTelegramServer, chat_id: int) -> list[str]:
    """What a chat shows, oldest first: each message's text, or a photo's caption."""
    return [m.get("text") or m.get("caption") or "" for m in tg.messages(chat_id)]


def last_with_buttons(tg: FakeTelegramServer, chat_id: int) -> JSON:
    """The latest message in the chat that still has buttons to tap."""
    message = _latest_with_buttons(tg, chat_id)
    if message is None:
        shown = [m.get("text") for m in tg.messages(chat_id)]
        raise AssertionError(f"no message with buttons in chat {chat_id}: {shown}")
    return message


def _latest_with_buttons(tg: FakeTelegramServer, chat_id: int) -> JSON | None:
    for message in reversed(tg.messages(chat_id)):
        if message.get("reply_markup", {}).get("inline_keyboard"):
            return message
    return None


async def wait_for_question(tg: FakeTelegramServer, chat_id: int, within: float = 5.0) -> JSON:
    """The latest message with buttons, awaited: on a busy machine a reply can come after the fake
    server deemed the bot quiet."""
    await tg.wait_for(lambda: _latest_with_buttons(tg, chat_id) is not None, within)
    return last_with_buttons(tg, chat_id)


def data_of(message: JSON, label: str) -> str:
    """The callback data of the button whose label contains ``label``."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if label in button["text"]:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {message['reply_markup']}")


VISIBLE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendPoll",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageMedia",
        "deleteMessage",
    }
)


def visible_calls(tg: FakeTelegramServer) -> int:
    """How many requests the bot made that change what a chat shows (sent, edited or deleted messages)."""
    return sum(1 for call in tg.calls if call.method in VISIBLE_METHODS)


async def tap(tg: FakeTelegramServer, user: JSON, chat_id: int, label: str, within: float = 5.0) -> None:
    """Tap a button of the latest question and wait (up to ``within`` seconds) until the bot handled it.

    Handled means the bot changed some chat after the toast and then went quiet: on a loaded machine
    the gap between the toast and the follow-up can exceed the fake's quiet period, and the next tap
    would otherwise find the answered question still showing its buttons.
    """
    message = await wait_for_question(tg, chat_id, within)
    shown = visible_calls(tg)
    tg.click(user, message, data_of(message, label))
    await tg.wait_for(lambda: visible_calls(tg) > shown, within)
    await tg.wait_until_consumed(within)


async def count(engine: Engine, sql: str) -> int:
    """The single number ``sql`` selects (0 when it selects no row)."""
    return int(await engine.services.store.fetchval(sql, (), 0))


# The console -------------------------------------------------------------------------------------


def number_of(shown: list[str], label: str) -> str:
    """The number the console put before the button whose label contains ``label`` (latest first)."""
    for text in reversed(shown):
        for number, button in re.findall(r"\[(\d+)\] ([^\[\n]+)", text):
            if label in button:
                return str(number)
    raise AssertionError(f"no button {label!r} in {shown}")


# Discord -----------------------------------------------------------------------------------------

DISCORD_TOKEN = "crowdpulse-test-token"
APP_ID = 930_000_000_000_000_001
BOT_ID = 930_000_000_000_000_002
GUILD = 940_000_000_000_000_001
CHANNEL = 940_000_000_000_000_002
MODERATOR_ROLE = 940_000_000_000_000_003
MARA = 950_000_000_000_000_001  # has Manage Server
ALICE = 950_000_000_000_000_002
BOB = 950_000_000_000_000_003  # has closed their direct messages
CAROL = 950_000_000_000_000_004
DAN = 950_000_000_000_000_005  # has the "CrowdPulse Moderator" role
MANAGE_SERVER = discord.Permissions(manage_guild=True).value
MESSAGE_CALLS = ("/messages", "/callback", "/webhooks/")


@contextlib.asynccontextmanager
async def fake_discord(*, flood_limits: FloodLimits | None = None) -> AsyncIterator[FakeDiscordServer]:
    """The fake Discord with the "Corner Café" server and its #general channel; the caller seats members.

    ``flood_limits`` turns on a channel's own limits on the messages posted into it.
    """
    async with FakeDiscordServer(
        app_id=APP_ID, bot_user_id=BOT_ID, token=DISCORD_TOKEN, flood_limits=flood_limits
    ) as server:
        server.guild(GUILD, "Corner Café", channels=[(CHANNEL, "general")])
        yield server


class DiscordDeployment:
    """The bot as an operator runs it (``run_discord`` in a task), stoppable and restartable."""

    def __init__(self, engine: Engine, settings: Settings, dc: FakeDiscordServer) -> None:
        self.engine, self.settings, self.dc = engine, settings, dc
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def own_shards(self) -> int:
        """How many gateway sessions this process opens: its ``shard_ids``, else every shard."""
        discord_settings = self.settings.discord
        if discord_settings.shard_ids is not None:
            return len(discord_settings.shard_ids)
        return discord_settings.shard_count or self.dc.recommended_shards

    async def start(self, **knobs: float) -> None:
        """Start and wait until the client has identified every shard it runs (its servers arrive before
        any interaction).

        ``knobs`` are ``run_discord``'s keyword arguments (``ack_budget``, ...).
        """
        identified, shards = self.dc.identify_count, self.own_shards
        self.stop_event = asyncio.Event()
        task = asyncio.create_task(
            run_discord(self.engine, self.settings, self.stop_event, guild_ready_timeout=0.05, **knobs)
        )
        self.task = task
        # a process launches its shards 5 s apart (Discord's identify rate limit, IDENTIFY_INTERVAL)
        await self.dc.wait_for(lambda: self.dc.identify_count >= identified + shards or task.done(), 5.0 + 6 * shards)
        if task.done():
            task.result()

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await self.task
            self.task = None


@contextlib.asynccontextmanager
async def discord_deployment(
    engine: Engine,
    settings: Settings,
    dc: FakeDiscordServer,
    *,
    guild_ids: Sequence[int] = (GUILD,),
    shard_count: int | None = None,
    shard_ids: Sequence[int] | None = None,
) -> AsyncIterator[DiscordDeployment]:
    """CrowdPulse aimed at ``dc``, not yet started; discord.py's process-wide endpoints are restored afterwards.

    ``guild_ids`` are where commands are synced (none: globally); ``shard_count`` and ``shard_ids`` make it
    one of several processes, each with its own engine on the same database (validated like settings).
    """
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    endpoints = DiscordSettings(
        token=SecretStr(DISCORD_TOKEN),
        api_base=f"{dc.url}/api/v10",
        gateway_url=dc.ws_url,
        guild_ids=list(guild_ids),
        shard_count=shard_count,
        shard_ids=None if shard_ids is None else list(shard_ids),
    )
    deployment = DiscordDeployment(engine, settings.model_copy(update={"discord": endpoints}), dc)
    try:
        yield deployment
    finally:
        await deployment.stop()  # before the fake closes, or discord.py would reconnect
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


async def click(dc: FakeDiscordServer, user: int, message: JSON, label: str, *, exact: bool = False) -> JSON:
    """Clicks a button and returns the interaction's initial response."""
    handle = await dc.click(user, message, custom_id(message, label, exact=exact))
    return await handle.response()


def command_uploads(dc: FakeDiscordServer) -> list[str]:
    """Where the bot bulk-overwrote its slash commands, in order: a server's id, or "global"."""
    prefix = f"/applications/{APP_ID}/"
    return [
        call.path.removeprefix(f"{prefix}guilds/").removesuffix("/commands") if "/guilds/" in call.path else "global"
        for call in dc.calls
        if call.method == "PUT" and call.path.startswith(prefix) and call.path.endswith("/commands")
    ]


def messages_of(handle: InteractionHandle) -> list[JSON]:
    """The messages an interaction produced, in order (its response, then its follow-ups)."""
    return [message for message in (handle.original, *handle.followups) if message is not None]


def custom_id(message: JSON, label: str, *, exact: bool = False) -> str:
    """The custom_id of the button whose label contains (or is) ``label``."""
    for row in message["components"]:
        for component in row["components"]:
            shown = component.get("label", "")
            if component["type"] == 2 and (shown == label if exact else label in shown):
                return str(component["custom_id"])
    raise AssertionError(f"no button {label!r} on {message['content']!r}")


def select_id(message: JSON) -> str:
    """The custom_id of the message's select menu (a multiple choice)."""
    return next(c["custom_id"] for row in message["components"] for c in row["components"] if c["type"] == 3)


async def shown(dc: FakeDiscordServer, handle: InteractionHandle, *words: str) -> JSON:
    """Waits for the interaction's message that says all of ``words``."""
    await handle.response()
    return await dc.wait_for(
        lambda: next((m for m in messages_of(handle) if all(w in m["content"] for w in words)), None)
    )


async def next_question(dc: FakeDiscordServer, handle: InteractionHandle, prompt: str) -> JSON:
    """The question that follows ``handle``'s answer, which says ``prompt``: for the member's eyes only."""
    message = await shown(dc, handle, prompt)
    assert message["flags"] & EPHEMERAL, message  # a member's next question is theirs alone
    return message


async def answers_of(engine: Engine, user: int) -> dict[str, str]:
    """The Discord member's recorded answers: task id to stored value."""
    rows = await engine.services.store.fetchall(
        "SELECT a.task_id, a.value FROM answers a JOIN users u ON u.id = a.user_id "
        "WHERE u.platform = 'discord' AND u.platform_user_id = ?",
        (str(user),),
    )
    return {row[0]: row[1] for row in rows}


def assert_discord_contract(
    dc: FakeDiscordServer, expected_errors: tuple[int, ...] = (), *, rate_limited: bool = False
) -> None:
    """What Discord demands of every bot, checked over everything this test did.

    Every interaction acknowledged within 3 seconds; every message the bot posted or edited (channel
    messages, direct messages, interaction responses, follow-ups) within 2000 characters and pinging
    nobody; and no request Discord refused, but the ``expected_errors`` codes (and 429s, when the test
    is about being ``rate_limited``).
    """
    assert dc.interactions, "the test made no interaction"
    late = [(h.id, h.acked_within) for h in dc.interactions if h.acked_within is None or h.acked_within >= 3]
    assert late == [], f"acknowledged late or never (id, seconds): {late}"
    bodies = []
    for call in dc.calls:
        if call.method not in ("POST", "PATCH") or not any(part in call.path for part in MESSAGE_CALLS):
            continue
        if not call.path.endswith("/callback"):
            bodies.append(call.json)
        elif call.json["type"] in (4, 7):  # not a deferral, a modal or autocomplete choices
            bodies.append(call.json["data"])
    assert bodies, "the bot posted no message"
    for body in bodies:
        assert len(body.get("content") or "") <= 2000, body
        assert body.get("allowed_mentions") == {"parse": []}, body
    refused = [e for e in dc.errors if e.code not in expected_errors and not (rate_limited and e.status == 429)]
    assert refused == [], f"requests Discord refused: {refused}"
