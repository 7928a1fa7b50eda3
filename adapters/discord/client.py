"""The sharded client and its start: intents, components, commands synced if changed, the gateway, the outbox.

:class:`DiscordAdapter` composes the pieces of :mod:`adapters.discord` around one engine: the interactions
(:mod:`~adapters.discord.interactions`), the slash commands (:mod:`~adapters.discord.commands`), the
outbox's delivery (:mod:`~adapters.discord.delivery`) and the per-channel queue of follow-ups
(:mod:`~adapters.discord.responding`), which gets :data:`SEND_GRACE` seconds when the bot stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters import send_queue
from adapters.discord.callbacks import Callbacks
from adapters.discord.callbacks import log as callbacks_log
from adapters.discord.commands import SlashCommands
from adapters.discord.delivery import Delivery
from adapters.discord.incoming import route_lazily
from adapters.discord.interactions import PLATFORM, Interactions
from adapters.discord.limits import ACK_BUDGET, IDENTIFY_INTERVAL
from adapters.discord.rendering import NO_MENTIONS
from adapters.discord.responding import log as follow_up_log
from adapters.discord.sync import CatalogTranslator, sync_commands
from adapters.log_repeats import folding_repeats
from adapters.send_queue import SendQueue
from bot.engine import Engine
from bot.settings import Settings

log = logging.getLogger(__name__)

DIRECT_MESSAGE_COMMANDS = ("link", "dashboard")  # needed in a DM with the bot even when commands go to servers

SEND_GRACE = 5.0  # seconds queued follow-ups get to go out when the bot stops
# Loggers whose warnings repeat under load (discord.py's one per 429, ours one per failed send): folded.
REPEATING_LOGGERS = (
    "discord.http",
    "discord.webhook.async_",
    callbacks_log.name,
    send_queue.__name__,
    follow_up_log.name,
    Interactions.__module__,
    SlashCommands.__module__,
    __name__,
)


def configure_endpoints(api_base: str, gateway_url: str) -> None:
    """Point discord.py at Discord's REST API and gateway, or at a stand-in (the test suite's fake).

    discord.py reads both from class attributes at call time (``Route.BASE``, ``DEFAULT_GATEWAY``), so
    this affects every client in the process; the defaults in :class:`bot.settings.DiscordSettings` are
    Discord's own. Call it before the client logs in.
    """
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class CrowdPulseClient(discord.AutoShardedClient):
    """discord.py's client as CrowdPulse needs it: the guilds intent only (no message content), no
    mentions, the command tree, and the adapter behind setup and the interactions no item claims."""

    def __init__(
        self,
        adapter: DiscordAdapter,
        *,
        shard_count: int | None,
        shard_ids: Sequence[int] | None,
        guild_ready_timeout: float,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        # Without shard_ids the client runs every shard; with them, only those (the others are run by
        # other processes on the same database).
        sharding: dict[str, Any] = {} if shard_ids is None else {"shard_ids": list(shard_ids)}
        super().__init__(
            intents=intents,
            shard_count=shard_count,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            **sharding,
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        route_lazily(self._connection)  # clicks and forms straight to on_interaction (adapters.discord.incoming)
        self._closing = asyncio.Event()
        self._waited: set[int] = set()  # shards being launched whose identify wait is already over

    async def setup_hook(self) -> None:
        await self.adapter.setup()

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """Launch a shard, waiting for Discord's identify rate limit *before* its socket opens.

        discord.py 2.7 waits in :meth:`before_identify_hook`, with the socket open; a process stopped
        then (its shards launch 5 s apart, so for a while after every start) never exited: the closed
        client retried launching that shard forever on its closed HTTP session, leaving a socket and a
        heartbeat thread behind each time. Waiting here, cut short by :meth:`close`, a stop while
        launching opens nothing more; a shard that still came up after ``close()`` is disconnected.
        """
        if not initial:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), IDENTIFY_INTERVAL)
        if self.is_closed():
            return
        self._waited.add(shard_id)
        try:
            await super().launch_shard(gateway, shard_id, initial=initial)
        finally:
            self._waited.discard(shard_id)
        late = self.get_shard(shard_id) if self.is_closed() else None
        if late is not None:
            await late.disconnect()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py's wait before an IDENTIFY, except in a launch that has waited already."""
        if shard_id not in self._waited:
            await super().before_identify_hook(shard_id, initial=initial)

    async def close(self) -> None:
        """Close, and wake a shard launch waiting its turn so that it gives up (see :meth:`launch_shard`)."""
        self._closing.set()
        await super().close()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Components and forms are routed here by custom_id (:mod:`adapters.discord.components`);
        slash commands go to the tree."""
        interactions = self.adapter.interactions
        if interaction.type == discord.InteractionType.modal_submit:
            await interactions.on_modal_submit(interaction)
        elif interaction.type == discord.InteractionType.component:
            await interactions.on_component(interaction)


class DiscordAdapter:
    """CrowdPulse's engine behind one Discord client.

    Args:
        guild_ready_timeout: how long discord.py waits for more servers before it calls itself ready (and
            the outbox starts draining); Discord needs the default, tests shorten it.
        ack_budget: seconds the engine may take before an interaction is deferred; 0 defers every one.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        guild_ready_timeout: float = 2.0,
        ack_budget: float = ACK_BUDGET,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = CrowdPulseClient(
            self,
            shard_count=settings.discord.shard_count,
            shard_ids=settings.discord.shard_ids,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.sends: SendQueue[int] = SendQueue(PLATFORM)  # follow-ups, one worker per busy channel
        self.callbacks = Callbacks(settings.discord.api_base)  # the interactions' responses
        self.interactions = Interactions(
            engine, settings, self.client, self.sends, self.callbacks, ack_budget=ack_budget
        )
        self.delivery = Delivery(engine, settings.discord, self.client)
        self.tree = self.client.tree
        self.tree.error(self.interactions.on_command_error)
        for command in SlashCommands(engine, self.interactions).build():
            self.tree.add_command(command)
        engine.moderation.register_check(PLATFORM, self.interactions.is_moderator)

    async def setup(self) -> None:
        """Before the gateway connects: translations, commands synced if changed.

        Commands go to ``discord.guild_ids`` when set (they appear there at once), else globally. Server
        commands do not exist in direct messages, so with ``guild_ids`` the commands a member needs in a DM
        with the bot (:data:`DIRECT_MESSAGE_COMMANDS`: ``/link CODE`` from another platform) stay global,
        and only there, so no server lists them twice.
        """
        await self.tree.set_translator(CatalogTranslator())
        guild_ids = self.settings.discord.guild_ids
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            for name in DIRECT_MESSAGE_COMMANDS:
                self.tree.remove_command(name, guild=guild)
            await self.sync_commands(guild)
        if guild_ids:
            for command in self.tree.get_commands():
                if command.name not in DIRECT_MESSAGE_COMMANDS:
                    self.tree.remove_command(command.name)
        await self.sync_commands(None)

    async def sync_commands(self, guild: discord.Object | None) -> None:
        """One scope's commands, uploaded unless unchanged (:func:`adapters.discord.sync.sync_commands`)."""
        application_id = self.client.application_id
        if application_id is None:
            raise app_commands.MissingApplicationID
        await sync_commands(self.tree, self.engine, application_id, guild)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain the outbox once ready, and close cleanly when ``stop`` is set.

        Raises:
            discord.LoginFailure: the token was refused (and other errors that end the gateway).
        """
        token = self.settings.discord.token
        if token is None:
            raise ValueError("discord.token is not set (CROWDPULSE_DISCORD__TOKEN)")
        try:
            await self.client.login(token.get_secret_value())
        except BaseException:
            await self.client.close()  # the HTTP session login opened
            raise
        connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready(), name="discord-ready")
        stopping = asyncio.create_task(stop.wait(), name="discord-stop")
        halt = asyncio.Event()
        drain: asyncio.Task[None] | None = None
        try:
            await asyncio.wait({connection, ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and not stopping.done():
                drain = asyncio.create_task(self.delivery.drainer().run(halt), name="discord-outbox")
                log.info("platform=discord started guilds=%d", len(self.client.guilds))
                await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.set()
            if drain is not None:
                await drain
            await self.sends.close(SEND_GRACE)
            await self.client.close()
            await self.callbacks.close()  # after the client: no interaction arrives to be answered any more
            for helper in (ready, stopping):
                helper.cancel()
            await asyncio.gather(ready, stopping, return_exceptions=True)
            await connection  # re-raises what ended the gateway (a refused token, say)


async def run_discord(
    engine: Engine,
    settings: Settings,
    stop: asyncio.Event,
    *,
    guild_ready_timeout: float = 2.0,
    ack_budget: float = ACK_BUDGET,
) -> None:
    """Run CrowdPulse on Discord, and drain its outbox, until ``stop`` is set.

    The endpoints come from ``discord.api_base`` and ``discord.gateway_url`` (Discord's by default); the
    keyword arguments are :class:`DiscordAdapter`'s knobs, which tests turn. Repeated warnings (a 429
    each, from discord.py and from the send queue) are folded while it runs.
    """
    configure_endpoints(settings.discord.api_base, settings.discord.gateway_url)
    adapter = DiscordAdapter(engine, settings, guild_ready_timeout=guild_ready_timeout, ack_budget=ack_budget)
    with folding_repeats(*REPEATING_LOGGERS):
        await adapter.run(stop)
