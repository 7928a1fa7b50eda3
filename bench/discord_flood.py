"""Benchmark 9, on Discord: another member's ``/help`` while one member floods the bot, next to it calm.

On Discord every interaction gets its own response, which never waits for another's; what a flood costs
the neighbour is the work of getting through the flood's interactions first (they are ahead of the
``/help`` on the gateway), and whatever a flooded channel makes wait. The fake Discord (in a child
process) runs at Discord's real pace here: the 3-second acknowledgement window, a channel's 30 follow-ups
a minute (:class:`tests.fakes.discord.limits.FloodLimits`).

In each repetition a fresh member runs ``/help`` in the server's channel, timed on the server from the
interaction dispatched to the answer stored: *calm* with nothing else going on; *flooded* right after
another fresh member ran ``FLOOD`` ``/points`` at once in the same channel (the engine lets 15 through,
says "slow down" once and acknowledges the rest without a word: a private deferral, deleted); *bare*,
the same flood against a bare discord.py client that answers ``/points`` with one private line and
``/help`` with one line: the cost of the library and the protocol getting through the flood, and
nothing else. Clients take turns on the one fake (see :class:`bench.discord_e2e.Gateway`); each turn
connects afresh and waits until every interaction of its flood is acknowledged
(``flood.discord_late_acks`` counts those that took longer than Discord allows).

The target is on the bot's CPU time for the flood, not on the latency: a ``/help`` answered within tens
of milliseconds swings two- to fivefold on a shared machine from one run to the next, while the CPU a
flood costs is steady, and the neighbour waits for it. A silent refusal of a command costs two requests
(the deferral and its deletion) where the bare client's answer costs one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import discord
from discord import app_commands

from adapters.discord import configure_endpoints, run_discord
from bench.discord_e2e import Gateway, bare_client, ours
from bench.fakes import FakeProcess
from bench.runner import Context, Figure, Target, compared, interleaved, measured
from bench.world import engine_on

FLOOD = 300
ANSWER_TIMEOUT = 30.0
SETTLE_QUIET = 0.3
SETTLE_TIMEOUT = 60.0
CPU_TARGET = Target("<=", 3.0)  # measured 2.2 (0.67 ms an interaction against 0.30)
LATE_TARGET = Target("==", 0)


@asynccontextmanager
async def bare(gateway: Gateway, configure_endpoints: Any) -> AsyncIterator[None]:
    """A discord.py client with ``/help`` (one line) and ``/points`` (one private line), nothing else.

    It syncs nothing: the fake keeps the commands ours synced (the first turn is ours), and a command tree
    finds its command by name.
    """

    async def help_line(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("What you can do: …")

    async def points_line(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("⭐ You have 0 points.", ephemeral=True)

    def setup(client: discord.Client) -> None:
        tree = app_commands.CommandTree(client)
        server = discord.Object(gateway.fake.info["guild"])
        for name, callback in (("help", help_line), ("points", points_line)):
            tree.add_command(app_commands.Command(name=name, description=name, callback=callback), guild=server)

    async with bare_client(gateway, configure_endpoints, setup):
        yield


class Turn(NamedTuple):
    """One repetition of a variant."""

    help_ms: float  # the neighbour's /help, from dispatched to answered
    late: int  # interactions of the flood acknowledged after Discord's 3 seconds
    cpu_ms: float  # this process's CPU time (the bot's, not the fake's) from the flood to the flood settled


async def help_latency(fake: FakeProcess, neighbour: int, flooder: int, flood: int) -> Turn:
    """The neighbour's ``/help`` after ``flood`` ``/points`` from the flooder dispatched just before, and
    what getting through those cost the bot."""
    await fake.call("members", ids=[neighbour, flooder])
    cpu = time.process_time()
    if flood:
        await fake.call("flood", member=flooder, command="points", times=flood)
    seconds = await fake.call("ask", member=neighbour, command="help", timeout=ANSWER_TIMEOUT)
    if seconds is None:
        raise RuntimeError(f"/help was not answered within {ANSWER_TIMEOUT:.0f}s (flood of {flood})")
    late = await fake.call("flood_acked", timeout=ANSWER_TIMEOUT) if flood else 0
    if late is None:
        raise RuntimeError(f"some of the flood's {flood} interactions were never acknowledged")
    await fake.call("settle", quiet=SETTLE_QUIET, timeout=SETTLE_TIMEOUT)
    return Turn(float(seconds) * 1000, int(late), (time.process_time() - cpu) * 1000)


async def run(ctx: Context) -> list[Figure]:
    numbers = itertools.count(970_000_000_000_000_001)
    async with (
        FakeProcess("discord", flood_limits=True) as fake,
        engine_on(ctx.workdir / "discord-flood.db") as engine,
    ):
        gateway = Gateway(fake)

        async def calm(_: int) -> Turn:
            async with ours(engine, gateway, run_discord):
                return await help_latency(fake, next(numbers), next(numbers), 0)

        async def flooded(_: int) -> Turn:
            async with ours(engine, gateway, run_discord):
                return await help_latency(fake, next(numbers), next(numbers), FLOOD)

        async def flooded_bare(_: int) -> Turn:
            async with bare(gateway, configure_endpoints):
                return await help_latency(fake, next(numbers), next(numbers), FLOOD)

        results = await interleaved(
            [("calm", calm), ("flooded", flooded), ("bare", flooded_bare)], ctx.repetitions, warmup=1
        )
    help_ms = {name: [turn.help_ms for turn in turns] for name, turns in results.items()}
    cpu_ms = {name: [turn.cpu_ms for turn in turns] for name, turns in results.items()}
    late = max(turn.late for turns in results.values() for turn in turns)
    note = f"one member runs /points {FLOOD} times at once, then another /help, in one channel; Discord's pace"
    cpu_note = "the bot process's CPU time for the flood and the /help, the fake's excluded"
    return [
        measured("flood.discord_help_calm", help_ms["calm"], "ms", note="another member's /help, no flood"),
        measured("flood.discord_help_flooded", help_ms["flooded"], "ms", note=note),
        measured("flood.discord_help_flooded_bare", help_ms["bare"], "ms", note="a bare discord.py client"),
        compared("flood.discord_flooded_vs_calm", help_ms["flooded"], help_ms["calm"]),
        compared("flood.discord_flooded_vs_bare", help_ms["flooded"], help_ms["bare"]),
        measured("flood.discord_cpu_flooded", cpu_ms["flooded"], "ms", note=cpu_note),
        measured("flood.discord_cpu_flooded_bare", cpu_ms["bare"], "ms", note=cpu_note),
        compared("flood.discord_cpu_flooded_vs_bare", cpu_ms["flooded"], cpu_ms["bare"], CPU_TARGET),
        Figure("flood.discord_late_acks", float(late), "interactions", LATE_TARGET, note="worst repetition, > 3 s"),
    ]
