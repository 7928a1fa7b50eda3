"""Benchmark 9: another member's ``/help`` while one member floods the bot, next to the same ``/help`` calm.

Telegram here; Discord in :mod:`bench.discord_flood`, whose figures this benchmark reports too
(``flood.discord_*``).

The problem this guards against (issue 17): 300 ``/points`` from one member in a second used to stall
everyone else on Telegram for about 8 s, because every "slow down" was a message into a chat Telegram
limits to about one a second, and the 429s were waited out inside the update handlers (and, by PTB's
``AIORateLimiter``, for every request of the bot).

``run_telegram`` as shipped runs against the fake Bot API server (in a child process) with flood control
on at Telegram's real pace (1 message/s per chat after a burst of 3, 30/s overall). In each repetition a
fresh member sends ``/help``, timed on the server from the update queued to the reply stored: *calm* with
nothing else going on, *flooded* right after another fresh member queued ``FLOOD`` ``/points`` at once
(their updates are ahead of the ``/help`` in Telegram's queue, so the flooded latency includes handling
them). Calm and flooded turns alternate; the flooders' backlogs drain in the background meanwhile, as
they would in production.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update
from telegram.ext import CommandHandler, ContextTypes

from bench import discord_flood
from bench.fakes import FakeProcess
from bench.runner import Context, Figure, Target, compared, interleaved, measured
from bench.telegram_e2e import bare_bot, ours
from bench.world import engine_on

FLOOD = 300
ANSWER_TIMEOUT = 30.0
RATIO_TARGET = Target("<=", 2.0)  # 61 before the fix (7.2 s against 117 ms)


@asynccontextmanager
async def bare(fake: FakeProcess) -> AsyncIterator[None]:
    """A python-telegram-bot Application that answers ``/help`` with one line and ignores ``/points``:
    the cost of the library and the protocol getting through the flood's updates, and nothing else."""

    async def help_line(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "What you can do: …")

    async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    async with bare_bot(fake.info, [CommandHandler("help", help_line), CommandHandler("points", ignore)], "message"):
        yield


async def help_latency(fake: FakeProcess, neighbour: int, flooder: int, flood: int) -> float:
    """Milliseconds from the neighbour's ``/help`` queued to the bot's answer stored, after ``flood``
    ``/points`` from the flooder queued just before."""
    await fake.call("members", ids=[neighbour, flooder])
    if flood:
        await fake.call("flood", member=flooder, text="/points", times=flood)
    seconds = await fake.call("ask", member=neighbour, text="/help", timeout=ANSWER_TIMEOUT)
    if seconds is None:
        raise RuntimeError(f"/help was not answered within {ANSWER_TIMEOUT:.0f}s (flood of {flood})")
    return float(seconds) * 1000


async def run(ctx: Context) -> list[Figure]:
    numbers = itertools.count(9_000_000)
    async with (
        FakeProcess("telegram", flood_limits=True) as ours_fake,
        FakeProcess("telegram", flood_limits=True) as bare_fake,
        engine_on(ctx.workdir / "flood.db") as engine,
        ours(engine, ours_fake),
        bare(bare_fake),
    ):

        async def calm(_: int) -> float:
            return await help_latency(ours_fake, next(numbers), next(numbers), 0)

        async def flooded(_: int) -> float:
            return await help_latency(ours_fake, next(numbers), next(numbers), FLOOD)

        async def flooded_bare(_: int) -> float:
            return await help_latency(bare_fake, next(numbers), next(numbers), FLOOD)

        results = await interleaved(
            [("calm", calm), ("flooded", flooded), ("bare", flooded_bare)], ctx.repetitions, warmup=1
        )
    note = f"one member sends {FLOOD} /points at once, then another /help; Telegram's real per-chat pace"
    telegram = [
        measured("flood.help_calm", results["calm"], "ms", note="another member's /help, no flood"),
        measured("flood.help_flooded", results["flooded"], "ms", note=note),
        measured("flood.help_flooded_bare_ptb", results["bare"], "ms", note="a bare PTB bot that ignores /points"),
        compared("flood.flooded_vs_calm", results["flooded"], results["calm"]),
        compared("flood.flooded_vs_bare_ptb", results["flooded"], results["bare"], RATIO_TARGET),
    ]
    return telegram + await discord_flood.run(ctx)
