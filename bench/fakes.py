"""The test suite's fake Telegram and Discord servers, run in a child process the benchmark drives.

Why a child process: the fakes do real work for every request (parsing HTML, validating components,
copying messages). In the bot's process that work would compete for the same interpreter and be charged
to whichever variant makes more requests, while on Telegram's and Discord's side it costs us nothing.

The parent talks to the child in JSON lines: ``{"op": name, "args": {...}}`` in, ``{"ok": result}`` or
``{"error": traceback}`` out. The child's first line describes the server (its URLs, its token). What
the child does for each ``op`` lives in :mod:`bench.fake_worlds`; timings that start with a click and end
with the server seeing the answer are taken there, on the server's side.

Run as ``python -m bench.fakes <world> '<json options>'`` (the parent does it).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import sys
import traceback
from types import TracebackType
from typing import Any

from bench.bot_process import cpu_seconds
from bench.runner import end_child, python_child

LINE_LIMIT = 1 << 26  # a request naming thousands of members is one line
STOP_SECONDS = 10.0


class FakeProcess:
    """A fake server in a child process: ``async with FakeProcess("telegram") as fake: await fake.call(...)``."""

    def __init__(self, world: str, **options: Any) -> None:
        self.world = world
        self.options = options
        self.info: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> FakeProcess:
        self._process = await python_child(
            "bench.fakes", self.world, json.dumps(self.options), stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT
        )
        self.info = await self._receive()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await end_child(self._process, STOP_SECONDS, b'{"op": "stop"}\n')

    def cpu_seconds(self) -> float:
        """The child's CPU time so far (the fake server and the members it plays), in seconds."""
        assert self._process is not None, "not started"
        return cpu_seconds(self._process.pid)

    async def call(self, op: str, **args: Any) -> Any:
        """Run ``op`` in the child and return its result (a child-side exception is re-raised here)."""
        assert self._process is not None, "not started"
        assert self._process.stdin is not None
        async with self._lock:
            self._process.stdin.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
            await self._process.stdin.drain()
            return await self._receive()

    async def _receive(self) -> Any:
        assert self._process is not None
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake {self.world} server process exited ({await self._process.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"fake {self.world} server: {reply['error']}")
        return reply["ok"]


# the child ----------------------------------------------------------------------------------------


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def keep_history_out_of_collections() -> None:
    """Before each request of the parent: what the fake holds so far out of the cyclic collector's sight.

    A fake keeps everything (every message, interaction and request: the history tests read back), so
    its heap only grows: a million objects by the end of the Discord benchmark, each full collection
    walking all of them again (23 of them took 8.4 s of the fake's 16.7 s of CPU, the longest 0.96 s),
    whenever the young objects of some step happened to trigger one. Which variant's measurement a
    pause landed in was chance, as was the figure it left. Frozen (``gc.freeze``, constant time), the
    collector sees only what the current step made, whichever step it is; objects freed by reference
    counting are still freed, and a cycle made before the freeze stays in the child until it exits.
    """
    gc.freeze()


async def serve(world_name: str, options: dict[str, Any]) -> None:
    """Start the world, announce it, then run the parent's requests one by one until ``stop``."""
    worlds = importlib.import_module("bench.fake_worlds")
    world = worlds.WORLDS[world_name](**options)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with world:
        _reply({"ok": world.info})
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "stop":
                break
            keep_history_out_of_collections()
            try:
                result = await getattr(world, f"op_{request['op']}")(**request.get("args", {}))
            except Exception:
                _reply({"error": traceback.format_exc()})
            else:
                _reply({"ok": result})


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], json.loads(sys.argv[2])))
