"""A member flooding the bot on Telegram costs nothing: not the others' replies, not the log.

The fake Bot API server enforces Telegram's flood control here (one message a second per chat after a
burst of three, a 429 with ``retry_after`` beyond it), so the flooder's own replies have to wait for
their chat. The engine's limiter runs on a stopped clock (:mod:`tests.reliability.floods`, shared with
the Discord flood test). Everything is asserted as an order of events on the server, never as a duration.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import TELEGRAM_TOKEN, count, data_of, running_telegram_bot, texts, wait_for_question
from tests.fakes.telegram.server import FakeTelegramServer
from tests.reliability.floods import FLOOD, FLOOD_BURST, SLOW_DOWN, calm_log, ledger

READ_ONLY = ("/points", "/me", "/top", "/rewards")  # distinct replies: identical ones waiting are sent once


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TELEGRAM_TOKEN, flood_limits=True) as server:
        yield server


def sends_to(tg: FakeTelegramServer, chat_id: int) -> list[int]:
    """Positions in the server's request log of every sendMessage to ``chat_id`` (refused ones too)."""
    return [
        position
        for position, call in enumerate(tg.calls)
        if call.method == "sendMessage" and int(call.params["chat_id"]) == chat_id
    ]


@pytest.mark.usefixtures("stopped_clock_limits")
async def test_a_member_flooding_a_private_chat_never_holds_up_another_members_help(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    flooder, nina = tg.user(401, "Flo"), tg.user(402, "Nina")
    flood_chat, nina_chat = tg.private_chat(flooder), tg.private_chat(nina)
    with caplog.at_level(logging.DEBUG):
        async with running_telegram_bot(engine, settings, tg):
            tg.send_text(nina, nina_chat, "/start")
            await tg.wait_until_consumed()
            before = await ledger(engine)
            for number in range(FLOOD):
                tg.send_text(flooder, flood_chat, READ_ONLY[number % len(READ_ONLY)])
            await tg.wait_for(lambda: any(error.chat_id == flooder["id"] for error in tg.flood_errors), timeout=10)
            limited_at = len(tg.calls)
            tg.send_text(nina, nina_chat, "/help")  # while the flooder's replies wait for their chat
            await tg.wait_for(lambda: len(texts(tg, flood_chat["id"])) == FLOOD_BURST + 1, timeout=30)
            await tg.wait_until_consumed()

    help_sent = [p for p in sends_to(tg, nina_chat["id"]) if "What you can do" in tg.calls[p].params["text"]]
    assert help_sent, texts(tg, nina_chat["id"])
    flooder_next = [p for p in sends_to(tg, flood_chat["id"]) if p > limited_at]
    assert flooder_next, "the flooder's backlog was still waiting when Nina asked"
    assert help_sent[0] < flooder_next[0], "Nina's /help waited for the flooder's chat"
    assert not any(error.chat_id == nina["id"] for error in tg.flood_errors)

    flooder_saw = texts(tg, flood_chat["id"])
    assert sum(SLOW_DOWN in text for text in flooder_saw) == 1, flooder_saw
    assert await ledger(engine) == before
    assert await count(engine, "SELECT COUNT(*) FROM users WHERE display_name = 'Flo'") == 1

    waits = [line for line in calm_log(caplog) if "send=rate_limited" in line]
    assert waits and all(f"chat={flooder['id']} method=sendMessage wait=" in line for line in waits), waits


@pytest.mark.usefixtures("stopped_clock_limits")
async def test_a_hundred_taps_on_one_button_are_all_answered_and_only_one_says_slow_down(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    """Telegram wants every callback query answered (else a spinner turns); the flood's repeats get an
    answer without text, and nothing is written into the chat for them."""
    ana = tg.user(403, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(ana, chat, "/task")
        await tg.wait_until_consumed()
        question = await wait_for_question(tg, chat["id"])
        shown_before = len(texts(tg, chat["id"]))
        for _ in range(100):
            tg.click(ana, question, data_of(question, "Latte"))
        await tg.wait_for(lambda: len(tg.callback_answers) == 100, timeout=15)
        await tg.wait_until_consumed()

    toasts = [answer.text or "" for answer in tg.callback_answers]
    assert sum(SLOW_DOWN in toast for toast in toasts) == 1, toasts
    assert sum(toast == "" for toast in toasts) == 100 - (FLOOD_BURST - 1) - 1, "the /task spent one token"
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    shown_after = texts(tg, chat["id"])[shown_before:]
    assert len(shown_after) == 1 and "Pick up to two extras" in shown_after[0], shown_after
