"""Ideas judged in pairs on Telegram: /judge shows two ideas with an inline keyboard, and tapping A records it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import count, last_with_buttons, running_telegram_bot, tap
from tests.fakes.telegram.server import FakeTelegramServer


@pytest.fixture
async def bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    async with running_telegram_bot(engine, settings, tg):
        yield


async def test_judge_serves_a_pair_and_tapping_a_records_it(engine: Engine, tg: FakeTelegramServer, bot: None) -> None:
    group = tg.group(-1021, "Café regulars")
    ana, bob, dan = tg.user(501, "Ana"), tg.user(502, "Bob"), tg.user(503, "Dan")
    tg.send_text(ana, group, "/idea Gingerbread latte with oat milk in winter")
    tg.send_text(bob, group, "/idea Board games on Sunday afternoons for everyone")
    await tg.wait_until_consumed()
    tg.send_text(dan, group, "/judge")
    await tg.wait_until_consumed()
    pair = last_with_buttons(tg, group["id"])
    assert "Which would you rather see?" in pair["text"]
    labels = [button["text"] for row in pair["reply_markup"]["inline_keyboard"] for button in row]
    assert labels[:3] == ["A", "B", "Can't decide"]
    await tap(tg, dan, group["id"], "A")
    assert await count(engine, "SELECT COUNT(*) FROM idea_judgements WHERE winner_id IS NOT NULL") == 1
    assert await count(engine, "SELECT COUNT(*) FROM ledger WHERE reason = 'judgement'") == 1
