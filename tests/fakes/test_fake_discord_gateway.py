"""Proves the fake Discord's gateway against the real discord.py library (no mocks): RESUME after a drop,
a forced new IDENTIFY, and sharding across one or several clients.
"""

from __future__ import annotations

import asyncio

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .discord.gateway import shard_for
from .discord.server import FakeDiscordServer
from .discord_clients import (
    ALICE,
    ANNEX,
    ANNEX_CHANNEL,
    CHANNEL,
    GUILD,
    TOKEN,
    AutoBot,
    Bot,
    ShardBot,
    connected,
)


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
