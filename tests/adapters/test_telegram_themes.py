"""Themes through the fake Telegram server: a group's round with typed answers shows its themes in
``/results``; an admin lists them privately, renames one and promotes it; the campaign's next round
offers it as a button, and a member's tap on it is recorded as that answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import JSON, count, running_telegram_bot, tap, texts, wait_for_question
from tests.fakes.telegram.server import FakeTelegramServer

GROUP = -1003
ADMIN = 301
PROMPT = "change one thing"
TYPED = ("Faster wifi please", "wifi keeps dropping", "Better wifi", "music quieter", "quieter music please")


@pytest.fixture
async def bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    async with running_telegram_bot(engine, settings, tg):
        yield


async def reach_the_typed_question(tg: FakeTelegramServer, member: JSON, group: JSON) -> JSON:
    """``/task`` in the group, a skip there (the next questions come privately), skips until the typed
    question: the member's private chat's last question."""
    tg.send_text(member, group, "/task")
    await tg.wait_until_consumed()
    await tap(tg, member, group["id"], "Skip")
    chat = tg.private_chat(member)
    for _ in range(10):
        question = await wait_for_question(tg, chat["id"])
        if PROMPT in (question.get("text") or question.get("caption") or ""):
            return question
        await tap(tg, member, chat["id"], "Skip")
    raise AssertionError(f"the typed question never came: {texts(tg, chat['id'])[-3:]}")


async def test_typed_answers_show_as_themes_and_a_promoted_theme_is_a_button_of_the_next_round(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    admin = tg.user(ADMIN, "Admin")
    group = tg.group(GROUP, "Café regulars")
    tg.set_admins(GROUP, [ADMIN])
    tg.send_text(admin, group, "/round open coffee")
    await tg.wait_for(lambda: any("New round" in text for text in texts(tg, GROUP)))
    for number, typed in enumerate(TYPED):
        member = tg.user(310 + number, f"Member{number}")
        await reach_the_typed_question(tg, member, group)
        tg.send_text(member, tg.private_chat(member), typed)
        await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM answers WHERE task_id = 'one-change'") == len(TYPED)

    tg.send_text(admin, group, "/results")
    await tg.wait_for(lambda: any("🧩 Themes:" in text for text in texts(tg, GROUP)), timeout=10)
    results = next(text for text in texts(tg, GROUP) if "🧩 Themes:" in text)
    assert ": 3 answers" in results and ": 2 answers" in results, results

    tg.send_text(admin, group, "/themes")  # the ids go to the admin privately, not to the group
    await tg.wait_for(lambda: any("Themes of round" in text for text in texts(tg, ADMIN)), timeout=10)
    listing = next(text for text in texts(tg, ADMIN) if "Themes of round" in text)
    assert not any("Themes of round" in text for text in texts(tg, GROUP))
    wifi_id = next(re.match(r"#(\d+)", line)[1] for line in listing.splitlines() if "wifi" in line and "#" in line)
    tg.send_text(admin, group, f"/theme rename {wifi_id} Faster Wi-Fi")
    await tg.wait_for(lambda: any("is now called" in text for text in texts(tg, ADMIN)), timeout=10)
    tg.send_text(admin, group, f"/theme promote {wifi_id}")
    await tg.wait_for(lambda: any("is now an option" in text for text in texts(tg, ADMIN)), timeout=10)

    tg.send_text(admin, group, "/round close")
    await tg.wait_for(lambda: any("closed" in text for text in texts(tg, GROUP)), timeout=10)
    tg.send_text(admin, group, "/round open coffee")
    await tg.wait_for(lambda: sum("New round" in text for text in texts(tg, GROUP)) == 2, timeout=10)
    member = tg.user(399, "Newcomer")
    question = await reach_the_typed_question(tg, member, group)
    labels = [button["text"] for row in question["reply_markup"]["inline_keyboard"] for button in row]
    assert "Faster Wi-Fi" in labels
    await tap(tg, member, tg.private_chat(member)["id"], "Faster Wi-Fi")
    assert await count(engine, "SELECT COUNT(*) FROM answers WHERE round_id > 1 AND value = '\"Faster Wi-Fi\"'") == 1
