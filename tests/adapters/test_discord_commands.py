"""The Discord adapter's slash commands: options typed on their way to the use cases, private reward codes,
autocomplete that still answers, buttons and forms from before a restart, and command syncing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine
from bot.features.rewards import add_reward, import_codes
from bot.store.database import StoreUnavailableError
from bot.texts import _messages
from tests.adapters.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    DAN,
    GUILD,
    JSON,
    MARA,
    DiscordDeployment,
    answers_of,
    assert_discord_contract,
    click,
    command_uploads,
    custom_id,
    next_question,
    shown,
)
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer

ANNEX = 940_000_000_000_000_011  # a second server, "Corner Café Annex"
ANNEX_CHANNEL = 940_000_000_000_000_012


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
    queries = engine.services.store.rewards
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
    assert command_uploads(dc) == [str(GUILD), "global"]  # global: /link and /dashboard, for direct messages
    assert f"synced {len(dc.commands(GUILD))} commands to guild:{GUILD}" in caplog.text
    assert [command["name"] for command in dc.commands(None)] == ["link", "dashboard"]
    assert {"link", "dashboard"}.isdisjoint(command["name"] for command in dc.commands(GUILD)), "listed once"

    await discord_bot.stop()
    await discord_bot.start()  # the same commands, the same database
    assert dc.identify_count == 2
    assert command_uploads(dc) == [str(GUILD), "global"]
    assert f"commands for guild:{GUILD} unchanged, not synced" in caplog.text
    assert "commands for global unchanged, not synced" in caplog.text
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
    assert command_uploads(dc) == [str(GUILD), "global", str(GUILD)]  # /link alone had nothing to correct
    uploaded = next(c.json for c in reversed(dc.calls) if c.method == "PUT" and c.path.endswith(f"{GUILD}/commands"))
    task = next(command for command in uploaded if command["name"] == "task")
    assert task["description_localizations"]["ro"] == corrected

    await discord_bot.stop()
    discord_bot.settings.discord.guild_ids = [GUILD, ANNEX]  # the operator adds the annex
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD), "global", str(GUILD), str(ANNEX)]  # the café's are as they were
    await discord_bot.stop()
    discord_bot.settings.discord.guild_ids = []  # and then goes global
    await discord_bot.start()
    assert command_uploads(dc) == [str(GUILD), "global", str(GUILD), str(ANNEX), "global"]
