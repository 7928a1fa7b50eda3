"""How the Discord adapter shapes its replies: slow ones deferred with their privacy kept, long ones split
below Discord's limit, crowded ones spread over messages within component limits, codes verbatim.
"""

from __future__ import annotations

from adapters.discord import markdown_chunks, render
from bot.engine import Engine
from bot.replies import Button, Reply, Select, SelectOption
from tests.adapters.harness import (
    ALICE,
    CHANNEL,
    GUILD,
    DiscordDeployment,
    answers_of,
    assert_discord_contract,
    custom_id,
)
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer


async def test_slow_replies_are_deferred_and_keep_their_privacy(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine
) -> None:
    await discord_bot.start(ack_budget=0.0)  # as if the engine were always slow: every interaction is deferred
    points = await dc.slash(ALICE, GUILD, CHANNEL, "points")
    assert (await points.response())["type"] == 5
    private = await dc.wait_for(lambda: points.original and "points" in points.original["content"] and points.original)
    assert private["flags"] & EPHEMERAL

    task = await dc.slash(ALICE, GUILD, CHANNEL, "task")
    assert (await task.response())["type"] == 5
    question = await dc.wait_for(
        lambda: next((m for m in dc.channel_messages(CHANNEL) if "What do you order" in m["content"]), None)
    )
    assert not question["flags"] & EPHEMERAL  # the private placeholder gave way to a public question

    espresso = await dc.click(ALICE, question, custom_id(question, "Espresso"))
    assert (await espresso.response())["type"] == 6
    follow_up = await dc.wait_for(lambda: espresso.followups)
    assert all(message["flags"] & EPHEMERAL for message in follow_up)
    assert await answers_of(engine, ALICE) == {"drink": "0"}
    assert_discord_contract(dc)


def test_long_replies_are_split_below_discords_limit() -> None:
    markup = "\n".join(f"<b>{n}</b> " + "*" * 120 for n in range(60))  # escaping doubles the stars
    chunks = markdown_chunks(markup)
    assert len(chunks) > 1
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert sum(chunk.count("\\*") for chunk in chunks) == 60 * 120


async def test_crowded_replies_are_spread_over_messages_within_component_limits() -> None:
    crowded = tuple(tuple(Button(f"{row}/{n}", f"a.{row}.{n}.signatur") for n in range(7)) for row in range(7))
    options = tuple(SelectOption(f"option {n}", str(n)) for n in range(30))
    again = ((Button("again", "a.0.0.signatur"), Button("and again", "a.0.0.signatur")),)  # Discord refuses twins
    reply = Reply("Pick", buttons=crowded + again, select=Select("s.1.2.signatur", options, 1, 30))
    messages = await render(reply)
    assert [message.content for message in messages] == ["Pick", None, None]  # 15 rows, 5 a message
    views = [message.view for message in messages if message.view is not None]
    rows = [[item.to_component_dict() for item in view.children] for view in views]
    assert [len(view_rows) for view_rows in rows] == [15, 19, 16]  # rows of 7 became rows of 5 and 2
    select = rows[0][0]
    assert (len(select["options"]), select["max_values"]) == (25, 25)
    for view in views:
        assert max(item.row or 0 for item in view.children) <= 4
        assert all(sum(1 for i in view.children if i.row == row) <= 5 for row in range(5))
    ids = [item["custom_id"] for view_rows in rows for item in view_rows]
    assert len(ids) == len(set(ids)) == 50


def test_a_code_reaches_discord_verbatim() -> None:
    assert markdown_chunks("Your code: <code>MUG-7Q2X</code>") == ["Your code: `MUG-7Q2X`"]
