"""What a member's tap in a private chat turns into, in each ``[chat] follow_up`` mode.

"edit" (the default): the toast confirms the choice and points, and the tapped question becomes the next
one: two requests per tap. "keep": the question stays with the choice below it and the next one is a new
message: three. The requests are counted on the fake Bot API server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import JSON, data_of, running_telegram_bot, tap, texts, wait_for_question
from tests.fakes.telegram.server import FakeTelegramServer

SENDING = (
    "sendMessage",
    "sendPhoto",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
)


@pytest.fixture
async def bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    async with running_telegram_bot(engine, settings, tg):
        yield


def requests_since(tg: FakeTelegramServer, start: int) -> list[str]:
    return [call.method for call in tg.calls[start:] if call.method in SENDING]


async def past_first_answer(tg: FakeTelegramServer, member: JSON) -> int:
    """The member starts and answers the first question (its badge keeps that question in any mode)."""
    chat = tg.private_chat(member)
    tg.send_text(member, chat, "/start")
    await tg.wait_until_consumed()
    await tap(tg, member, chat["id"], "Espresso")
    return int(chat["id"])


async def test_in_edit_mode_the_tapped_question_becomes_the_next_in_two_requests(
    tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(601, "Ana", language_code="en")
    chat = await past_first_answer(tg, ana)
    shown = len(tg.messages(chat))
    before = len(tg.calls)
    await tap(tg, ana, chat, "Oat milk")  # a tick edits the question in any mode
    await tap(tg, ana, chat, "Submit")
    assert requests_since(tg, before) == ["answerCallbackQuery", "editMessageText"] * 2
    assert tg.callback_answers[-1].text == "✅ Oat milk, +5"
    assert len(tg.messages(chat)) == shown, "no new message: the question turned into the next one"
    assert "Do you work from the café" in texts(tg, chat)[-1]


async def test_in_keep_mode_the_answered_question_stays_and_the_next_is_a_new_message(
    tg: FakeTelegramServer, settings: Settings, bot: None
) -> None:
    settings.chat.follow_up = "keep"
    ana = tg.user(602, "Ana", language_code="en")
    chat = await past_first_answer(tg, ana)
    await tap(tg, ana, chat, "Oat milk")
    before = len(tg.calls)
    await tap(tg, ana, chat, "Submit")
    assert requests_since(tg, before) == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert tg.callback_answers[-1].text == "✅ Oat milk, +5"
    assert "Recorded: Oat milk" in texts(tg, chat)[-2]
    assert "Do you work from the café" in texts(tg, chat)[-1]


async def test_a_romanian_toast_names_the_choice_in_romanian_within_telegrams_200_characters(
    tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(603, "Ana", language_code="ro")
    chat = await past_first_answer(tg, ana)
    await tap(tg, ana, chat, "Lapte de ovăz")
    await tap(tg, ana, chat, "Trimite")
    assert tg.callback_answers[-1].text == "✅ Lapte de ovăz, +5"
    assert all(len(answer.text or "") <= 200 for answer in tg.callback_answers)


async def test_in_edit_mode_a_question_turns_into_the_photo_question_uploaded_once_then_by_file_id(
    tg: FakeTelegramServer, bot: None
) -> None:
    for member in (tg.user(604, "Ana"), tg.user(605, "Bob")):
        chat = await past_first_answer(tg, member)
        shown = len(tg.messages(chat))
        for label in ("Oat milk", "Submit", "Yes", "4★", "9"):
            await tap(tg, member, chat, label)
        assert len(tg.messages(chat)) == shown, "the rating question became the pastry question"
        assert tg.messages(chat)[-1]["photo"], "the pastry question comes with its photo"
        assert "What is this pastry" in texts(tg, chat)[-1]
    first, second = (call["media"]["media"] for call in tg.calls_to("editMessageMedia"))
    uploaded = tg.messages(604)[-1]["photo"][-1]["file_id"]
    assert first.startswith("attach://") and second == uploaded
    assert not tg.calls_to("sendPhoto")


async def test_members_reaching_the_photo_question_at_once_upload_its_photo_once(
    tg: FakeTelegramServer, bot: None
) -> None:
    """The first member's request uploads the photo; those who come meanwhile wait for its file id."""
    members = [tg.user(610 + number, f"Member {number}") for number in range(4)]
    for member in members:
        chat = await past_first_answer(tg, member)
        for label in ("Oat milk", "Submit", "Yes", "4★"):
            await tap(tg, member, chat, label)
    rating = [(member, await wait_for_question(tg, member["id"])) for member in members]
    for member, question in rating:
        tg.click(member, question, data_of(question, "9"))
    await tg.wait_for(lambda: len(tg.calls_to("editMessageMedia")) == len(members))
    await tg.wait_until_consumed()
    sent = [call["media"]["media"] for call in tg.calls_to("editMessageMedia")]
    assert sum(media.startswith("attach://") for media in sent) == 1, sent
    assert all(tg.messages(member["id"])[-1]["photo"] for member in members)


async def test_in_keep_mode_a_campaign_photo_is_uploaded_once_and_sent_by_its_file_id_afterwards(
    tg: FakeTelegramServer, settings: Settings, bot: None
) -> None:
    settings.chat.follow_up = "keep"
    for member in (tg.user(606, "Ana"), tg.user(607, "Bob")):
        chat = await past_first_answer(tg, member)
        for label in ("Oat milk", "Submit", "Yes", "4★", "9"):
            await tap(tg, member, chat, label)
        assert tg.messages(chat)[-1]["photo"], "the pastry question comes with its photo"
        assert "Recorded: 9" in texts(tg, chat)[-2]
    first, second = tg.calls_to("sendPhoto")
    uploaded = tg.messages(606)[-1]["photo"][-1]["file_id"]
    assert first["photo"] != uploaded and second["photo"] == uploaded
