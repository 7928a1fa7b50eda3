"""The Discord adapter as moderators use it: running a round and posting results with a chart, commands
hidden from members, and an idea form that fifty members vote on, told by direct message.
"""

from __future__ import annotations

import asyncio

from bot.engine import Engine
from tests.adapters.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    DAN,
    GUILD,
    MANAGE_SERVER,
    MARA,
    DiscordDeployment,
    assert_discord_contract,
    click,
    custom_id,
    next_question,
    shown,
)
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer

VOTERS = range(960_000_000_000_000_001, 960_000_000_000_000_051)


async def test_moderators_run_a_round_and_results_with_a_chart_reach_the_channel(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    refused = await dc.slash(CAROL, GUILD, CHANNEL, "round", subcommand="close")
    refusal = (await refused.response())["data"]
    assert refusal["flags"] & EPHEMERAL
    assert "Only moderators" in refusal["content"]
    listed = await shown(dc, await dc.slash(DAN, GUILD, CHANNEL, "round", subcommand="list"), "round")
    assert "Only moderators" not in listed["content"]  # the moderator role is enough

    typed = await dc.autocomplete(
        MARA, GUILD, CHANNEL, "round", focused="subject", options={"subject": "cof"}, subcommand="open"
    )
    assert [choice["value"] for choice in (await typed.response())["data"]["choices"]] == ["coffee"]
    opened = await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": "coffee"}, subcommand="open")
    assert "is open" in (await shown(dc, opened, "is open"))["content"]
    announcement = await dc.wait_for(
        lambda: next((m for m in dc.channel_messages(CHANNEL) if "New round" in m["content"]), None)
    )
    start = await dc.click(ALICE, announcement, custom_id(announcement, "Start"))
    question = await next_question(dc, start, "What do you order")
    await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Latte")), "Pick up to two")

    closed = await dc.slash(MARA, GUILD, CHANNEL, "round", {"round": 1}, subcommand="close")
    assert "is closed" in (await shown(dc, closed, "is closed"))["content"]
    results = await dc.wait_for(
        lambda: next((m for m in dc.channel_messages(CHANNEL) if "Results" in m["content"]), None)
    )
    assert "The round is closed" in results["content"]
    assert "Latte" in results["content"]
    chart = dc.attachment_bytes(results)
    assert list(chart) == ["round-1.png"]
    assert chart["round-1.png"].startswith(b"\x89PNG")
    assert results["embeds"][0]["image"]["url"] == "attachment://round-1.png"

    exported = await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "export", {"round": 1, "format": "json"}), "")
    assert exported["flags"] & EPHEMERAL  # the answers file goes to the moderator alone
    assert b'"task_id": "drink"' in dc.attachment_bytes(exported)["round-1.json"]
    await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "ban", {"member": ALICE}), "can no longer answer")
    paused = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "paused your participation")
    assert paused["flags"] & EPHEMERAL  # a refusal is for the member's eyes only
    assert_discord_contract(dc)


async def test_moderator_commands_are_hidden_from_members_by_default(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    commands = {command["name"]: command for command in dc.commands(GUILD)}
    for name in ("round", "results", "export", "ban", "audit", "status"):
        assert str(commands[name]["default_member_permissions"]) == str(MANAGE_SERVER)
    assert commands["task"]["default_member_permissions"] is None
    synced = next(c.json for c in reversed(dc.calls) if c.method == "PUT" and c.path.endswith(f"{GUILD}/commands"))
    task = next(command for command in synced if command["name"] == "task")
    romanian = task["description_localizations"]["ro"]  # from bot/locales/ro, through the translator
    assert romanian == "Răspunde la următoarea întrebare"
    ideas_order = commands["ideas"]["options"][0]
    assert [choice["value"] for choice in ideas_order["choices"]] == ["top", "new", "trending", "best"]


async def test_idea_form_offers_similar_ideas_and_fifty_members_vote(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    await (await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": "winter-menu"}, subcommand="open")).response()
    opener = await dc.slash(ALICE, GUILD, CHANNEL, "idea")
    form = (await opener.response())["data"]
    category = form["components"][1]["component"]
    assert [option["value"] for option in category["options"]] == ["drinks", "food", "space", "service"]
    submitted = await dc.submit_modal(
        ALICE,
        GUILD,
        CHANNEL,
        form["custom_id"],
        {"text": "Pumpkin spice latte with oat milk", "category": ["drinks"]},
    )
    page = await shown(dc, submitted, "Your idea is saved as **\\#1**")
    assert not page["flags"] & EPHEMERAL  # everyone can upvote it from the channel

    second = await dc.slash(BOB, GUILD, CHANNEL, "idea")
    form = (await second.response())["data"]
    similar = await dc.submit_modal(
        BOB, GUILD, CHANNEL, form["custom_id"], {"text": "Bring back the pumpkin spice latte please"}
    )
    prompt = await shown(dc, similar, "Similar ideas already exist")
    assert prompt["flags"] & EPHEMERAL
    await click(dc, BOB, prompt, "👍 #1")

    for voter in VOTERS:
        dc.member(GUILD, voter, f"voter{voter % 100}")
    clicks = await asyncio.gather(*(dc.click(voter, page, custom_id(page, "Upvote")) for voter in VOTERS))
    answers = await asyncio.gather(*(handle.response() for handle in clicks))
    assert all(answer["data"]["flags"] & EPHEMERAL for answer in answers)
    again = await click(dc, VOTERS[0], page, "Upvote")
    assert "already upvoted" in again["data"]["content"]

    newest = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "ideas", {"order": "new"}), "Newest ideas")
    assert "Pumpkin spice latte" in newest["content"]
    idea = await engine.services.store.fetchone("SELECT category, votes FROM ideas WHERE id = 1")
    assert tuple(idea) == ("drinks", 51)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas", (), 0) == 1  # Bob upvoted instead

    accepted = await dc.slash(
        MARA, GUILD, CHANNEL, "status", {"idea": 1, "status": "accepted", "note": "On the menu from December"}
    )
    await shown(dc, accepted, "is now **accepted**")
    # the author hears it privately, through the outbox
    told = await dc.wait_for(lambda: dc.dm_messages(ALICE))
    assert "Your idea" in told[0]["content"]
    assert "On the menu from December" in told[0]["content"]
    await dc.wait_for(lambda: all(dc.dm_messages(voter) for voter in VOTERS))
    assert "50007" in await given_up(engine, f"user:{BOB}")  # closed DMs: given up, not retried forever
    assert_discord_contract(dc, expected_errors=(50007,))


async def given_up(engine: Engine, target: str) -> str:
    """The error an outbox row for ``target`` was given up with, once the drainer got to it."""
    for _ in range(250):
        error = await engine.services.store.fetchval(
            "SELECT last_error FROM outbox WHERE target = ? AND sent_at IS NOT NULL", (target,)
        )
        if error:
            return str(error)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the outbox never gave up on {target}")


async def test_theme_commands_are_moderators_own_and_answer_privately(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    commands = {command["name"]: command for command in dc.commands(GUILD)}
    assert str(commands["theme"]["default_member_permissions"]) == str(MANAGE_SERVER)
    assert {option["name"] for option in commands["theme"]["options"]} == {"rename", "merge", "split", "promote"}
    refused = await dc.slash(CAROL, GUILD, CHANNEL, "theme", {"theme": "5", "name": "Mine"}, subcommand="rename")
    assert "Only moderators" in (await refused.response())["data"]["content"]
    await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": "coffee"}, subcommand="open"), "is open")
    listed = await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "themes", {"round": 1}), "Themes of round")
    assert listed["flags"] & EPHEMERAL and "No themes yet" in listed["content"]
    forged = await dc.slash(MARA, GUILD, CHANNEL, "theme", {"theme": "424242", "others": "7 x"}, subcommand="merge")
    assert "Usage" in (await shown(dc, forged, "Usage"))["content"]
    unknown = await dc.slash(MARA, GUILD, CHANNEL, "theme", {"theme": "424242"}, subcommand="promote")
    assert "424242" in (await shown(dc, unknown, "no theme"))["content"]
    idea = await dc.slash(MARA, GUILD, CHANNEL, "theme", {"theme": "i424242", "name": "Mine"}, subcommand="rename")
    assert "#i424242" in (await shown(dc, idea, "no theme"))["content"]  # an ideas theme's id, typed as text
    typo = await dc.slash(MARA, GUILD, CHANNEL, "theme", {"theme": "x1"}, subcommand="promote")
    assert "Usage" in (await shown(dc, typo, "Usage"))["content"]
