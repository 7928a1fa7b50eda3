"""The Discord adapter as members meet it: a whole campaign answered with buttons, a select and a form,
a double click counted once, and buttons or forms CrowdPulse did not sign answered privately.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.engine import Engine
from tests.adapters.harness import (
    ALICE,
    CAROL,
    CHANNEL,
    GUILD,
    JSON,
    DiscordDeployment,
    answers_of,
    assert_discord_contract,
    count,
    custom_id,
    next_question,
    select_id,
    shown,
)
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer


async def test_member_answers_a_whole_campaign_with_buttons_a_select_and_a_form(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    running.settings.chat.follow_up = "keep"  # each answered question stays, with what Alice chose below it
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
