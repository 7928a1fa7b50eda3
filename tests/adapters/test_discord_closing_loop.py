"""Closing the loop through the fake Discord server: a moderator closes a round and each member who
answered gets its summary by direct message, once; none for a member who chose /quiet, and a member whose
direct messages are closed costs one refused attempt, not a retry forever."""

from __future__ import annotations

import asyncio

from adapters.discord.delivery import RETRY_SECONDS
from bot.engine import Engine
from tests.adapters.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    GUILD,
    MARA,
    DiscordDeployment,
    assert_discord_contract,
    count,
    custom_id,
    shown,
)
from tests.conftest import FakeClock
from tests.fakes.discord.rest import DROP
from tests.fakes.discord.server import FakeDiscordServer

CANNOT_MESSAGE_USER = 50007


def summaries(dc: FakeDiscordServer, member: int) -> list[str]:
    return [message["content"] for message in dc.dm_messages(member) if "is closed" in message["content"]]


async def test_closing_a_round_sends_each_respondent_one_summary_by_direct_message(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    opened = await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": "coffee"}, subcommand="open")
    await shown(dc, opened, "is open")
    for member in (ALICE, BOB, CAROL):
        question = await shown(dc, await dc.slash(member, GUILD, CHANNEL, "task"), "What do you order most often?")
        await (await dc.click(member, question, custom_id(question, "Latte"))).response()
    await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "quiet"), "won't get")
    assert await count(engine, "SELECT COUNT(DISTINCT user_id) FROM answers") == 3

    closed = await dc.slash(MARA, GUILD, CHANNEL, "round", {"round": 1}, subcommand="close")
    await shown(dc, closed, "is closed")
    await dc.wait_for(
        lambda: (summaries(dc, ALICE) and any(error.code == CANNOT_MESSAGE_USER for error in dc.errors)) or None,
        timeout=15,
    )
    await dc.wait_for(lambda: any("Results" in m["content"] for m in dc.channel_messages(CHANNEL)), timeout=15)
    await running.stop()  # a stop lets the drainer settle what it claimed: each row marked, none left

    (summary,) = summaries(dc, ALICE)
    assert "What do you order most often? → **Latte**" in summary and "100%" in summary and "/quiet" in summary
    assert summaries(dc, CAROL) == [] and summaries(dc, MARA) == []
    assert [error.code for error in dc.errors].count(CANNOT_MESSAGE_USER) == 1, "Bob's closed DMs: tried once"
    assert await count(engine, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
    assert_discord_contract(dc, expected_errors=(CANNOT_MESSAGE_USER,))


async def retry_scheduled(engine: Engine) -> None:
    """Waits until the drainer put a failed row back for later (it does so after the failure arrives)."""
    for _ in range(1000):
        if await count(engine, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND last_error <> ''"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no outbox row was put back for later")


async def test_a_summary_discord_took_but_whose_answer_was_lost_is_not_posted_twice(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine, clock: FakeClock
) -> None:
    """Discord creates the direct message, then the connection drops before its answer: the window a kill
    between the send and its mark opens too. The outbox tries the row again later with the same nonce
    (derived from the row, not from the attempt), and Discord hands back the first message."""
    opened = await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": "coffee"}, subcommand="open")
    await shown(dc, opened, "is open")
    question = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "What do you order most often?")
    await (await dc.click(ALICE, question, custom_id(question, "Latte"))).response()
    dm_channel = dc.dm_channel(ALICE)["id"]
    dm_posts = f"/channels/{dm_channel}/messages"
    dc.fail_next("POST", dm_posts, status=DROP, after_handling=True)
    await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "round", {"round": 1}, subcommand="close"), "is closed")
    await dc.wait_for(lambda: any(error.status == DROP for error in dc.errors) or None, timeout=15)
    assert len(summaries(dc, ALICE)) == 1, "Discord took it"
    await retry_scheduled(engine)
    clock.advance(seconds=RETRY_SECONDS + 1)  # the row is due again
    await dc.wait_for(lambda: sum(c.method == "POST" and c.path == dm_posts for c in dc.calls) == 2 or None, 15)
    await dc.wait_for(lambda: any("Results" in m["content"] for m in dc.channel_messages(CHANNEL)), timeout=15)
    await running.stop()

    posts = [call.json for call in dc.calls if call.method == "POST" and call.path == dm_posts]
    assert posts[0]["nonce"] == posts[1]["nonce"] and posts[0]["enforce_nonce"], "tried again with the same nonce"
    assert len(summaries(dc, ALICE)) == 1
    assert await count(engine, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
