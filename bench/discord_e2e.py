"""Benchmark 4: task-button clicks answered per second, end to end through discord.py and the fake gateway.

*Ours* is ``run_discord`` as shipped; *bare* is a ``discord.Client`` that acknowledges every interaction
(a deferred update) and does nothing else. They take turns on one fake Discord (REST and gateway, in a
child process). In each repetition fresh members of the server click the first task's button on one
shared channel message, all at once; the server times from the first click to the last one answered.
For ours, answered means the member sees the reply: the interaction's response, or after a deferral
(when the engine takes longer than the adapter's acknowledgement budget) its first follow-up. The fake's
clock is slowed so Discord's 3-second response window does not expire under the burst.

The *closed loop* (:func:`run_closed_loop`): members run /task, then each clicks through the starter
campaign on the questions only they see, waiting for the next question before clicking again (a bare
client's members wait for its acknowledgement); each bot in a process of its own, its CPU time read
(:mod:`bench.closed_loop`). Ours runs in both ``[chat] follow_up`` modes.

When the Discord adapter cannot be imported (it may be in progress), the figures are reported as null.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench import closed_loop as loops
from bench.bot_process import BotProcess
from bench.fakes import FakeProcess
from bench.runner import Context, Figure, Target, compared, interleaved, measured
from bench.world import engine_on
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import DiscordSettings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

FULL_CLICKS = 600
QUICK_CLICKS = 100
REPETITIONS = 3
TIME_SCALE = 100.0  # Discord's 3 s response window becomes 300 s
CLICK_TIMEOUT = 120.0
SETTLE_QUIET = 0.3
SETTLE_TIMEOUT = 120.0
START_TIMEOUT = 20.0
RATIO_TARGET = Target(">=", 0.8)
LOOP_RATE_TARGET = Target(">=", 0.6)
FIGURES = (
    ("discord.ours", "clicks/s", None),
    ("discord.bare_discord_py", "clicks/s", None),
    ("discord.ours_vs_bare", "ratio", RATIO_TARGET),
)


class Gateway:
    """The fake Discord in its child process; clients take turns on it, one connected at a time.

    discord.py reads its endpoints from class attributes shared by every client in the process, so two
    clients cannot talk to two servers at once; taking turns on one server also makes it the same fake.
    """

    def __init__(self, fake: FakeProcess) -> None:
        self.fake = fake
        self.identified = 0

    async def wait_started(self, bot: BotProcess) -> None:
        """Until the bot in its own process has identified (it failed if it exited first)."""
        count = await self.fake.call("identified", previous=self.identified, timeout=START_TIMEOUT * 3)
        if not count:
            raise TimeoutError(f"the {bot.variant} bot never connected (exit status {bot.exited})")
        self.identified = count

    async def wait_identified(self, task: asyncio.Task[None]) -> None:
        count = await self.fake.call("identified", previous=self.identified, timeout=START_TIMEOUT)
        if not count:
            if task.done():
                task.result()
            raise TimeoutError("no client connected to the fake Discord")
        self.identified = count


@asynccontextmanager
async def ours(engine: Engine, gateway: Gateway, run_discord: Any) -> AsyncIterator[None]:
    """``run_discord`` connected to the fake (its commands synced to the bench server) for the block."""
    stop = asyncio.Event()
    settings = engine.services.settings.model_copy(update={"discord": endpoints(gateway.fake.info)})
    task = asyncio.create_task(run_discord(engine, settings, stop, guild_ready_timeout=0.05))
    await gateway.wait_identified(task)
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def connected(
    info: dict[str, Any], configure_endpoints: Any, setup: Callable[[discord.Client], None]
) -> AsyncIterator[asyncio.Task[None]]:
    """A discord.py client (the guilds intent only), given its handlers by ``setup``, connecting for the
    block; the block gets the connection's task."""
    configure_endpoints(info["api_base"], info["gateway_url"])
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents)
    setup(client)
    await client.login(info["token"])
    task = asyncio.create_task(client.connect())
    try:
        yield task
    finally:
        await client.close()
        await task


@asynccontextmanager
async def bare_client(
    gateway: Gateway, configure_endpoints: Any, setup: Callable[[discord.Client], None]
) -> AsyncIterator[None]:
    """A bare client (:func:`connected`) once the fake has seen it identify."""
    async with connected(gateway.fake.info, configure_endpoints, setup) as task:
        await gateway.wait_identified(task)
        yield


def only_defer(client: discord.Client) -> None:
    """The bare client's one handler: every interaction answered with a deferral, and nothing else."""

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        await interaction.response.defer()


@asynccontextmanager
async def bare(gateway: Gateway, configure_endpoints: Any) -> AsyncIterator[None]:
    """A discord.py client that answers every interaction with a deferral and nothing else."""
    async with bare_client(gateway, configure_endpoints, only_defer):
        yield


def endpoints(info: dict[str, Any]) -> DiscordSettings:
    """The settings that point our adapter at the fake (commands synced to the bench server)."""
    return DiscordSettings(
        token=SecretStr(info["token"]),
        api_base=info["api_base"],
        gateway_url=info["gateway_url"],
        guild_ids=[info["guild"]],
    )


async def run_bot(variant: str, options: dict[str, Any], stop: asyncio.Event) -> None:
    """In the bot's own process (:mod:`bench.bot_process`): ours in the ``follow_up`` mode given, on its
    database, or the bare client, against the fake that ``options["info"]`` names."""
    from adapters.discord import configure_endpoints, run_discord

    info = options["info"]
    if variant == "bare":
        async with connected(info, configure_endpoints, only_defer):
            await stop.wait()
        return
    async with engine_on(Path(options["database"]), chat={"follow_up": options["follow_up"]}) as engine:
        settings = engine.services.settings.model_copy(update={"discord": endpoints(info)})
        await run_discord(engine, settings, stop, guild_ready_timeout=0.05)


async def run_closed_loop(ctx: Context, fake: FakeProcess, gateway: Gateway) -> list[Figure]:
    """Members clicking through the starter campaign, each waiting for the next question (see the module).

    The variants take turns on the one fake, each bot process started for its turn (members join the
    server before a client connects, as the fake's gateway sends them at IDENTIFY).
    """
    size = loops.QUICK if ctx.quick else loops.FULL
    members = size.members
    numbers = itertools.count(970_000_000_000_000_001)
    variants = [*(f"ours_{mode}" for mode in loops.FOLLOW_UP_MODES), "bare"]

    def measure(variant: str) -> Callable[[int], Awaitable[loops.LoopRun]]:
        async def one(_: int) -> loops.LoopRun:
            ids = [next(numbers) for _ in range(members)]
            await fake.call("members", ids=ids)
            options: dict[str, Any] = {"info": fake.info}
            if variant != "bare":
                mode = variant.removeprefix("ours_")
                options |= {"database": str(ctx.workdir / f"discord-loop-{mode}.db"), "follow_up": mode}
            async with BotProcess("discord", variant.split("_")[0], **options) as bot:
                await gateway.wait_started(bot)
                message: int | None = None
                if variant == "bare":
                    message = await fake.call("question", custom_id="bare-button")
                else:
                    await loops.first_questions(fake, ids, "task")
                await fake.call("settle", quiet=SETTLE_QUIET, timeout=SETTLE_TIMEOUT)
                return await loops.tapped(fake, bot, ids, variant, size, message=message)

        return one

    return await loops.compared_loops(
        "discord.loop",
        [(variant, measure(variant)) for variant in variants],
        size,
        ctx.repetitions,
        rate_target=LOOP_RATE_TARGET,
        note=f"{members} members click through the starter campaign, each awaiting the next question",
    )


async def clicks_per_second(fake: FakeProcess, members: list[int], custom_id: str, until: str) -> float:
    await fake.call("members", ids=members)
    message = await fake.call("question", custom_id=custom_id)
    result = await fake.call(
        "click_all", ids=members, message=message, custom_id=custom_id, until=until, timeout=CLICK_TIMEOUT
    )
    await fake.call("settle", quiet=SETTLE_QUIET, timeout=SETTLE_TIMEOUT)
    if not result["complete"] or result["errors"]:
        raise RuntimeError(f"{result['answered']} of {len(members)} clicks answered; errors {result['errors']}")
    return float(result["answered"] / result["seconds"])


def unavailable(reason: str) -> list[Figure]:
    return [Figure(name, None, unit, target, note=reason) for name, unit, target in FIGURES]


async def run(ctx: Context) -> list[Figure]:
    try:
        from adapters.discord import configure_endpoints, run_discord
    except ImportError as error:
        return unavailable(f"the Discord adapter is not usable yet: {error}")
    clicks = QUICK_CLICKS if ctx.quick else FULL_CLICKS
    numbers = itertools.count(960_000_000_000_000_001)
    async with (
        FakeProcess("discord", time_scale=TIME_SCALE) as fake,
        engine_on(ctx.workdir / "discord.db") as engine,
    ):
        gateway = Gateway(fake)
        where = SpaceRef("discord", str(fake.info["guild"]), fake.info["guild_name"], False)

        async def measure_ours(_: int) -> float:
            members = [next(numbers) for _ in range(clicks)]
            # Known members (as after an earlier command): cached identities, the click is the work.
            users = [UserRef("discord", str(member), f"member{member}", "en-US") for member in members]
            await asyncio.gather(*(engine.context(user, where) for user in users))
            first = await engine.tasks.next_task(await engine.context(users[0], where))
            async with ours(engine, gateway, run_discord):
                return await clicks_per_second(fake, members, first.buttons[0][0].action, "reply")

        async def measure_bare(_: int) -> float:
            members = [next(numbers) for _ in range(clicks)]
            async with bare(gateway, configure_endpoints):
                return await clicks_per_second(fake, members, "bare-button", "ack")

        results = await interleaved(
            [("ours", measure_ours), ("bare", measure_bare)], min(ctx.repetitions, REPETITIONS), warmup=1
        )
        loop = await run_closed_loop(ctx, fake, gateway)
    note = f"{clicks} members click one shared message at once"
    return [
        measured("discord.ours", results["ours"], "clicks/s", note=note),
        measured("discord.bare_discord_py", results["bare"], "clicks/s", note=note),
        compared("discord.ours_vs_bare", results["ours"], results["bare"], RATIO_TARGET),
        *loop,
    ]
