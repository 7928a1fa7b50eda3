"""Benchmark 3: task-button taps answered per second, end to end through python-telegram-bot.

Two modes. The *burst* (below) times taps answered. The *closed loop* (:func:`run_closed_loop`) is what a
member lives: 200 members each tap through the starter campaign in their private chat, each waiting for
the toast *and* the next question before tapping again, while a bare app's members only wait for the
toast; each bot runs in a process of its own (:mod:`bench.bot_process`) so its CPU per tap can be read.
Ours runs in both follow-up modes (``[chat] follow_up``): "edit" turns the tapped question into the
next one, "keep" leaves it answered and sends the next one.

*Ours* is ``run_telegram`` as shipped, against the fake Bot API server (in a child process). *Bare* is a
python-telegram-bot ``Application`` with the same update concurrency and connection pool whose
``CallbackQueryHandler`` only answers the callback: the cost of the library and the protocol alone. In
each repetition fresh members (in private chats) get a question whose button carries a real action
token (ours: their first task, from the engine), then all tap at once; the server times from the first
tap to the last callback answered. The bot then finishes its follow-ups (the edit, the next question)
before anything else is measured.

A burst stays below the 256 updates the adapter handles at once. Each tap's edit and next question go to
the member's chat queue (:mod:`adapters.send_queue`) after the tap was answered; the handler does not wait
for them, so a longer stream of taps does not fill those 256 slots with handlers waiting to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram import Chat, Update, User
from telegram.ext import ApplicationBuilder, BaseHandler, CallbackQueryHandler, ContextTypes

from adapters.telegram import CONCURRENT_UPDATES, CONNECTION_POOL, run_telegram, space_ref, user_ref
from bench import closed_loop as loops
from bench.bot_process import BotProcess
from bench.fakes import FakeProcess
from bench.runner import Context, Figure, Target, compared, interleaved, measured
from bench.world import engine_on
from bot.engine import Engine
from bot.settings import Settings, TelegramSettings

FULL_TAPS = 150
QUICK_TAPS = 50
TAP_TIMEOUT = 120.0
SETTLE_TIMEOUT = 180.0
START_TIMEOUT = 20.0
RATIO_TARGET = Target(">=", 0.8)
LOOP_RATE_TARGET = Target(">=", 0.5)
LOOP_CPU_TARGET = Target("<=", 1.2)


def settings_for(settings: Settings, info: dict[str, Any]) -> Settings:
    telegram = TelegramSettings(
        token=SecretStr(info["token"]),
        base_url=info["base_url"],
        base_file_url=info["base_file_url"],
        poll_timeout=1,
    )
    return settings.model_copy(update={"telegram": telegram})


async def wait_polling(fake: FakeProcess, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while not await fake.call("polling"):
        if task.done():
            task.result()
        if loop.time() > deadline:
            raise TimeoutError("the bot never polled the fake Bot API server")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def ours(engine: Engine, fake: FakeProcess) -> AsyncIterator[None]:
    """``run_telegram`` against the fake, until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(engine, settings_for(engine.services.settings, fake.info), stop))
    await wait_polling(fake, task)
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def bare_bot(
    info: dict[str, Any], handlers: Sequence[BaseHandler[Any, Any, Any]], updates: str
) -> AsyncIterator[None]:
    """A python-telegram-bot Application with only ``handlers``, polling ``updates`` from the fake, with the
    adapter's update concurrency and connection pool (with PTB's default pool of 256 the bare bot reopened
    ~150 connections a burst)."""
    application = (
        ApplicationBuilder()
        .token(info["token"])
        .base_url(info["base_url"])
        .base_file_url(info["base_file_url"])
        .concurrent_updates(CONCURRENT_UPDATES)
        .connection_pool_size(CONNECTION_POOL)
        .build()
    )
    application.add_handlers(handlers)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, allowed_updates=[updates])
        try:
            yield
        finally:
            await application.updater.stop()
            await application.stop()


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """All the bare app does: answer the callback query."""
    assert update.callback_query is not None
    await update.callback_query.answer()


@asynccontextmanager
async def bare(info: dict[str, Any]) -> AsyncIterator[None]:
    """A python-telegram-bot Application that answers every callback query and does nothing else."""
    async with bare_bot(info, [CallbackQueryHandler(answer)], "callback_query"):
        yield


async def wait_bot_polling(fake: FakeProcess, bot: BotProcess) -> None:
    """Until the bot in its own process polls the fake (it failed if it exited first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT * 3  # a process starts an engine and imports the libraries
    while not await fake.call("polling"):
        if bot.exited is not None:
            raise RuntimeError(f"the {bot.variant} bot exited with {bot.exited}")
        if loop.time() > deadline:
            raise TimeoutError(f"the {bot.variant} bot never polled the fake Bot API server")
        await asyncio.sleep(0.1)


async def run_bot(variant: str, options: dict[str, Any], stop: asyncio.Event) -> None:
    """In the bot's own process (:mod:`bench.bot_process`): ours (``run_telegram`` on a fresh database,
    in the ``follow_up`` mode given) or the bare app, against the fake that ``options["info"]`` names."""
    info = options["info"]
    if variant == "bare":
        async with bare(info):
            await stop.wait()
        return
    async with engine_on(Path(options["database"]), chat={"follow_up": options["follow_up"]}) as engine:
        await run_telegram(engine, settings_for(engine.services.settings, info), stop)


async def run_closed_loop(ctx: Context) -> list[Figure]:
    """Members tapping through the starter campaign, each waiting for the next question (see the module)."""
    size = loops.QUICK if ctx.quick else loops.FULL
    members = size.members
    numbers = itertools.count(8_000_000)
    variants = [f"ours_{mode}" for mode in loops.FOLLOW_UP_MODES]
    async with contextlib.AsyncExitStack() as stack:
        fakes: dict[str, FakeProcess] = {}
        bots: dict[str, BotProcess] = {}
        for variant in [*variants, "bare"]:
            fakes[variant] = await stack.enter_async_context(FakeProcess("telegram"))
            options: dict[str, Any] = {"info": fakes[variant].info}
            if variant != "bare":
                mode = variant.removeprefix("ours_")
                options |= {"database": str(ctx.workdir / f"telegram-loop-{mode}.db"), "follow_up": mode}
            bots[variant] = await stack.enter_async_context(BotProcess("telegram", variant.split("_")[0], **options))
        for variant, bot in bots.items():
            await wait_bot_polling(fakes[variant], bot)

        def measure(variant: str) -> Callable[[int], Awaitable[loops.LoopRun]]:
            fake, bot = fakes[variant], bots[variant]

            async def one(_: int) -> loops.LoopRun:
                ids = [next(numbers) for _ in range(members)]
                await fake.call("members", ids=ids)
                if variant == "bare":
                    await fake.call("questions", questions=[[member, "bare"] for member in ids])
                else:
                    await loops.first_questions(fake, ids, "/start")
                await fake.call("settle", timeout=SETTLE_TIMEOUT)
                return await loops.tapped(fake, bot, ids, variant, size)

            return one

        return await loops.compared_loops(
            "telegram.loop",
            [(variant, measure(variant)) for variant in [*variants, "bare"]],
            size,
            ctx.repetitions,
            rate_target=LOOP_RATE_TARGET,
            cpu_target=LOOP_CPU_TARGET,
            note=f"{members} members tap through the starter campaign in private chats, awaiting each next question",
        )


async def first_task_button(engine: Engine, member: int) -> list[int | str]:
    """The member's first task in their private chat, as the adapter would resolve them; its first button."""
    name = f"Member {member}"
    user = user_ref(User(member, name, False, language_code="en"))
    ctx = await engine.context(user, space_ref(Chat(member, Chat.PRIVATE, first_name=name)))
    reply = await engine.tasks.next_task(ctx)
    return [member, reply.buttons[0][0].action]


async def taps_per_second(fake: FakeProcess, members: list[int], questions: list[list[int | str]]) -> float:
    await fake.call("members", ids=members)
    await fake.call("questions", questions=questions)
    result = await fake.call("click_all", ids=members, timeout=TAP_TIMEOUT)
    if not await fake.call("settle", timeout=SETTLE_TIMEOUT):
        raise RuntimeError("the bot was still busy long after the taps were answered")
    if not result["complete"]:
        raise RuntimeError(f"only {result['answered']} of {len(members)} taps answered in {TAP_TIMEOUT:.0f}s")
    return float(result["answered"] / result["seconds"])


async def run(ctx: Context) -> list[Figure]:
    taps = QUICK_TAPS if ctx.quick else FULL_TAPS
    numbers = itertools.count(7_000_000)

    def fresh() -> list[int]:
        return [next(numbers) for _ in range(taps)]

    async with (
        FakeProcess("telegram") as ours_fake,
        FakeProcess("telegram") as bare_fake,
        engine_on(ctx.workdir / "telegram.db") as engine,
        ours(engine, ours_fake),
        bare(bare_fake.info),
    ):

        async def measure_ours(_: int) -> float:
            members = fresh()
            questions = await asyncio.gather(*(first_task_button(engine, member) for member in members))
            return await taps_per_second(ours_fake, members, list(questions))

        async def measure_bare(_: int) -> float:
            members = fresh()
            return await taps_per_second(bare_fake, members, [[member, "bare"] for member in members])

        results = await interleaved([("ours", measure_ours), ("bare", measure_bare)], ctx.repetitions, warmup=1)
    note = f"{taps} members tap at once, in private chats"
    return [
        measured("telegram.ours", results["ours"], "taps/s", note=note),
        measured("telegram.bare_ptb", results["bare"], "taps/s", note=note),
        compared("telegram.ours_vs_bare", results["ours"], results["bare"], RATIO_TARGET),
        *await run_closed_loop(ctx),
    ]
