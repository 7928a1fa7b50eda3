"""What a member's click on a question only they see turns into, in each ``[chat] follow_up`` mode, and
how the next question reaches members clicking in one channel.

"edit" (the default): the question becomes the next one, with the choice and points above it ("✅ Green,
+5"): one request per click, the interaction's response. "keep": the question keeps the choice below
it and the next one follows as a message of its own: two. The requests are counted on the fake Discord.
"""

from __future__ import annotations

import pytest

from adapters.discord import incoming
from tests.adapters.harness import (
    ALICE,
    CAROL,
    CHANNEL,
    GUILD,
    JSON,
    DiscordDeployment,
    custom_id,
    next_question,
    select_id,
    shown,
)
from tests.fakes.discord.server import FakeDiscordServer


async def teas_question(dc: FakeDiscordServer, member: int) -> JSON:
    """The member runs /task and answers Tea on the shared question: "Which tea" comes, only for them."""
    question = await shown(dc, await dc.slash(member, GUILD, CHANNEL, "task"), "What do you order most often?")
    tea = await dc.click(member, question, custom_id(question, "Tea"))
    return await next_question(dc, tea, "Which tea")


def requests_since(dc: FakeDiscordServer, start: int) -> list[str]:
    """The bot's requests about interactions since ``start``: responses and follow-ups."""
    kinds = {"interactions": "response", "webhooks": "follow-up"}
    return [kinds[call.path.split("/")[1]] for call in dc.calls[start:] if call.path.split("/")[1] in kinds]


async def test_in_edit_mode_the_answered_question_becomes_the_next_in_one_request(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    question = await teas_question(dc, ALICE)
    before = len(dc.calls)
    green = await dc.click(ALICE, question, custom_id(question, "Green"))
    response = await green.response()
    assert response["type"] == 7
    turned = await dc.wait_for(lambda: (m := dc.message(int(question["id"])))["content"].startswith("✅") and m)
    assert turned["content"].startswith("✅ Green, +5\n") and "Pick up to two extras" in turned["content"]
    assert turned["components"], "the next question's menu is there to use"
    await dc.wait_for(lambda: len(dc.calls) > before)
    assert requests_since(dc, before) == ["response"]


async def test_in_keep_mode_the_answered_question_stays_and_the_next_follows(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    running.settings.chat.follow_up = "keep"
    question = await teas_question(dc, ALICE)
    before = len(dc.calls)
    green = await dc.click(ALICE, question, custom_id(question, "Green"))
    await next_question(dc, green, "Pick up to two extras")
    assert "Recorded: **Green**" in dc.message(int(question["id"]))["content"]
    assert dc.message(int(question["id"]))["components"] == []
    assert requests_since(dc, before) == ["response", "follow-up"]


async def question_before_the_pastry(dc: FakeDiscordServer, member: int) -> JSON:
    """The member answers their way to "recommend", the question before the one with a photo."""
    question = await teas_question(dc, member)
    green = await dc.click(member, question, custom_id(question, "Green"))
    question = await next_question(dc, green, "Pick up to two extras")
    picked = await dc.select(member, question, select_id(question), ["0"])
    question = await next_question(dc, picked, "work from the café")
    for label, prompt in (("Yes", "rate the service"), ("4★", "recommend")):
        step = await dc.click(member, question, custom_id(question, label, exact=True))
        question = await next_question(dc, step, prompt)
    return question


async def test_in_edit_mode_a_question_with_a_photo_is_edited_in_with_it_and_out_again(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    """The update that turns the answered question into the pastry question carries its photo (one
    request, no follow-up); the next update, to a question without one, takes the photo away."""
    question = await question_before_the_pastry(dc, ALICE)
    message_id = int(question["id"])
    before = len(dc.calls)
    nine = await dc.click(ALICE, question, custom_id(question, "9", exact=True))
    pastry = await next_question(dc, nine, "What is this pastry")
    assert int(pastry["id"]) == message_id and pastry["content"].startswith("✅ 9, +")
    assert pastry["embeds"][0]["image"]["url"] == "attachment://pastry.png"
    assert dc.attachment_bytes(pastry)["pastry.png"].startswith(b"\x89PNG")
    assert requests_since(dc, before) == ["response"]

    croissant = await dc.click(ALICE, pastry, custom_id(pastry, "Croissant"))
    after = await next_question(dc, croissant, "change one thing")
    assert int(after["id"]) == message_id
    assert after["embeds"] == [] and after["attachments"] == []


async def test_a_members_next_question_never_waits_for_anothers_in_the_same_channel(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    """Ephemeral follow-ups are limited per interaction, not per channel: while Alice's next question
    waits out a 429, Carol's, clicked later in the same channel, goes out."""
    task = await dc.slash(ALICE, GUILD, CHANNEL, "task")
    question = await shown(dc, task, "What do you order most often?")
    dc.fail_next("POST", r"/webhooks/\d+/[^/]+", status=429, retry_after=2.0)
    alices = await dc.click(ALICE, question, custom_id(question, "Tea"))
    await dc.wait_for(lambda: any(error.status == 429 for error in dc.errors))
    carols = await dc.click(CAROL, question, custom_id(question, "Latte"))
    await next_question(dc, carols, "Pick up to two extras")
    assert not alices.followups, "Alice's next question is still waiting out its 429"
    await next_question(dc, alices, "Which tea")


async def test_an_update_with_a_photo_refused_by_a_server_error_is_sent_again_with_its_photo(
    dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    """The form with the photo is encoded once and sent as it was on the retry after a 500."""
    question = await question_before_the_pastry(dc, ALICE)
    dc.fail_next("POST", r"/interactions/\d+/[^/]+/callback", status=500)
    nine = await dc.click(ALICE, question, custom_id(question, "9", exact=True))
    pastry = await next_question(dc, nine, "What is this pastry")
    assert [error.status for error in dc.errors] == [500]
    assert dc.attachment_bytes(pastry)["pastry.png"].startswith(b"\x89PNG")
    sent = [call for call in dc.calls if call.files]
    assert len(sent) == 2 and sent[0] == sent[1], "the same body, photo included, both times"


async def test_where_discord_py_keeps_its_messages_otherwise_clicks_are_answered_the_same(
    dc: FakeDiscordServer,
    discord_bot: DiscordDeployment,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The adapter reads clicks off the gateway's JSON through a discord.py detail (the slot its
    ``Interaction`` keeps the message in, :mod:`adapters.discord.incoming`). Without it, as after a
    discord.py release that changed it, discord.py parses clicks itself and members see the same."""
    monkeypatch.setattr(incoming, "MESSAGE_SLOT", None)
    await discord_bot.start()
    assert "parses interactions as it always did" in caplog.text
    question = await teas_question(dc, ALICE)
    before = len(dc.calls)
    green = await dc.click(ALICE, question, custom_id(question, "Green"))
    assert (await green.response())["type"] == 7
    turned = await dc.wait_for(lambda: (m := dc.message(int(question["id"])))["content"].startswith("✅") and m)
    assert turned["content"].startswith("✅ Green, +5\n") and "Pick up to two extras" in turned["content"]
    assert requests_since(dc, before) == ["response"]
