"""Several Discord processes on one database: each answers the servers on its own shard, leaves another
shard's announcements to its process, one process can run every shard, and a stopped one exits.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import adapters.discord.client
from adapters.discord import ELSEWHERE_SECONDS, run_discord
from bot.app import running_engine
from bot.engine import Context, Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.payloads import reply_payload
from bot.replies import Reply
from bot.settings import Settings
from bot.store.effects import enqueue
from tests.adapters.harness import (
    ALICE,
    CAROL,
    CHANNEL,
    GUILD,
    answers_of,
    assert_discord_contract,
    command_uploads,
    count,
    custom_id,
    discord_deployment,
    next_question,
    shown,
)
from tests.conftest import FakeClock
from tests.fakes.discord.gateway import shard_for
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer

ROASTERY = GUILD + (1 << 22)  # "Roastery", a server created a moment later: the café is on shard 1 of 2, it on 0
ROASTERY_CHANNEL = ROASTERY + 1


def engine_calls(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(server, member) of every request this process's engine served, in order: each command, click
    and form starts by resolving who and where (:meth:`Engine.context`)."""
    calls: list[tuple[str, str]] = []
    resolve = engine.context

    async def recorded(user: UserRef, space: SpaceRef) -> Context:
        calls.append((space.external_id, user.platform_user_id))
        return await resolve(user, space)

    monkeypatch.setattr(engine, "context", recorded)
    return calls


def callbacks_per_interaction(dc: FakeDiscordServer) -> Counter[int]:
    """How many initial responses the bot sent for each interaction (the fake refuses a second one)."""
    return Counter(int(call.path.split("/")[2]) for call in dc.calls if call.path.endswith("/callback"))


async def test_two_processes_on_one_database_each_answer_the_servers_on_their_own_shard(
    dc: FakeDiscordServer,
    engine: Engine,
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A big community's deployment: two processes, shard 0 of 2 and shard 1 of 2, each with its own engine
    on the same database file. Every command and click reaches only the process holding its server's
    shard, is answered once and recorded once."""
    dc.guild(ROASTERY, "Roastery", channels=[(ROASTERY_CHANNEL, "general")])
    dc.member(ROASTERY, CAROL)
    assert (shard_for(ROASTERY, 2), shard_for(GUILD, 2)) == (0, 1)
    async with (
        running_engine(settings, clock) as other_engine,  # the second process's engine, the same database
        discord_deployment(engine, settings, dc, guild_ids=(), shard_count=2, shard_ids=[0]) as first,
        discord_deployment(other_engine, settings, dc, guild_ids=(), shard_count=2, shard_ids=[1]) as second,
    ):
        served = {0: engine_calls(engine, monkeypatch), 1: engine_calls(other_engine, monkeypatch)}
        await first.start()
        await second.start()
        assert dc.shards() == [(0, 2), (1, 2)]
        assert command_uploads(dc) == ["global"]  # the second process found them synced, in the database

        steps = ((CAROL, ROASTERY, ROASTERY_CHANNEL, "Tea", "Which tea"), (ALICE, GUILD, CHANNEL, "Latte", "extras"))
        for member, server, channel, drink, then in steps:
            task = await dc.slash(member, server, channel, "task")
            question = await shown(dc, task, "What do you order")
            tapped = await dc.click(member, question, custom_id(question, drink))
            await next_question(dc, tapped, then)
            assert task.shards == tapped.shards == [(shard_for(server, 2), 2)]  # one process got each
        direct = await dc.slash(ALICE, None, None, "points")
        assert (await shown(dc, direct, "points"))["flags"] & EPHEMERAL
        assert direct.shards == [(0, 2)]  # direct messages go to shard 0

    dm_channel = str(direct.payload["channel_id"])
    assert set(served[0]) == {(str(ROASTERY), str(CAROL)), (dm_channel, str(ALICE))}
    assert set(served[1]) == {(str(GUILD), str(ALICE))}
    assert callbacks_per_interaction(dc) == Counter({handle.id: 1 for handle in dc.interactions})
    assert await answers_of(engine, CAROL) == {"drink": "2"}  # both processes wrote to the one database
    assert await answers_of(engine, ALICE) == {"drink": "1"}
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 2  # one row per click, none twice
    assert_discord_contract(dc)


async def outbox_row(engine: Engine, target: str, until: Callable[[Any], bool]) -> Any:
    """The outbox row for ``target`` (attempts, last_error, sent_at) once ``until`` holds for it."""
    for _ in range(500):
        row = await engine.services.store.fetchone(
            "SELECT attempts, last_error, sent_at FROM outbox WHERE target = ?", (target,)
        )
        if row is not None and until(row):
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"the outbox row for {target} never got there: {row and tuple(row)}")


async def test_an_announcement_for_a_server_on_another_processs_shard_is_left_to_that_process(
    dc: FakeDiscordServer, engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    """The outbox is shared by the processes; only the one holding a server's shard has the server (its
    channels, the bot's permissions) to post there. Another one that claims the announcement hands it back
    instead of giving it up, and the process holding the shard posts it, once."""
    dc.guild(ROASTERY, "Roastery", channels=[(ROASTERY_CHANNEL, "general")])
    target = f"space:{GUILD}"  # the café, on shard 1
    announcement = reply_payload(Reply("Coffee tasting on Friday"))
    async with (
        running_engine(settings, clock) as other_engine,
        discord_deployment(engine, settings, dc, guild_ids=(), shard_count=2, shard_ids=[0]) as first,
        discord_deployment(other_engine, settings, dc, guild_ids=(), shard_count=2, shard_ids=[1]) as second,
    ):
        await first.start()
        await engine.services.store.write(
            lambda db: enqueue(db, platform="discord", target=target, payload=announcement, now=clock())
        )
        handed_back = await outbox_row(engine, target, lambda row: row[0] >= 1 and row[1])
        assert handed_back[2] is None, "handed back, not given up"
        assert "shard 1" in handed_back[1]
        assert dc.channel_messages(CHANNEL) == []

        await first.stop()  # with both running either may claim it next: this way the test knows who does
        await second.start()
        clock.advance(seconds=ELSEWHERE_SECONDS)  # when it is due again
        await outbox_row(engine, target, lambda row: row[2] is not None)
    posted = [message for message in dc.channel_messages(CHANNEL) if "Coffee tasting" in message["content"]]
    assert len(posted) == 1
    assert (await outbox_row(engine, target, lambda row: True))[1] == ""  # sent, no error left
    assert dc.channel_messages(ROASTERY_CHANNEL) == []


async def test_one_process_can_run_every_shard(
    dc: FakeDiscordServer, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shard_count`` without ``shard_ids``: one process launches both shards and serves both servers."""
    monkeypatch.setattr(adapters.discord.client, "IDENTIFY_INTERVAL", 0.0)  # Discord's 5 s between shards
    dc.guild(ROASTERY, "Roastery", channels=[(ROASTERY_CHANNEL, "general")])
    dc.member(ROASTERY, CAROL)
    async with discord_deployment(engine, settings, dc, guild_ids=(), shard_count=2) as bot:
        await bot.start()
        assert dc.shards() == [(0, 2), (1, 2)]
        for member, server, channel in ((CAROL, ROASTERY, ROASTERY_CHANNEL), (ALICE, GUILD, CHANNEL)):
            task = await dc.slash(member, server, channel, "task")
            await shown(dc, task, "What do you order")
            assert task.shards == [(shard_for(server, 2), 2)]
    assert_discord_contract(dc)


async def test_a_process_stopped_while_its_shards_still_launch_exits(
    dc: FakeDiscordServer, engine: Engine, settings: Settings
) -> None:
    """discord.py launches a process's shards 5 s apart; a stop in between must still end the process."""
    async with discord_deployment(engine, settings, dc, shard_count=2) as bot:
        stop = asyncio.Event()
        task = asyncio.create_task(run_discord(engine, bot.settings, stop, guild_ready_timeout=0.05))
        await dc.wait_for(lambda: dc.identify_count == 1 or task.done())  # shard 0 is up, shard 1 waits its turn
        stop.set()
        await asyncio.wait_for(task, 30)  # used to retry launching shard 1 forever
    assert dc.identify_count == 1  # shard 1 was never launched
