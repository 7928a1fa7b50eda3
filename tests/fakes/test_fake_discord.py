"""Proves the fake Discord server against the real discord.py library (no mocks).

Every test runs an unmodified ``discord.Client`` with an ``app_commands.CommandTree`` over HTTP and the
gateway WebSocket, so a passing test means discord.py encodes its requests the way the fake decodes them,
parses the fake's payloads (READY, GUILD_CREATE, INTERACTION_CREATE, messages) and maps the fake's error
replies to the same exceptions as Discord's.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import MultipartParameters, Route

from .discord.gateway import shard_for
from .discord.limits import FloodLimits
from .discord.protocol import EPHEMERAL, LOADING
from .discord.records import NEVER_ACKNOWLEDGED
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


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscordServer]:
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN) as server:
        server.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        server.member(GUILD, ALICE, "alice", permissions=discord.Permissions(manage_guild=True).value)
        server.user(BOB, "bob", dms_closed=True)
        yield server


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


@pytest.fixture
async def bot(dc: FakeDiscordServer) -> AsyncIterator[Bot]:
    """A connected client."""
    client = Bot()
    async with connected(dc, client):
        yield client


def channel_of(bot: Bot) -> discord.TextChannel:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_client_connects_and_syncs_guild_commands(dc: FakeDiscordServer, bot: Bot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    assert guild.name == "Pulse HQ"
    assert guild.me.guild_permissions.send_messages
    assert channel_of(bot).name == "general"
    assert dc.identify_count == 1
    assert dc.intents == discord.Intents.default().value
    paths = [(c.method, c.path) for c in dc.calls]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert ("PUT", f"/applications/{APP_ID}/guilds/{GUILD}/commands") in paths
    assert {c["name"] for c in dc.commands(GUILD)} == GUILD_COMMANDS
    assert [c["name"] for c in dc.commands()] == ["whoami"]


async def test_slash_command_options_are_typed_from_the_synced_schema(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "hi", "times": 3})
    answer = await handle.response()
    assert answer["type"] == 4
    assert answer["data"]["content"] == "hi hi hi"
    assert handle.acked_within is not None
    assert handle.acked_within < 3
    assert [m["content"] for m in dc.channel_messages(CHANNEL)] == ["hi hi hi"]
    with pytest.raises(ValueError, match="required options missing"):
        await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"times": 2})


async def test_member_permissions_reach_the_interaction(dc: FakeDiscordServer, bot: Bot) -> None:
    await (await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "perm"})).response()
    interaction = bot.seen[-1]
    assert isinstance(interaction.user, discord.Member)
    assert interaction.permissions.manage_guild
    assert interaction.user.guild_permissions.manage_guild
    assert not interaction.user.guild_permissions.administrator
    assert interaction.app_permissions.send_messages


async def test_global_command_in_a_guild_and_in_a_dm(dc: FakeDiscordServer, bot: Bot) -> None:
    in_guild = await dc.slash(ALICE, GUILD, CHANNEL, "whoami")
    assert (await in_guild.response())["data"]["content"] == "alice in Pulse HQ"
    in_dm = await dc.slash(ALICE, None, None, "whoami")
    assert (await in_dm.response())["data"]["content"] == "alice in a DM"
    assert in_dm.original is not None
    assert dc.dm_messages(ALICE) == [in_dm.original]


async def test_button_reply_and_persistent_dynamic_item_click(dc: FakeDiscordServer, bot: Bot) -> None:
    poll = await dc.slash(ALICE, GUILD, CHANNEL, "poll")
    assert (await poll.response())["type"] == 4
    message = poll.original
    assert message is not None
    assert message["components"][0]["components"][1]["custom_id"] == "vote:2"

    click = await dc.click(ALICE, message, "vote:2")
    answer = await click.response()
    assert answer["type"] == 4
    assert answer["data"]["content"] == "voted 2"
    assert click.ephemeral
    assert not poll.ephemeral
    assert dc.channel_messages(CHANNEL) == [message]  # the ephemeral reply is hidden by default
    assert dc.channel_messages(CHANNEL, include_ephemeral=True)[-1]["flags"] & EPHEMERAL


async def test_second_response_is_refused_with_40060(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "once"})
    await handle.response()
    # A second worker answering the same interaction: discord.py's own guard cannot see it, Discord can.
    duplicate = discord.Interaction(data=handle.payload, state=bot._connection)  # type: ignore[arg-type]
    with pytest.raises(discord.HTTPException) as refused:
        await duplicate.response.send_message("twice")
    assert refused.value.status == 400
    assert refused.value.code == 40060
    assert refused.value.text == "Interaction has already been acknowledged."


async def test_late_response_is_unknown_interaction(dc: FakeDiscordServer, bot: Bot) -> None:
    dc.time_scale, bot.delay = 0.05, 0.3  # the 3 s window becomes 0.15 s
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "slow")
    failure = await dc.wait_for(lambda: bot.failures and bot.failures[0])
    assert isinstance(failure, discord.NotFound)
    assert failure.code == 10062
    assert handle.callback is None
    assert dc.errors[-1].code == 10062
    assert dc.unacknowledged == [handle]
    dc.expect_unacknowledged(handle)  # on purpose: the session's check (tests/conftest.py) lets it be
    assert dc.unacknowledged == []


async def test_an_interaction_left_unanswered_is_noted_for_the_session_check() -> None:
    """Unanswered within the window or by the end of the test, an interaction is noted as the fake closes;
    tests/conftest.py fails the session for each one noted."""
    before = len(NEVER_ACKNOWLEDGED)
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN) as dc:
        dc.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        dc.member(GUILD, ALICE, "alice")
        client = Bot()
        async with connected(dc, client):
            message = await channel_of(client).send("a button whose callback answers nothing", view=Mute())
            ignored = await dc.click(ALICE, message.id, "mute")
            await (await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "hi"})).response()  # after the click
        assert dc.unacknowledged == [ignored]
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    try:
        assert NEVER_ACKNOWLEDGED[before:] == [f"{test}: {ignored!r}"]
    finally:
        del NEVER_ACKNOWLEDGED[before:]  # noted as it should be; the session goes on clean


async def test_deferred_reply_is_completed_by_the_first_followup(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "think")
    assert (await handle.response())["type"] == 5
    await dc.wait_for(lambda: handle.followups)
    original = handle.original
    assert original is not None
    assert original["content"] == "done"
    assert not original["flags"] & LOADING
    assert [(m["content"], bool(m["flags"] & EPHEMERAL)) for m in handle.followups] == [("and more", True)]
    assert dc.attachment_bytes(handle.followups[0]) == {"x.txt": b"x"}  # multipart follow-up


async def test_modal_is_shown_and_submitted(dc: FakeDiscordServer, bot: Bot) -> None:
    shown = await dc.slash(ALICE, GUILD, CHANNEL, "feedback")
    modal = (await shown.response())["data"]
    assert modal["title"] == "Feedback"
    assert [c["type"] for c in modal["components"]] == [18, 18]

    submitted = await dc.submit_modal(ALICE, GUILD, CHANNEL, modal["custom_id"], {"idea": "tea", "mood": ["happy"]})
    answer = await submitted.response()
    assert answer["data"]["content"] == "idea=tea mood=['happy']"
    with pytest.raises(LookupError):  # a modal can be submitted once
        await dc.submit_modal(ALICE, GUILD, CHANNEL, modal["custom_id"], {"idea": "again"})


async def test_select_values_update_the_message(dc: FakeDiscordServer, bot: Bot) -> None:
    shown = await dc.slash(ALICE, GUILD, CHANNEL, "pick")
    await shown.response()
    assert shown.original is not None
    with pytest.raises(ValueError, match=r"takes 1\.\.2 values"):
        await dc.select(ALICE, shown.original, "pick", ["a", "b", "c"])

    picked = await dc.select(ALICE, shown.original, "pick", ["a", "c"])
    assert (await picked.response())["type"] == 7
    assert picked.original is shown.original
    assert shown.original["content"] == "picked a,c"
    assert shown.original["components"] == []


async def test_autocomplete_choices(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.autocomplete(ALICE, GUILD, CHANNEL, "fruit", focused="name", options={"name": "ap"})
    answer = await handle.response()
    assert answer["type"] == 8
    assert [c["value"] for c in answer["data"]["choices"]] == ["apple", "apricot"]


async def test_payload_limits_raise_http_exception(dc: FakeDiscordServer, bot: Bot) -> None:
    channel = channel_of(bot)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400
    assert too_long.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in too_long.value.text
    with pytest.raises(discord.HTTPException, match=r"embeds\.0\.description"):
        await channel.send(embed=discord.Embed(description="y" * 4097))
    assert dc.channel_messages(CHANNEL) == []


async def test_component_limits_are_enforced(dc: FakeDiscordServer, bot: Bot) -> None:
    """discord.py's View refuses most layouts client-side; a raw payload reaches the server checks."""
    select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}
    crowded = {"type": 1, "components": [select, {"type": 2, "style": 1, "label": "b", "custom_id": "b"}]}
    long_id = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "x" * 101}]}
    payload = {"content": "c", "components": [crowded, long_id]}
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.send_message(CHANNEL, params=MultipartParameters(payload, None, None))
    assert "In components.0.components: The specified component exceeds the maximum width" in refused.value.text
    assert "In components.1.components.0.custom_id: Must be between 1 and 100" in refused.value.text


async def test_command_schema_is_validated(dc: FakeDiscordServer, bot: Bot) -> None:
    commands = [
        {"name": "Bad Name", "description": "x", "type": 1},
        {"name": "ok", "description": "", "type": 1},
    ]
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.bulk_upsert_guild_commands(APP_ID, GUILD, commands)
    assert refused.value.code == 50035
    assert "In 0.name: Command name is invalid" in refused.value.text
    assert "In 1.description: Must be between 1 and 100 in length." in refused.value.text
    assert {c["name"] for c in dc.commands(GUILD)} == GUILD_COMMANDS  # the previous sync is untouched


async def test_attachments_are_stored(dc: FakeDiscordServer, bot: Bot) -> None:
    message = await channel_of(bot).send("report", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "report.csv"))
    assert message.attachments[0].filename == "report.csv"
    assert dc.attachment_bytes(message.id) == {"report.csv": b"a,b\n1,2\n"}
    assert await message.attachments[0].read() == b"a,b\n1,2\n"
    reply = await dc.slash(ALICE, GUILD, CHANNEL, "report")  # multipart interaction callback
    assert (await reply.response())["data"]["attachments"] == [{"id": 0, "filename": "r.csv"}]
    assert reply.original is not None
    assert dc.attachment_bytes(reply.original) == {"r.csv": b"1,2"}


async def test_dm_to_user_with_closed_dms_is_forbidden(dc: FakeDiscordServer, bot: Bot) -> None:
    bob = await bot.fetch_user(BOB)
    with pytest.raises(discord.Forbidden) as refused:
        await bob.send("hello")
    assert refused.value.code == 50007
    alice = await bot.fetch_user(ALICE)
    await alice.send("hello alice")
    assert [m["content"] for m in dc.dm_messages(ALICE)] == ["hello alice"]


async def test_injected_429_is_retried_transparently(dc: FakeDiscordServer, bot: Bot) -> None:
    dc.fail_next("POST", rf"/channels/{CHANNEL}/messages", status=429, retry_after=0.05)
    message = await channel_of(bot).send("after a rate limit")
    assert message.content == "after a rate limit"
    posts = [c for c in dc.calls if c.method == "POST" and c.path == f"/channels/{CHANNEL}/messages"]
    assert len(posts) == 2
    assert [(e.status, e.injected) for e in dc.errors] == [(429, True)]


async def test_a_channels_own_limits_give_shared_429s_that_discord_py_waits_out() -> None:
    """Beyond a channel's messages (or follow-ups) per window, a 429 scoped ``shared``; discord.py waits
    and sends again, so every message arrives, the refused one after the window."""
    limits = FloodLimits(channel_messages=(2, 0.2), channel_followups=(1, 0.2))
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN, flood_limits=limits) as server:
        server.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        server.member(GUILD, ALICE, "alice")
        client = Bot()
        async with connected(server, client):
            for word in ("one", "two", "three"):
                await channel_of(client).send(word)
            handle = await server.slash(ALICE, GUILD, CHANNEL, "think")  # a deferral, then two follow-ups
            await server.wait_for(lambda: handle.followups)
    assert [m["content"] for m in server.channel_messages(CHANNEL)][:3] == ["one", "two", "three"]
    assert [m["content"] for m in [handle.original, *handle.followups] if m] == ["done", "and more"]
    assert [(e.path.split("/")[1], e.channel_id) for e in server.flood_errors] == [
        ("channels", CHANNEL),
        ("webhooks", CHANNEL),
    ]
    refused = [e for e in server.errors if e.status == 429]
    assert len(refused) == 2 and not any(e.injected for e in refused)


async def test_dropped_gateway_is_resumed_and_missed_events_replayed(dc: FakeDiscordServer, bot: Bot) -> None:
    await dc.drop_gateway()
    missed = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "missed"})  # sent while disconnected
    assert (await missed.response())["data"]["content"] == "missed"
    assert dc.resume_count == 1
    assert dc.identify_count == 1


async def test_invalid_session_forces_a_new_identify(dc: FakeDiscordServer, bot: Bot) -> None:
    dc.invalid_session_next = True
    await dc.drop_gateway()
    await dc.wait_for(lambda: dc.identify_count == 2)
    assert dc.resume_count == 0
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "fresh"})
    assert (await handle.response())["data"]["content"] == "fresh"


# sharding ----------------------------------------------------------------------------------------


def test_the_shard_formula_is_discords() -> None:
    assert shard_for(81_384_788_765_712_384, 17) == 7  # the example of serenity's shard_id helper
    assert (shard_for(GUILD, 2), shard_for(ANNEX, 2), shard_for(GUILD, 1)) == (0, 1, 0)


async def test_each_guilds_events_reach_only_the_client_running_its_shard(dc: FakeDiscordServer) -> None:
    """Two clients share the bot, one shard of two each: guilds and interactions go by (guild_id >> 22) % 2,
    direct messages to shard 0, and each interaction to one client only."""
    dc.guild(ANNEX, "Pulse Annex", channels=[(ANNEX_CHANNEL, "annex")])
    dc.member(ANNEX, ALICE)
    first, second = ShardBot(0), ShardBot(1)
    async with connected(dc, first), connected(dc, second):
        assert dc.shards() == [(0, 2), (1, 2)]
        assert [guild.id for guild in first.guilds] == [GUILD]  # in READY and GUILD_CREATE: its shard's only
        assert [guild.id for guild in second.guilds] == [ANNEX]

        here = await dc.slash(ALICE, GUILD, CHANNEL, "whoami")
        there = await dc.slash(ALICE, ANNEX, ANNEX_CHANNEL, "whoami")
        direct = await dc.slash(ALICE, None, None, "whoami")
        assert (await here.response())["data"]["content"] == "alice in Pulse HQ"
        assert (await there.response())["data"]["content"] == "alice in Pulse Annex"  # its client knows the annex
        assert (await direct.response())["data"]["content"] == "alice in a DM"
        assert [handle.shards for handle in (here, there, direct)] == [[(0, 2)], [(1, 2)], [(0, 2)]]
        assert [interaction.id for interaction in first.received] == [here.id, direct.id]
        assert [interaction.id for interaction in second.received] == [there.id]
    assert dc.errors == []  # a second answer to any of them would have been refused with 40060


async def test_two_clients_on_the_same_shard_both_get_its_interactions(dc: FakeDiscordServer) -> None:
    """What happens when two processes run every shard: Discord sends each event to both."""
    first, second = ShardBot(0), ShardBot(0)
    async with connected(dc, first), connected(dc, second):
        handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "twice"})
        await dc.wait_for(lambda: first.received and second.received)
        assert handle.shards == [(0, 2), (0, 2)]
        await dc.wait_for(lambda: [error.code for error in dc.errors] == [40060])  # the slower one is refused
    assert handle.callback is not None


async def test_an_auto_sharded_client_runs_the_shards_gateway_bot_recommends(dc: FakeDiscordServer) -> None:
    dc.guild(ANNEX, "Pulse Annex", channels=[(ANNEX_CHANNEL, "annex")])
    dc.recommended_shards = 2
    client = AutoBot()
    async with connected(dc, client):
        assert client.shard_count == 2
        assert sorted(dc.shards()) == [(0, 2), (1, 2)]
        placed = {guild.id: guild.shard_id for guild in client.guilds}
        assert placed == {GUILD: 0, ANNEX: 1}


async def test_an_identify_for_a_shard_outside_its_count_is_closed_with_4010(dc: FakeDiscordServer) -> None:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = f"{dc.url}/api/v10", yarl.URL(dc.ws_url)
    client = Bot(shard_id=2, shard_count=2)
    try:
        await client.login(TOKEN)
        with pytest.raises(discord.ConnectionClosed) as closed:
            await asyncio.wait_for(client.connect(), 5)
        assert closed.value.code == 4010
        assert (dc.identify_count, dc.shards()) == (0, [])
    finally:
        await client.close()
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
