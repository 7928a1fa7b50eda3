"""Benchmark 7: peak resident memory of a bot process serving a large community.

A child process (``python -m bench.memory``) opens the engine on the largest database the growth
benchmark generated (1M answers and 1M members; ``--quick``: 10k), then does what a busy bot does:
resolves 100k distinct members (``--quick``: all 10k), which fills the engine's identity cache to its
limit, serves a sample of them their next task, an answer and ``/top``, and finally closes the round that
holds the answers and renders its results (every answer of the round is read and tallied). It reports
its resident set size after start-up and after the identities, and its peak (``VmHWM``) before the
results and at the end; and the peak of its theme worker (the process where the closed round's typed
answers are clustered, :mod:`bot.features.themes.worker`), so the memory theming takes is seen too.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

from bench.datagen import platform_id, populated
from bench.runner import Context, Figure, Target, child_readings
from bench.world import PLATFORM, engine_on, isolate_environment, moderator
from bot.commands import dispatch
from bot.features.themes import worker
from bot.identity import SpaceRef, UserRef

FULL_MEMBERS = 100_000
FULL_SIZE = 1_000_000  # the growth benchmark's largest database
QUICK_SIZE = 10_000
SAMPLES = 1000
CHUNK = 2000  # identities resolved concurrently
PEAK_TARGET = Target("<", 300)
CHILD_TIMEOUT = 300.0


def status_mib(field: str, process: int | str = "self") -> float:
    """A memory figure of this process (or of the process whose pid is ``process``) from
    ``/proc/<process>/status`` (Linux), in MiB.

    ``VmHWM``, the peak, belongs to the process's own memory map, which ``exec`` starts afresh; the
    ``ru_maxrss`` of ``getrusage`` would not do: Linux carries it across ``exec``, so a child would report
    the peak of the benchmark process that forked it.
    """
    for line in Path(f"/proc/{process}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{process}/status")


async def theme_worker_peak() -> float:
    """The theme worker's peak resident set (``VmHWM``, MiB), 0 if this process never started it: the
    memory theming takes lives there (:mod:`bot.features.themes.worker`), not in the bot process."""
    if not worker.running():
        return 0.0
    return status_mib("VmHWM", await worker.run("os:getpid"))


async def serve(database: Path, members: int) -> dict[str, float]:
    """The child's work; returns its memory readings."""
    async with engine_on(database) as engine:
        where = SpaceRef(PLATFORM, "growth", "Growth", False)
        readings = {"after_start": status_mib("VmRSS")}
        users = [UserRef(PLATFORM, platform_id(number), f"Member {number}", "en") for number in range(1, members + 1)]
        for start in range(0, len(users), CHUNK):
            await asyncio.gather(*(engine.context(user, where) for user in users[start : start + CHUNK]))
        readings["after_identities"] = status_mib("VmRSS")
        for user in users[:: max(1, members // SAMPLES)]:
            reply = await engine.tasks.next_task(await engine.context(user, where))
            if reply.buttons:
                await engine.act(user, where, reply.buttons[0][0].action)
            await engine.points.leaderboard(await engine.context(user, where))
        readings["peak_serving"] = status_mib("VmHWM")
        await dispatch(engine, moderator(), where, "/round close 1")
        await engine.render_outbox({"render": "round_results", "round_id": 1})
        readings["peak"] = status_mib("VmHWM")
        readings["theme_worker_peak"] = await theme_worker_peak()
    return readings


async def run(ctx: Context) -> list[Figure]:
    size = QUICK_SIZE if ctx.quick else FULL_SIZE
    members = min(size, FULL_MEMBERS)
    population = populated(ctx.workdir, size, size)
    copy = ctx.workdir / "memory.db"  # the child closes a round: keep the shared database as it was
    shutil.copyfile(population.path, copy)
    readings = await child_readings("bench.memory", str(copy), str(members), seconds=CHILD_TIMEOUT)
    note = f"{size:,} answers, {members:,} members served"
    return [
        Figure("memory.rss_after_start", readings["after_start"], "MiB"),
        Figure("memory.rss_after_identities", readings["after_identities"], "MiB", note=note),
        Figure(
            "memory.peak_rss_before_results",
            readings["peak_serving"],
            "MiB",
            note="before closing the round and rendering its results",
        ),
        Figure("memory.peak_rss", readings["peak"], "MiB", PEAK_TARGET, note=note),
        Figure(
            "memory.theme_worker_peak",
            readings["theme_worker_peak"],
            "MiB",
            note="the theme worker process's own peak (VmHWM): the closed round's clustering, outside the bot",
        ),
    ]


if __name__ == "__main__":
    isolate_environment()
    print(json.dumps(asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))))
