"""A bot under test in a process of its own: its CPU time is then its own, read from ``/proc/<pid>/stat``.

The closed-loop benchmarks compare the CPU a tap costs our bot with what it costs a bare library app.
In one process with the benchmark (and the other variant), the interpreter's time could not be told
apart; here each bot is a child whose user and system time the parent reads before and after a loop.

The child runs ``python -m bench.bot_process <platform> <variant> '<json options>'`` (the parent does
it) until its standard input closes; what it runs is the platform benchmark's ``run_bot`` (ours as
shipped, or the bare app), pointed at the fake server the options name.

Profiling: with ``BENCH_PROFILE_DIR=<folder>`` in the environment, each bot runs under cProfile and
leaves ``<platform>-<variant>-<pid>.prof`` there (``python -m pstats`` reads it): where a tap's CPU goes
in the event loop's thread (the SQLite threads are not in it).
"""

from __future__ import annotations

import asyncio
import cProfile
import importlib
import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.runner import end_child, python_child

STOP_SECONDS = 20.0
PROFILE_DIR_ENV = "BENCH_PROFILE_DIR"
MODULES = {"telegram": "bench.telegram_e2e", "discord": "bench.discord_e2e"}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BotProcess:
    """``async with BotProcess("telegram", "ours", info=fake.info, …) as bot:`` … ``bot.cpu_seconds()``."""

    def __init__(self, platform: str, variant: str, **options: Any) -> None:
        self.platform, self.variant, self.options = platform, variant, options
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        self._process = await python_child("bench.bot_process", self.platform, self.variant, json.dumps(self.options))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await end_child(self._process, STOP_SECONDS)

    @property
    def exited(self) -> int | None:
        """The exit status once the child is gone (a bot that failed to start), else ``None``."""
        return None if self._process is None else self._process.returncode

    def cpu_seconds(self) -> float:
        assert self._process is not None, "not started"
        return cpu_seconds(self._process.pid)


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def serve(platform: str, variant: str, options: dict[str, Any]) -> None:
    """Run the bot until the parent closes our standard input."""
    module = importlib.import_module(MODULES[platform])
    stop = asyncio.Event()
    bot = asyncio.create_task(module.run_bot(variant, options, stop), name=f"bench-{platform}-{variant}")
    watch = asyncio.create_task(_until_stdin_closes(), name="bench-stdin")
    await asyncio.wait({bot, watch}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    watch.cancel()
    await bot


def main(platform: str, variant: str, options: dict[str, Any]) -> None:
    folder = os.environ.get(PROFILE_DIR_ENV)
    if not folder:
        asyncio.run(serve(platform, variant, options))
        return
    with cProfile.Profile() as profile:
        asyncio.run(serve(platform, variant, options))
    profile.dump_stats(Path(folder) / f"{platform}-{variant}-{os.getpid()}.prof")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
