"""Labelling jobs on Discord: discord.py, unmodified, against the fake Discord.

A moderator opens a job with ``/round open``; members click the announcement's Start and label in
messages only they see: each photo an attachment shown in an embed, the options as buttons, and a
transcription typed in the form the ✍️ button opens.
"""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.features.labelling.aggregation import normalise_text
from bot.settings import Settings
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
    assert_discord_contract,
    custom_id,
    next_question,
    shown,
)
from tests.adapters.labelling.jobs import (
    GOLD,
    PASTRY_OF,
    PHOTO_BUTTONS,
    PHOTO_PROMPT,
    RECEIPT_LINES,
    RECEIPTS_PROMPT,
    labels,
    pastry_in,
    settled,
)
from tests.fakes.discord.interactions import InteractionHandle
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer


@pytest.fixture(autouse=True)
def answered_questions_stay(settings: Settings) -> None:
    """These stories read each answered item's confirmation below it and the next item as a follow-up
    (``follow_up = "keep"``); the ``"edit"`` mode has its own stories (test_discord_follow_up.py)."""
    settings.chat.follow_up = "keep"


async def open_round(dc: FakeDiscordServer, subject: str) -> JSON:
    """Mara runs ``/round open <subject>``; returns the round's announcement in the channel."""
    opened = await dc.slash(MARA, GUILD, CHANNEL, "round", {"subject": subject}, subcommand="open")
    await shown(dc, opened, "is open")
    return await dc.wait_for(
        lambda: next((m for m in dc.channel_messages(CHANNEL) if "New round" in m["content"]), None)
    )


async def follow_up(dc: FakeDiscordServer, handle: InteractionHandle) -> JSON:
    """What follows a click on a question: the next one, or what the member is told when there is none."""
    await handle.response()
    return await dc.wait_for(lambda: next(iter(handle.followups), None))


def button_labels(message: JSON) -> list[str]:
    return [component.get("label", "") for row in message["components"] for component in row["components"]]


def photo_of(dc: FakeDiscordServer, question: JSON) -> bytes:
    """The photo a question shows: the attachment its embed points at, under a name that tells nothing."""
    assert question["embeds"][0]["image"]["url"] == "attachment://photo.png", question["embeds"]
    return dc.attachment_bytes(question)["photo.png"]


async def test_members_label_the_starter_photos_until_every_item_settles(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    announcement = await open_round(dc, "pastries")
    clicked = 0
    for member in (ALICE, BOB, CAROL, DAN, MARA):
        question = await next_question(dc, await dc.click(member, announcement, custom_id(announcement, "Start")), "")
        while PHOTO_PROMPT in question["content"]:
            assert question["flags"] & EPHEMERAL and button_labels(question) == PHOTO_BUTTONS, question
            pick = await dc.click(member, question, custom_id(question, pastry_in(photo_of(dc, question))))
            assert (await pick.response())["type"] == 7, "the answered photo turns into the member's answer"
            question = await follow_up(dc, pick)
            clicked += 1
        assert "all caught up" in question["content"]

    agreed = await settled(engine, "pastries", "pastry-photos")
    assert set(agreed) == set(PASTRY_OF) - GOLD, "every item but the gold settled"
    assert all(answer == PASTRY_OF[key] and 2 <= taken <= 5 for key, (answer, taken) in agreed.items()), agreed
    assert await labels(engine, "pastry-photos") == clicked
    assert_discord_contract(dc)


async def test_a_double_click_counts_once_cant_tell_passes_and_enough_for_now_leaves_the_job(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    announcement = await open_round(dc, "pastries")
    first = await next_question(dc, await dc.click(ALICE, announcement, custom_id(announcement, "Start")), "")
    answer = custom_id(first, pastry_in(photo_of(dc, first)))
    once, twice = await dc.click(ALICE, first, answer), await dc.click(ALICE, first, answer)
    second = await follow_up(dc, once)
    already = await shown(dc, twice, "already answered")
    assert already["flags"] & EPHEMERAL
    assert "Recorded" in dc.message(int(first["id"]))["content"] and photo_of(dc, dc.message(int(first["id"])))

    passed = await dc.click(ALICE, second, custom_id(second, "Can't tell"))
    third = await follow_up(dc, passed)
    assert "Passed: no answer, no points" in dc.message(int(second["id"]))["content"]
    assert PHOTO_PROMPT in third["content"] and photo_of(dc, third)
    enough = await follow_up(dc, await dc.click(ALICE, third, custom_id(third, "Enough for now")))
    assert "all caught up" in enough["content"], "out of the job"

    assert await labels(engine, "pastry-photos") == 2
    assert await labels(engine, "pastry-photos", "value IS NULL") == 1, "Can't tell is kept, as no answer"
    assert await engine.services.store.fetchval("SELECT SUM(answers) FROM label_items") == 1, "and takes no slot"
    assert_discord_contract(dc)


async def test_receipt_lines_typed_in_the_form_are_recorded_and_settle_when_two_agree(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    announcement = await open_round(dc, "receipts")
    for member in (ALICE, CAROL):
        question = await next_question(dc, await dc.click(member, announcement, custom_id(announcement, "Start")), "")
        while RECEIPTS_PROMPT in question["content"]:
            assert button_labels(question) == ["✍️ Your answer", *PHOTO_BUTTONS[3:]], question
            opener = await dc.click(member, question, custom_id(question, "✍️"))
            form = (await opener.response())["data"]
            field = form["components"][0]["component"]  # the engine's form for the item, not the button's guess
            assert form["title"] == "Your answer" and field["placeholder"] == "Up to 80 characters"
            line = next(line for line in RECEIPT_LINES.values() if line in question["content"])
            typed = await dc.submit_modal(member, GUILD, CHANNEL, form["custom_id"], {"text": line})
            question = await follow_up(dc, typed)
        assert "all caught up" in question["content"]
    expected = {key: (normalise_text(line), 2) for key, line in RECEIPT_LINES.items()}
    assert await settled(engine, "receipts", "receipt-lines") == expected
    assert await labels(engine, "receipt-lines") == 4
    assert_discord_contract(dc)
