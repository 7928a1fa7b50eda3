"""Labelling jobs on Telegram: python-telegram-bot, unmodified, against the fake Bot API server.

A moderator opens a job in a group; members tap its announcement's Start and label in their private
chats, where every photo arrives as a photo message with the options as buttons.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.features.labelling.aggregation import normalise_text
from bot.settings import Settings
from tests.adapters.harness import JSON, data_of, last_with_buttons, running_telegram_bot, texts
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
from tests.fakes.telegram.server import FakeTelegramServer

GROUP = -3001


@pytest.fixture
async def bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    async with running_telegram_bot(engine, settings, tg):
        yield


async def open_round(tg: FakeTelegramServer, subject: str) -> JSON:
    """A group admin runs ``/round open <subject>``; returns the round's announcement with its Start."""
    admin, group = tg.user(3000, "Admin"), tg.group(GROUP, "Café regulars")
    tg.set_admins(GROUP, [3000])
    tg.send_text(admin, group, f"/round open {subject}")
    await tg.wait_for(lambda: any("New round" in text for text in texts(tg, GROUP)))
    return last_with_buttons(tg, GROUP)


async def question_after(tg: FakeTelegramServer, chat_id: int, message_id: int, tapped: JSON | None = None) -> JSON:
    """The first question (a message with buttons) the bot sent in the chat after message ``message_id``,
    or that message itself once it shows another question than ``tapped`` (as it was when tapped): in the
    "edit" follow-up mode a tapped photo turns into the next one."""

    def found() -> JSON | None:
        later = (m for m in tg.messages(chat_id) if m["message_id"] > message_id)
        following = next((m for m in later if m.get("reply_markup", {}).get("inline_keyboard")), None)
        if following is not None or tapped is None:
            return following
        now = tg.stored(chat_id, message_id)
        changed = now is not None and now != tapped and now.get("reply_markup", {}).get("inline_keyboard")
        return now if changed else None

    await tg.wait_for(lambda: found() is not None)
    question = found()
    assert question is not None
    return question


async def start(tg: FakeTelegramServer, member: JSON, announcement: JSON) -> JSON:
    """The member taps the announcement's Start in the group: their first question, in their private chat."""
    seen = max((m["message_id"] for m in tg.messages(member["id"])), default=0)
    tg.click(member, announcement, data_of(announcement, "Start"))
    await tg.wait_until_consumed()
    return await question_after(tg, member["id"], seen)


async def tap(tg: FakeTelegramServer, member: JSON, question: JSON, label: str) -> JSON:
    """Tap ``label`` on ``question`` in the member's private chat; returns the question that follows."""
    tapped = copy.deepcopy(question)  # the fake edits its messages in place
    tg.click(member, question, data_of(question, label))
    await tg.wait_until_consumed()
    return await question_after(tg, member["id"], question["message_id"], tapped)


def photo_of(tg: FakeTelegramServer, message: JSON) -> bytes:
    """The bytes of the photo a message shows, as the member's client downloads them."""
    stored = tg.files[message["photo"][-1]["file_id"]]
    assert stored.data is not None, message
    return stored.data


def button_labels(message: JSON) -> list[str]:
    return [button["text"] for row in message["reply_markup"]["inline_keyboard"] for button in row]


async def label_photos(tg: FakeTelegramServer, member: JSON, question: JSON) -> int:
    """The member labels every photo they are shown, as they see it; returns how many they labelled."""
    labelled = 0
    while PHOTO_PROMPT in (question.get("caption") or ""):
        assert button_labels(question) == PHOTO_BUTTONS, question
        question = await tap(tg, member, question, pastry_in(photo_of(tg, question)))
        labelled += 1
    assert "What do you order most often?" in question["text"], "then the chat's own poll, as before"
    return labelled


async def test_members_label_the_starter_photos_until_every_item_settles(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    announcement = await open_round(tg, "pastries")
    members = [tg.user(3100 + number, f"Member {number}") for number in range(5)]
    tapped = started = 0
    for member in members:  # until every photo is settled: how many members that takes depends on their luck
        if set(await settled(engine, "pastries", "pastry-photos")) == set(PASTRY_OF) - GOLD:
            break
        first = await start(tg, member, announcement)
        assert "Label our pastry photos" in first["caption"] and first["photo"], "a photo message, not a link"
        tapped += await label_photos(tg, member, first)
        started += 1

    agreed = await settled(engine, "pastries", "pastry-photos")
    assert set(agreed) == set(PASTRY_OF) - GOLD, "every item but the gold settled"
    assert all(answer == PASTRY_OF[key] and 2 <= taken <= 5 for key, (answer, taken) in agreed.items()), agreed
    assert await labels(engine, "pastry-photos") == tapped
    assert len(tg.callback_answers) == tapped + started, "every tap answered once, Start included"
    photos = [message for member in members[:started] for message in tg.messages(member["id"]) if message.get("photo")]
    assert {tg.files[message["photo"][-1]["file_id"]].filename for message in photos} == {"photo.png"}
    assert not tg.errors


async def test_a_double_tap_counts_once_cant_tell_passes_and_enough_for_now_leaves_the_job(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    announcement = await open_round(tg, "pastries")
    ana = tg.user(3201, "Ana")
    first = await start(tg, ana, announcement)
    answer = pastry_in(photo_of(tg, first))
    other = next(option for option in PHOTO_BUTTONS[:3] if option != answer)
    tapped = copy.deepcopy(first)
    for label in (answer, answer, other):  # taps in flight before the first is handled
        tg.click(ana, tapped, data_of(tapped, label))
    await tg.wait_until_consumed()
    second = await question_after(tg, ana["id"], first["message_id"], tapped)
    toasts = sorted(answer.text or "" for answer in tg.callback_answers[1:])
    assert toasts[-1].startswith("✅") and all("already answered" in toast for toast in toasts[:-1]), toasts
    assert toasts[-1] == f"✅ {answer}, +5", "the toast names the choice"
    assert second["message_id"] == first["message_id"], "the tapped photo became the next one (follow_up = edit)"
    assert second["photo"] and PHOTO_PROMPT in second["caption"], second

    third = await tap(tg, ana, second, "Can't tell")
    assert tg.callback_answers[-1].text == "Passed: no answer, no points. Here is another one."
    assert third["photo"] and PHOTO_PROMPT in third["caption"]
    after = await tap(tg, ana, third, "Enough for now")
    assert tg.callback_answers[-1].text == "Skipped."
    assert "What do you order most often?" in after["text"], "out of the job, on to the chat's poll"

    assert await labels(engine, "pastry-photos") == 2
    assert await labels(engine, "pastry-photos", "value IS NULL") == 1, "Can't tell is kept, as no answer"
    assert await engine.services.store.fetchval("SELECT SUM(answers) FROM label_items") == 1, "and takes no slot"
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM skips WHERE task_id = 'pastry-photos'") == 1
    tg.click(ana, announcement, data_of(announcement, "Start"))
    await tg.wait_for(lambda: "all caught up" in texts(tg, ana["id"])[-1]), "not asked again in this round"


async def test_receipt_lines_typed_as_replies_are_recorded_and_settle_when_two_agree(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    announcement = await open_round(tg, "receipts")
    for member in (tg.user(3301, "Ana"), tg.user(3302, "Ben")):
        question = await start(tg, member, announcement)
        while RECEIPTS_PROMPT in question["text"]:
            assert button_labels(question) == PHOTO_BUTTONS[3:], "Can't tell and Enough; the line is typed"
            line = next(line for line in RECEIPT_LINES.values() if f"<i>{line}</i>" in question["html"])
            tg.send_text(member, tg.private_chat(member), line, reply_to_message_id=question["message_id"])
            await tg.wait_until_consumed()
            question = await question_after(tg, member["id"], question["message_id"])
    expected = {key: (normalise_text(line), 2) for key, line in RECEIPT_LINES.items()}
    assert await settled(engine, "receipts", "receipt-lines") == expected
    assert await labels(engine, "receipt-lines") == 4
    assert not tg.errors


async def test_guidance_longer_than_a_caption_follows_the_photo_with_the_buttons(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    announcement = await open_round(tg, "guided")
    ana = tg.user(3401, "Ana")
    question = await start(tg, ana, announcement)
    photo = tg.messages(ana["id"])[-2]
    assert photo["photo"] and not photo.get("caption") and not photo.get("reply_markup"), photo
    assert question["text"].endswith(PHOTO_PROMPT) and button_labels(question) == PHOTO_BUTTONS
    following = await tap(tg, ana, question, pastry_in(photo_of(tg, photo)))
    assert "Recorded" in tg.messages(ana["id"])[1]["text"], "the tapped text shows the answer"
    assert PHOTO_PROMPT in following["text"]
    assert await labels(engine, "guided-photos") == 1
    assert all(len(m.get("caption") or "") <= 1024 and len(m.get("text") or "") <= 4096 for m in tg.messages(ana["id"]))
    assert not tg.errors
