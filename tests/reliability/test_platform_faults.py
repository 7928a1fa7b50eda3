"""Platform faults end to end: the real adapters against the fake Telegram and Discord servers, misbehaving.

What members see when the platform fails under the bot, and what the database holds afterwards: an
outage of ``getUpdates``, a dropped long poll, flood control, a reply Telegram takes too long to accept;
a dropped gateway (RESUME), an invalidated session (a new IDENTIFY), a response and a follow-up refused
with 500 and 429, one refused more often than discord.py retries, one refused for good. In every case the bot
recovers by itself and every update the platform delivered is processed exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import adapters.telegram
from adapters.discord import CrowdPulseClient
from adapters.telegram_http import GatedRequest
from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import (
    ALICE,
    APP_ID,
    CAROL,
    CHANNEL,
    GUILD,
    DiscordDeployment,
    answers_of,
    assert_discord_contract,
    count,
    custom_id,
    next_question,
    running_telegram_bot,
    shown,
    tap,
    texts,
)
from tests.fakes.discord.protocol import EPHEMERAL
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer

CLIENT_TIMEOUT = 1.0  # seconds PTB waits for Telegram's answer in the slow-send test (PTB's default: 5)
APOLOGY = "Sorry, something went wrong on my side"


def sent_once(tg: FakeTelegramServer, chat_id: int, words: str) -> bool:
    return sum(words in text for text in texts(tg, chat_id)) == 1


# Telegram ----------------------------------------------------------------------------------------


async def test_a_member_keeps_answering_through_a_telegram_outage_and_each_tap_counts_once(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    """getUpdates fails with 500 twice and the long poll is cut; then a sendMessage hits flood control.

    PTB's polling loop retries by itself (1 s, then 1.5 s, then 2.25 s apart) and its rate limiter waits
    out the 429's ``retry_after``: the member only sees their answers take a few seconds longer.
    """
    ana = tg.user(301, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(ana, chat, "/task")
        await tg.wait_until_consumed()
        tg.fail_next("getUpdates", status=500, description="Internal Server Error", times=2)
        assert tg.drop_long_poll(), "the bot was long-polling"
        await tap(tg, ana, chat["id"], "Latte", within=15)
        assert sent_once(tg, chat["id"], "Pick up to two extras")
        assert [error.error_code for error in tg.errors].count(500) == 2

        tg.fail_next("sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1)
        tg.send_text(ana, chat, "/points")
        await tg.wait_for(lambda: any("You have" in text for text in texts(tg, chat["id"])), timeout=10)
        await tg.wait_until_consumed()
        assert [error.error_code for error in tg.errors].count(429) == 1
        assert sent_once(tg, chat["id"], "You have 5 points"), texts(tg, chat["id"])

    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    assert await count(engine, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 1
    assert len(tg.callback_answers) == 1, "the tap was answered once: no spinner left, no double toast"


async def test_a_reply_telegram_is_too_slow_to_accept_loses_no_answer(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next question's sendMessage outlasts the client's timeout: what the member sees, what is kept.

    The answer was committed before any reply went out, so it stays recorded (once: Telegram got the
    update confirmed by the next poll and never redelivers it). The member sees the toast, the question
    marked "Recorded: Latte", then "Sorry, something went wrong…" instead of the next question: PTB's
    TimedOut reaches the adapter's error handler, and the fake server drops the half-sent message when
    the client hangs up. /task brings the next question.
    """

    def with_short_timeout(connection_pool_size: int) -> GatedRequest:
        return GatedRequest(connection_pool_size, read_timeout=CLIENT_TIMEOUT)

    monkeypatch.setattr(adapters.telegram, "GatedRequest", with_short_timeout)
    ana = tg.user(302, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(ana, chat, "/task")
        await tg.wait_until_consumed()
        tg.delay_next("sendMessage", CLIENT_TIMEOUT + 1.5)
        await tap(tg, ana, chat["id"], "Latte", within=10)
        await tg.wait_for(lambda: any(APOLOGY in text for text in texts(tg, chat["id"])), timeout=10)
        await tg.wait_until_consumed(timeout=10)

        assert tg.callback_answers[-1].text == "✅ Latte, +5"
        assert any("Recorded: Latte" in text for text in texts(tg, chat["id"]))
        assert not any("Pick up to two extras" in text for text in texts(tg, chat["id"]))
        assert await count(engine, "SELECT COUNT(*) FROM answers") == 1

        tg.send_text(ana, chat, "/task")
        await tg.wait_until_consumed()
        assert sent_once(tg, chat["id"], "Pick up to two extras")

    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    assert await count(engine, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 1


# Discord -----------------------------------------------------------------------------------------


@pytest.fixture
def quick_reidentify(monkeypatch: pytest.MonkeyPatch) -> None:
    """discord.py sleeps 5 s before every re-IDENTIFY (Discord's identify rate limit); not in tests."""

    async def no_wait(self: CrowdPulseClient, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    monkeypatch.setattr(CrowdPulseClient, "before_identify_hook", no_wait)


def only_injected_errors(dc: FakeDiscordServer, expected: Callable[[int], bool]) -> None:
    """The errors the test injected, and nothing else, then out of the way of the contract check."""
    assert all(error.injected and expected(error.status) for error in dc.errors), dc.errors
    dc.errors.clear()


async def test_a_command_sent_while_the_gateway_was_down_is_answered_after_the_bot_resumes(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine
) -> None:
    await discord_bot.start()
    await dc.drop_gateway()
    task = await dc.slash(ALICE, GUILD, CHANNEL, "task")  # dispatched while disconnected: replayed on RESUME
    question = await shown(dc, task, "What do you order most often?")
    assert (dc.resume_count, dc.identify_count) == (1, 1)
    await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Latte")), "Pick up to two")
    assert await answers_of(engine, ALICE) == {"drink": "1"}
    assert_discord_contract(dc)


async def test_an_invalidated_session_identifies_again_and_members_carry_on(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine, quick_reidentify: None
) -> None:
    await discord_bot.start()
    question = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "What do you order")
    dc.invalid_session_next = True
    await dc.drop_gateway()
    await dc.wait_for(lambda: dc.identify_count == 2)
    assert dc.resume_count == 0
    await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Tea")), "Which tea")
    assert await answers_of(engine, ALICE) == {"drink": "2"}
    assert_discord_contract(dc)


@pytest.mark.parametrize(
    "route", [rf"/webhooks/{APP_ID}/[^/]+", r"/interactions/\d+/[^/]+/callback"], ids=["follow-up", "response"]
)
async def test_a_request_refused_with_500_then_429_goes_out_once(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine, route: str
) -> None:
    """A click's response and its follow-ups are posted by the adapter (:mod:`adapters.discord.callbacks`)
    with discord.py's retries: a 500 again after 1 s, a 429 after its ``retry_after``; nothing is doubled."""
    await discord_bot.start()
    question = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "task"), "What do you order")
    before = len(dc.calls)
    dc.fail_next("POST", route, status=500)
    dc.fail_next("POST", route, status=429, retry_after=0.05)
    click = await dc.click(CAROL, question, custom_id(question, "Espresso"))
    await next_question(dc, click, "Pick up to two extras")
    seen = [message["content"] for message in (click.original, *click.followups) if message is not None]
    assert sum("Pick up to two extras" in content for content in seen) == 1, seen
    posts = [call for call in dc.calls[before:] if call.method == "POST" and re.fullmatch(route, call.path)]
    assert len(posts) == 3, "refused twice, accepted the third time"
    assert await answers_of(engine, CAROL) == {"drink": "0"}
    only_injected_errors(dc, lambda status: status in (429, 500))
    assert_discord_contract(dc)


async def test_a_follow_up_discord_py_gives_up_on_is_waited_out_by_its_queue_and_arrives_once(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py tries a follow-up five times and then raises the 429; the queue of the interaction
    (its next question is ephemeral) waits the ``Retry-After`` and sends it again, so the member still
    gets it, once, and the log one line."""
    await discord_bot.start()
    question = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "task"), "What do you order")
    dc.fail_next("POST", rf"/webhooks/{APP_ID}/[^/]+", status=429, retry_after=0.01, times=5)
    click = await dc.click(CAROL, question, custom_id(question, "Espresso"))
    await next_question(dc, click, "Pick up to two extras")
    assert sum("Pick up to two extras" in message["content"] for message in click.followups) == 1
    waits = [r.getMessage() for r in caplog.records if "send=rate_limited" in r.getMessage()]
    assert waits == [f"send=rate_limited queue=discord chat={click.id} method=followup wait=1.0s"], waits
    assert not [record for record in caplog.records if record.exc_info]
    only_injected_errors(dc, lambda status: status == 429)
    assert_discord_contract(dc)


async def test_a_follow_up_discord_refuses_is_replaced_by_an_apology(
    dc: FakeDiscordServer, discord_bot: DiscordDeployment, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A follow-up refused for good (a 400 here) is logged in one line without a traceback, and the
    member is told, privately, that something went wrong instead of waiting for a question."""
    await discord_bot.start()
    question = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "task"), "What do you order")
    dc.fail_next("POST", rf"/webhooks/{APP_ID}/[^/]+", status=400)
    click = await dc.click(CAROL, question, custom_id(question, "Espresso"))
    apology = await shown(dc, click, APOLOGY)
    assert apology["flags"] & EPHEMERAL
    assert not any("Pick up to two extras" in message["content"] for message in click.followups)
    failures = [r.getMessage() for r in caplog.records if "send=failed" in r.getMessage()]
    assert len(failures) == 1 and f"channel={CHANNEL} method=followup" in failures[0], failures
    assert not [record for record in caplog.records if record.exc_info]
    assert await answers_of(engine, CAROL) == {"drink": "0"}, "the answer itself was recorded"
    only_injected_errors(dc, lambda status: status == 400)
    assert_discord_contract(dc)
