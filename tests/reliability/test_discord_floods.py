"""A member flooding the bot on Discord costs nothing: not the others' answers, not the log, not one
interaction left unacknowledged.

The fake Discord enforces a channel's own limit on follow-ups here (:class:`FloodLimits`: Discord's 30 a
minute, at a test's pace of one per ``WINDOW`` seconds), so the follow-ups of the flooder's admitted
commands have to wait for their channel, #general, where the neighbour asks too. The engine's limiter
runs on a stopped clock (:mod:`tests.reliability.floods`, shared with the Telegram flood test).
Everything is asserted as an order of events on the server, never as a duration.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from tests.adapters.harness import (
    ALICE,
    CAROL,
    CHANNEL,
    GUILD,
    DiscordDeployment,
    assert_discord_contract,
    count,
    custom_id,
    fake_discord,
    messages_of,
)
from tests.fakes.discord.interactions import InteractionHandle
from tests.fakes.discord.limits import FloodLimits
from tests.fakes.discord.server import FakeDiscordServer
from tests.reliability.floods import FLOOD, FLOOD_BURST, SLOW_DOWN, calm_log, ledger

WINDOW = 1.5  # seconds per follow-up into a channel: the flooder's backlog takes a few of them to drain
ADMITTED = FLOOD_BURST - 1  # Alice's /start before the flood spent one of her tokens
TAPS = 100


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscordServer]:
    """The café with Alice (who floods) and Carol (who asks for help), follow-ups limited per channel."""
    async with fake_discord(flood_limits=FloodLimits(channel_followups=(1, WINDOW))) as server:
        server.member(GUILD, ALICE, "alice")
        server.member(GUILD, CAROL, "carol")
        yield server


def position(dc: FakeDiscordServer, path: str) -> list[int]:
    """Where in the server's request log each POST to ``path`` is (refused ones too)."""
    return [index for index, call in enumerate(dc.calls) if call.method == "POST" and call.path == path]


def follow_ups(dc: FakeDiscordServer, handles: list[InteractionHandle]) -> list[int]:
    """Positions of every follow-up request made for ``handles``, in order."""
    return sorted(index for handle in handles for index in position(dc, f"/webhooks/{dc.app_id}/{handle.token}"))


async def start(dc: FakeDiscordServer, *members: int) -> None:
    """Each member's /start (their welcome points) with its follow-up, the first question, delivered."""
    handles = [await dc.slash(member, GUILD, CHANNEL, "start") for member in members]
    await dc.wait_for(lambda: all(handle.followups for handle in handles), timeout=10)


@pytest.mark.usefixtures("stopped_clock_limits")
async def test_a_member_flooding_a_channel_never_holds_up_another_members_help(
    engine: Engine, discord_bot: DiscordDeployment, dc: FakeDiscordServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await discord_bot.start()
        await start(dc, CAROL, ALICE)
        before, limited_before = await ledger(engine), len(dc.flood_errors)
        flood = [await dc.slash(ALICE, GUILD, CHANNEL, "start") for _ in range(FLOOD)]
        await dc.wait_for(lambda: len(dc.flood_errors) > limited_before, timeout=10)
        limited_at = len(dc.calls)
        help_ = await dc.slash(CAROL, GUILD, CHANNEL, "help")  # while the flooder's follow-ups wait for #general
        await dc.wait_for(lambda: sum(len(handle.followups) for handle in flood) == ADMITTED, timeout=30)
        await discord_bot.stop()

    assert "What you can do" in (await help_.response())["data"]["content"]
    answered_at = position(dc, f"/interactions/{help_.id}/{help_.token}/callback")
    flooder_next = [index for index in follow_ups(dc, flood) if index > limited_at]
    assert flooder_next, "the flooder's backlog was no longer waiting when Carol asked"
    assert answered_at[0] < flooder_next[-1], "Carol's /help waited for the flooder's follow-ups"

    shown = [message["content"] for handle in flood for message in messages_of(handle)]
    assert sum(SLOW_DOWN in text for text in shown) == 1, shown
    silent = [handle for handle in flood if not messages_of(handle)]
    assert len(silent) == FLOOD - ADMITTED - 1, "a repeated refusal shows nothing"
    assert all((handle.callback or {}).get("type") == 5 for handle in silent)  # acknowledged, then deleted
    assert_discord_contract(dc, rate_limited=True)
    assert await ledger(engine) == before
    assert await count(engine, "SELECT COUNT(*) FROM users WHERE display_name = 'alice'") == 1

    waits = [line for line in calm_log(caplog) if "rate limited" in line]
    assert len(waits) == 1 < len(dc.flood_errors), waits  # discord.py's line per 429, folded


@pytest.mark.usefixtures("stopped_clock_limits")
async def test_a_hundred_taps_on_one_button_are_all_acknowledged_and_only_one_says_slow_down(
    engine: Engine, discord_bot: DiscordDeployment, dc: FakeDiscordServer
) -> None:
    """Discord wants every click acknowledged (else "This interaction failed"); the flood's repeats get a
    silent deferred update, and nothing is shown for them."""
    await discord_bot.start()
    task = await dc.slash(ALICE, GUILD, CHANNEL, "task")
    await task.response()
    question = task.original
    assert question is not None
    taps = [await dc.click(ALICE, question, custom_id(question, "Latte")) for _ in range(TAPS)]
    await dc.wait_for(lambda: all(tap.callback for tap in taps) and any(tap.followups for tap in taps), timeout=15)
    await discord_bot.stop()

    kinds = [(tap.callback or {}).get("type") for tap in taps]
    assert kinds.count(6) == TAPS - (FLOOD_BURST - 1) - 1, kinds  # the /task spent one token
    shown = [message["content"] for tap in taps for message in messages_of(tap)]
    assert sum(SLOW_DOWN in text for text in shown) == 1, shown
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    next_questions = [message for tap in taps for message in tap.followups]
    assert len(next_questions) == 1 and "Pick up to two extras" in next_questions[0]["content"], next_questions
    assert_discord_contract(dc)
