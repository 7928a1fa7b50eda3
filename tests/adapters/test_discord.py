"""The Discord adapter end to end: the real discord.py client against the fake Discord, the real engine
on a temporary SQLite file. Members run slash commands, click buttons, pick in selects and fill in forms;
the tests check what they see and what the database holds.

Every test ends with :func:`assert_discord_contract`: each interaction acknowledged within Discord's three
seconds, no message over 2000 characters, and no message able to ping anyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import adapters.discord.client
from adapters.discord import ELSEWHERE_SECONDS, markdown_chunks, render, run_discord
from bot.app import running_engine
from bot.engine import Context, Engine
from bot.features.rewards import add_reward, import_codes
from bot.identity import SpaceRef, UserRef
from bot.outbox import reply_payload
from bot.replies import Button, Reply, Select, SelectOption
from bot.settings import Settings
from bot.store.base import StoreUnavailableError
from bot.store.outbox_sql import enqueue
from bot.store.rewards_sql import RewardQueries
from bot.texts import _messages
from tests.adapters.harness import (
    ALICE,
    APP_ID,
    BOB,
    CAROL,
    CHANNEL,
    DAN,
    GUILD,
    JSON,
    MANAGE_SERVER,
    MARA,
    DiscordDeployment,
    answers_of,
    assert_discord_contract,
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

VOTERS = range(960_000_000_000_000_001, 960_000_000_000_000_051)
ANNEX = 940_000_000_000_000_011  # a second server, "Corner Café Annex"
ANNEX_CHANNEL = 940_000_000_000_000_012
ROASTERY = GUILD + (1 << 22)  # "Roastery", a server created a moment later: the café is on shard 1 of 2, it on 0
ROASTERY_CHANNEL = ROASTERY + 1


@pytest.fixture
async def running(discord_bot: DiscordDeployment) -> DiscordDeployment:
    await discord_bot.start()
    return discord_bot


# what a member sees ----------------------------------------------------------------------------


def select_id(message: JSON) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"] if c["type"] == 3)


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


# stories ---------------------------------------------------------------------------------------


async def test_member_answers_a_whole_campaign_with_buttons_a_select_and_a_form(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    task = await dc.slash(ALICE, GUILD, CHANNEL, "task")
    question = await shown(dc, task, "What do you order most often?")
    assert not question["flags"] & EPHEMERAL  # /task posts the question where it was asked

    tea = await dc.click(ALICE, question, custom_id(question, "Tea"))
    assert (await tea.response())["data"]["flags"] & EPHEMERAL  # the shared question stays as it was
    question = await next_question(dc, tea, "Which tea")

    green = await dc.click(ALICE, question, custom_id(question, "Green"))
    assert (await green.response())["type"] == 7  # a question only Alice sees turns into her answer
    assert "Recorded: **Green**" in question["content"]
    assert question["components"] == []
    question = await next_question(dc, green, "Pick up to two extras")

    extras = question
    labels = [item.get("label", "") for row in extras["components"] for item in row["components"]]
    assert not any("☐" in label or "Submit" in label for label in labels), "the select replaces the toggles"
    picked = await dc.select(ALICE, extras, select_id(extras), ["0", "1"])
    question = await next_question(dc, picked, "work from the café")
    assert "Recorded: **Oat milk, Extra shot**" in extras["content"]
    for label, prompt in (("Yes", "rate the service"), ("4★", "recommend"), ("9", "What is this pastry")):
        step = await dc.click(ALICE, question, custom_id(question, label, exact=True))
        question = await next_question(dc, step, prompt)
    assert question["embeds"][0]["image"]["url"] == "attachment://pastry.png"
    assert dc.attachment_bytes(question)["pastry.png"].startswith(b"\x89PNG")

    croissant = await dc.click(ALICE, question, custom_id(question, "Croissant"))
    question = await next_question(dc, croissant, "change one thing")
    opener = await dc.click(ALICE, question, custom_id(question, "✍️"))
    form = (await opener.response())["data"]
    assert form["title"] == "Your answer"
    assert form["components"][0]["type"] == 18  # a label around the text input
    assert form["components"][0]["component"]["max_length"] == 280
    assert form["components"][0]["component"]["placeholder"] == "Up to 280 characters"
    typed = await dc.submit_modal(ALICE, GUILD, CHANNEL, form["custom_id"], {"text": "More seats by the window"})
    await shown(dc, typed, "all caught up")

    answers = await answers_of(engine, ALICE)
    campaign = engine.services.catalog.campaign("coffee")
    assert campaign is not None
    assert sorted(answers) == sorted(task.id for task in campaign.tasks if task.id != "ro-hours")  # en member
    assert answers["extras"] == "[0, 1]"
    assert answers["one-change"] == '"More seats by the window"'
    assert_discord_contract(dc)


async def test_double_click_counts_once(dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine) -> None:
    question = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "task"), "What do you order")
    first = await dc.click(CAROL, question, custom_id(question, "Espresso"))
    second = await dc.click(CAROL, question, custom_id(question, "Espresso"))
    assert (await shown(dc, first, "Recorded: **Espresso**"))["flags"] & EPHEMERAL
    already = await shown(dc, second, "already answered")
    assert already["flags"] & EPHEMERAL
    assert await answers_of(engine, CAROL) == {"drink": "0"}
    assert_discord_contract(dc)


RETIRED = "This button is from an older message; use /task for a fresh one."


def bad_signature(token: str) -> str:
    """``token`` with another signature: the right shape, but not one the engine signed."""
    return token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)


TAMPERED: dict[str, Callable[[str], str]] = {
    "forged": lambda genuine: "give-me-all-the-points",
    "right shape, bad signature": bad_signature,
    "retired": lambda genuine: "poll:1:3",  # the custom_id of a kind of component no release makes now
    "answer button, bad signature": lambda genuine: f"answer:280:{bad_signature(genuine)}",
}


def tamper(dc: FakeDiscordServer, message: JSON, genuine: str, forged: str) -> None:
    """What a tampering client (or an old message) sends: the stored button carries ``forged``."""
    for row in dc.message(int(message["id"]))["components"]:
        for component in row["components"]:
            if component.get("custom_id") == genuine:
                component["custom_id"] = forged


@pytest.mark.parametrize("forge", TAMPERED.values(), ids=list(TAMPERED))
async def test_a_button_crowdpulse_does_not_claim_is_answered_privately_and_records_nothing(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine, forge: Callable[[str], str]
) -> None:
    question = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "task"), "What do you order")
    genuine = custom_id(question, "Latte")
    forged = forge(genuine)
    tamper(dc, question, genuine, forged)

    refused = await (await dc.click(CAROL, question, forged)).response()
    assert refused["type"] == 4  # a message of its own: the question stays as it was
    assert refused["data"]["flags"] & EPHEMERAL
    assert refused["data"]["content"] == RETIRED
    assert await answers_of(engine, CAROL) == {}
    assert_discord_contract(dc)


@pytest.mark.parametrize(
    "forged", ["give-me-all-the-points", "x.1.2.AAAAAAAA", "feedback-form"], ids=["forged", "bad signature", "retired"]
)
async def test_a_form_crowdpulse_does_not_claim_is_answered_privately_and_records_nothing(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine, forged: str
) -> None:
    opener = await dc.slash(ALICE, GUILD, CHANNEL, "idea")
    form = (await opener.response())["data"]
    form["custom_id"] = forged  # the form a tampering client submits

    refused = await (await dc.submit_modal(ALICE, GUILD, CHANNEL, forged, {"text": "Free croissants"})).response()
    assert refused["data"]["flags"] & EPHEMERAL
    assert refused["data"]["content"] == RETIRED
    assert await count(engine, "SELECT COUNT(*) FROM ideas") == 0
    assert_discord_contract(dc)


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
    synced = next(c.json for c in reversed(dc.calls) if c.method == "PUT" and c.path.endswith("/commands"))
    task = next(command for command in synced if command["name"] == "task")
    romanian = task["description_localizations"]["ro"]  # from bot/locales/ro, through the translator
    assert romanian == "Răspunde la următoarea întrebare"
    ideas_order = commands["ideas"]["options"][0]
    assert [choice["value"] for choice in ideas_order["choices"]] == ["top", "new", "trending"]


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


async def test_slash_options_reach_the_use_cases_typed(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    """Each option arrives as what it is (a number, a member, a choice), never as text parsed again: an
    idea that reads like a command stays an idea, a number shows an idea, a bad duration is refused."""

    async def says(user: int, name: str, options: dict[str, Any], *words: str, subcommand: str | None = None) -> JSON:
        return await shown(dc, await dc.slash(user, GUILD, CHANNEL, name, options, subcommand=subcommand), *words)

    await says(MARA, "round", {"subject": "winter-menu", "duration": "2x"}, "isn't a duration", subcommand="open")
    await says(MARA, "round", {"subject": "winter-menu", "duration": "2d"}, "is open until", subcommand="open")
    typed = await dc.autocomplete(ALICE, GUILD, CHANNEL, "idea", focused="category", options={"category": "DRI"})
    assert [choice["value"] for choice in (await typed.response())["data"]["choices"]] == ["drinks"]
    await says(ALICE, "idea", {"text": "+5 #food Pumpkin spice latte", "category": "drinks"}, "saved as")
    await says(CAROL, "idea", {"text": "Cinnamon rolls on Sundays", "builds_on": 1}, "saved as")
    ideas = await engine.services.store.fetchall("SELECT id, text, category, parent_id FROM ideas ORDER BY id", ())
    assert [tuple(row) for row in ideas] == [
        (1, "+5 #food Pumpkin spice latte", "drinks", None),
        (2, "Cinnamon rolls on Sundays", None, 1),
    ]
    shown_idea = await says(BOB, "idea", {"show": 2}, "Cinnamon rolls")
    assert "Builds on" in shown_idea["content"]

    await says(MARA, "status", {"idea": 2, "status": "merged"}, "to merge a duplicate")  # merging names a target
    await says(MARA, "status", {"idea": 2, "status": "merged", "merged_into": 1}, "is merged into")
    await says(DAN, "approve", {"idea": 1}, "isn't waiting for approval")
    await says(MARA, "hide", {"idea": 1}, "is hidden")
    await says(CAROL, "launched", {"page": 3}, "No idea has been launched yet")
    await says(CAROL, "start", {}, "What do you order")  # the welcome bonus puts her on this week's board
    await says(CAROL, "top", {"board": "week"}, "This week")
    await says(CAROL, "top", {"board": "global", "round": 9}, "There is no round")  # a number picks a round's board
    assert_discord_contract(dc)


async def test_reward_codes_are_shown_only_to_the_member_who_redeems(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine, tmp_path: Path
) -> None:
    queries = RewardQueries(engine.services.store)
    await add_reward(queries, "mug", "Café mug", 10, None)
    codes = tmp_path / "codes.csv"
    codes.write_text("reward_id,code\nmug,MUG-7Q2X\nmug,MUG-9K4P\n", encoding="utf-8")
    await import_codes(queries, codes)
    for member in (ALICE, BOB):
        await (await dc.slash(member, GUILD, CHANNEL, "start")).response()  # the welcome bonus pays for it

    typed = await dc.autocomplete(ALICE, GUILD, CHANNEL, "redeem", focused="reward", options={"reward": "mu"})
    assert [choice["value"] for choice in (await typed.response())["data"]["choices"]] == ["mug"]
    redeemed = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "redeem", {"reward": "mug"}), "Your code")
    assert redeemed["flags"] & EPHEMERAL

    catalog = await shown(dc, await dc.slash(BOB, GUILD, CHANNEL, "rewards"), "Rewards")
    assert not catalog["flags"] & EPHEMERAL
    confirm = await dc.click(BOB, catalog, custom_id(catalog, "Café mug"))
    question = await shown(dc, confirm, "Spend **10**")
    assert question["flags"] & EPHEMERAL
    await click(dc, BOB, question, "Redeem")
    assert "Your code" in question["content"]  # the confirmation became Bob's code, for his eyes only
    assert question["components"] == []

    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM redemptions", (), 0) == 2
    public = " ".join(m["content"] for m in dc.channel_messages(CHANNEL))
    assert "MUG" not in public
    assert_discord_contract(dc)


async def test_autocomplete_that_cannot_read_its_choices_still_answers(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable() -> list[tuple[str, str]]:
        raise StoreUnavailableError("the database is away")

    monkeypatch.setattr(engine, "reward_choices", unavailable)
    typed = await dc.autocomplete(ALICE, GUILD, CHANNEL, "redeem", focused="reward", options={"reward": "mu"})
    assert (await typed.response())["data"]["choices"] == []  # no choices, rather than no answer


async def test_button_from_before_a_restart_still_works(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine
) -> None:
    await discord_bot.start()
    question = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "What do you order")
    await discord_bot.stop()
    await discord_bot.start()
    assert dc.identify_count == 2

    latte = await dc.click(ALICE, question, custom_id(question, "Latte"))
    await shown(dc, latte, "Recorded: **Latte**")
    assert await answers_of(engine, ALICE) == {"drink": "1"}
    assert_discord_contract(dc)


async def test_answer_form_from_before_a_restart_keeps_its_title_and_placeholder(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine
) -> None:
    await discord_bot.start()
    question = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "What do you order")
    question = await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Espresso")), "extras")
    question = await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Skip")), "weekdays")
    other = await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Other")), "few words")
    await discord_bot.stop()
    await discord_bot.start()
    assert dc.identify_count == 2

    opener = await dc.click(ALICE, other, custom_id(other, "✍️"))
    form = (await opener.response())["data"]
    text_input = form["components"][0]["component"]
    assert form["title"] == "Other…"  # as the question named it, not rebuilt from a cut button label
    assert text_input["placeholder"] == "Up to 280 characters"
    assert text_input["max_length"] == 280
    typed = await dc.submit_modal(ALICE, GUILD, CHANNEL, form["custom_id"], {"text": "Only on Fridays"})
    await shown(dc, typed, "rate the service")
    assert (await answers_of(engine, ALICE))["wifi"] == '{"other": "Only on Fridays"}'
    assert_discord_contract(dc)


async def test_commands_are_synced_on_the_first_start_and_not_again_while_unchanged(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord")
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD)]
    assert f"synced {len(dc.commands(GUILD))} commands to guild:{GUILD}" in caplog.text

    await discord_bot.stop()
    await discord_bot.start()  # the same commands, the same database
    assert dc.identify_count == 2
    assert command_uploads(dc) == [str(GUILD)]
    assert f"commands for guild:{GUILD} unchanged, not synced" in caplog.text
    await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "What do you order")  # still there to run
    assert_discord_contract(dc)


async def test_a_corrected_translation_or_another_server_syncs_again_where_the_commands_changed(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc.guild(ANNEX, "Corner Café Annex", channels=[(ANNEX_CHANNEL, "general")])
    await discord_bot.start()
    await discord_bot.stop()
    corrected = "Răspunde la întrebarea următoare"
    monkeypatch.setitem(_messages("ro"), "command.task", corrected)  # a release corrects the Romanian
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD), str(GUILD)]
    uploaded = next(c.json for c in reversed(dc.calls) if c.method == "PUT" and c.path.endswith("/commands"))
    task = next(command for command in uploaded if command["name"] == "task")
    assert task["description_localizations"]["ro"] == corrected

    await discord_bot.stop()
    discord_bot.settings.discord.guild_ids = [GUILD, ANNEX]  # the operator adds the annex
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD), str(GUILD), str(ANNEX)]  # the café's commands are as they were
    await discord_bot.stop()
    discord_bot.settings.discord.guild_ids = []  # and then goes global
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD), str(GUILD), str(ANNEX), "global"]


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


# several processes, one database -----------------------------------------------------------------


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
