"""Bare discord.py clients the fake Discord's own tests run against, and the world they share.

Why a module of its own: the fake's tests (tests/fakes/test_fake_discord_*.py) prove the fake against the
real library, each theme in its own file, and all of them need the same client — just enough commands,
views and modals to exercise every interaction path the fake serves — and the same ids. The fixtures that
start the fake and connect a client are in tests/fakes/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .discord.server import FakeDiscordServer

TOKEN = "test-bot-token"
APP_ID = 900_000_000_000_000_001
BOT_ID = 900_000_000_000_000_002
GUILD = 910_000_000_000_000_001
CHANNEL = 910_000_000_000_000_002
ALICE = 920_000_000_000_000_001
BOB = 920_000_000_000_000_002  # has DMs closed
ANNEX = GUILD + (1 << 22)  # the next guild id's timestamp: GUILD is on shard 0 of 2, the annex on shard 1
ANNEX_CHANNEL = 910_000_000_000_000_012
FRUITS = ("apple", "apricot", "banana")
GUILD_COMMANDS = {"echo", "poll", "slow", "think", "feedback", "pick", "fruit", "report"}


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"vote:(?P<option>\d+)"):
    """A persistent button: it must work from the message payload alone, as after a bot restart."""

    def __init__(self, option: int) -> None:
        super().__init__(discord.ui.Button(label=f"Vote {option}", custom_id=f"vote:{option}"))
        self.option = option

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["option"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"voted {self.option}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """Current Discord modal format: type-18 labels wrapping a text input and a string select."""

    idea: discord.ui.Label[FeedbackModal] = discord.ui.Label(
        text="Your idea", component=discord.ui.TextInput(custom_id="idea", max_length=200)
    )
    mood: discord.ui.Label[FeedbackModal] = discord.ui.Label(
        text="Mood",
        component=discord.ui.Select(
            custom_id="mood", options=[discord.SelectOption(label=m, value=m) for m in ("happy", "meh")]
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.idea.component, discord.ui.TextInput)
        assert isinstance(self.mood.component, discord.ui.Select)
        await interaction.response.send_message(f"idea={self.idea.component.value} mood={self.mood.component.values}")


class Mute(discord.ui.View):
    """A button whose callback does nothing, so its click is never acknowledged."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(discord.ui.Button(label="Mute", custom_id="mute"))


class PickView(discord.ui.View):
    @discord.ui.select(
        custom_id="pick", min_values=1, max_values=2, options=[discord.SelectOption(label=x) for x in "abc"]
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[PickView]) -> None:
        await interaction.response.edit_message(content=f"picked {','.join(select.values)}", view=None)


class Bot(discord.Client):
    """A bare client: just enough commands to exercise every interaction path the fake serves."""

    def __init__(self, **options: Any) -> None:
        # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before on_ready.
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.tree = app_commands.CommandTree(self)
        self.failures: list[discord.HTTPException] = []
        self.seen: list[discord.Interaction] = []
        self.delay = 0.0
        self._add_commands()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY (Discord's identify rate limit); not here."""

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)
        await self.tree.sync(guild=discord.Object(GUILD))
        await self.tree.sync()

    def _add_commands(self) -> None:
        guild = discord.Object(GUILD)

        @self.tree.command(guild=guild, description="Repeat a word")
        async def echo(interaction: discord.Interaction, word: str, times: int = 1) -> None:
            self.seen.append(interaction)
            await interaction.response.send_message(" ".join([word] * times))

        @self.tree.command(description="Who and where am I")
        async def whoami(interaction: discord.Interaction) -> None:
            where = "a DM" if interaction.guild is None else interaction.guild.name
            await interaction.response.send_message(f"{interaction.user.name} in {where}")

        @self.tree.command(guild=guild, description="Get the report")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("report", file=discord.File(io.BytesIO(b"1,2"), "r.csv"))

        @self.tree.command(guild=guild, description="Start a vote")
        async def poll(interaction: discord.Interaction) -> None:
            view = discord.ui.View(timeout=None)
            for option in (1, 2):
                view.add_item(VoteButton(option))
            await interaction.response.send_message("Pick one", view=view)

        @self.tree.command(guild=guild, description="Answer after a delay")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(self.delay)
            try:
                await interaction.response.send_message("finally")
            except discord.HTTPException as exc:
                self.failures.append(exc)

        @self.tree.command(guild=guild, description="Think, then answer")
        async def think(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done")
            extra = discord.File(io.BytesIO(b"x"), "x.txt")
            await interaction.followup.send("and more", ephemeral=True, file=extra)

        @self.tree.command(guild=guild, description="Send feedback")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        @self.tree.command(guild=guild, description="Pick letters")
        async def pick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("choose", view=PickView())

        @self.tree.command(guild=guild, description="Name a fruit")
        async def fruit(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(name)

        @fruit.autocomplete("name")
        async def fruit_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]


class ShardBot(Bot):
    """One process of a sharded bot: a bare client running shard ``shard_id`` of two."""

    def __init__(self, shard_id: int) -> None:
        super().__init__(shard_id=shard_id, shard_count=2)
        self.received: list[discord.Interaction] = []

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.received.append(interaction)


class AutoBot(discord.AutoShardedClient):
    """discord.py's sharded client left to ask ``/gateway/bot`` how many shards to run."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before each shard after the first (Discord's identify rate limit); not here."""


@contextlib.asynccontextmanager
async def connected(dc: FakeDiscordServer, client: discord.Client) -> AsyncIterator[None]:
    """``client`` logged in and ready; discord.py's module-level endpoints are pointed at the fake and restored."""
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = f"{dc.url}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dc.ws_url)
    runner: asyncio.Task[None] | None = None
    try:
        await client.login(TOKEN)
        runner = asyncio.create_task(client.connect())
        await dc.wait_ready()
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield
    finally:
        await client.close()  # before the fake stops, or discord.py would try to reconnect
        if runner is not None:
            await runner
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def channel_of(bot: Bot) -> discord.TextChannel:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    return channel
