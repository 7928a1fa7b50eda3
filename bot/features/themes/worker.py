"""The theme worker: one child process per bot process, where every clustering and language detection runs.

Why a process. Theming loads numpy, scipy and scikit-learn (~80 MB of resident memory) and py3langid's
model (~75 MB), and a full run of a large question holds every text and its TF-IDF matrix at once. In
the bot (or dashboard) process that memory would stay after the first theming, beside the members'
requests; measured by ``python -m bench --only dashboard``, it put a 1,000,000-answer CSV export at
224 MiB over the process's baseline against a 100 MB target. In a worker, the bot process never imports
them, and the worker's cost is its own (the benchmark reports its peak as well). A process also keeps
the clustering's CPU work off the event loop's GIL.

Shape. One :class:`~concurrent.futures.ProcessPoolExecutor` with a single worker for the whole Python
process, started by the first call (``spawn``: a fresh interpreter, not a fork of the bot's memory and
threads) and shared by every engine of the process (a test suite builds hundreds; a worker start costs
a second or two). What the worker keeps between calls (the clusterings, see
:mod:`bot.features.themes.runs`) is keyed by its caller's namespace, so two engines never share one.
One worker serialises the calls, which is also what keeps two pages asking at once from clustering a
question twice. An engine closing drops its own runs only (:meth:`RoundThemes.forget
<bot.features.rounds.themes.RoundThemes.forget>`): the process's other engines share the worker, which
:mod:`concurrent.futures` stops and joins at the interpreter's exit. A worker that died (killed, out of
memory) breaks the pool: the call starts a new worker and runs again once, with an empty cache (a full
run).

Calls name their function as ``"module:function"``, imported in the worker, so the bot process never
imports the modules that do the work (``tests/test_layering.py`` checks that no other module imports
them). Like any ``spawn`` start, the worker imports the launching program's main module first (the
``crowdpulse`` script: :mod:`adapters.cli`, a few MB), so a script that themes keeps its own work under
``if __name__ == "__main__":``, as every entry point of the project does.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_pool: ProcessPoolExecutor | None = None
_guard = threading.Lock()  # engines on several event loops (threads) may start the pool at once


def _ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group: the bot stops its worker itself, in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(target: str, *args: Any) -> Any:
    """In the worker: import ``module:function`` and call it."""
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)(*args)


def _current(broken: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor:
    """The process's pool, started when there is none (or when it is ``broken``, unless another caller
    replaced it already)."""
    global _pool
    with _guard:
        if _pool is None or _pool is broken:
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_ignore_interrupts)
        return _pool


async def run(target: str, *args: Any) -> Any:
    """``module:function(*args)`` called in the worker (arguments and result pickled), awaited without
    blocking the event loop; run once more in a new worker if the worker died."""
    pool = _current()
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(pool, _call, target, *args)
    except BrokenProcessPool:
        return await loop.run_in_executor(_current(broken=pool), _call, target, *args)


def running() -> bool:
    """Whether this process has started its worker (nothing to tell a worker that never started)."""
    return _pool is not None
