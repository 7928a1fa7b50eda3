"""Benchmark 13: the dashboard (issue 20) on a large community, through a real HTTP server.

- Pages: the Overview, the open round's page and the Ideas page of a generated community of 100,000
  members, 1,000,000 answers and 10,000 ideas (``--quick``: 2,000, 10,000 and 300), each requested
  ``REQUESTS`` times in turn (Overview, round, Ideas, Overview…) by a teammate signed in with a password,
  over keep-alive HTTP to uvicorn on 127.0.0.1 in this process. Figures: p50 and p95 of each page's
  time from request to last byte, target p95 < 200 ms (the loopback and the client add well under a
  millisecond). Every response must be the page (status 200, its heading), or the benchmark fails.
- Export: the peak memory of streaming a round's CSV export of 1,000,000 answers (every answer in one
  round: 111,112 members; ``--quick``: 10,000), in a child process (``python -m bench.dashboard DB``)
  running the same server and a client that reads the body and drops it. The figure is the child's
  ``VmHWM`` (its peak resident set, the whole process's, not Python's heap alone) minus its ``VmRSS``
  once the engine runs and the teammate has signed in, the peak reset then (the sign-in's argon2id hash
  is not the export's); target < 100 MB. Then the same export again, the peak reset again
  (``themes_cached``): the round's themes are then known to the process (the clustering
  kept in the theme worker, the answers' themes here), as in a dashboard where the round's page was
  opened; the export's own cost. The clustering itself runs in the theme worker
  (:mod:`bot.features.themes.worker`), whose own peak resident set is reported too
  (``theme_worker_peak``, its whole ``VmHWM``): the memory theming takes, outside the dashboard process.

Databases come from :mod:`bench.dashboard_data` and are cached between runs (the first full run writes
two million-answer files, several minutes; later runs copy them, seconds).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from adapters.dashboard.server import build_app
from adapters.progress import progress
from bench.dashboard_data import CACHE, PASSWORD, TEAMMATE, Sizes, cached_community, working_copy
from bench.datagen import SPACE_ID
from bench.memory import status_mib, theme_worker_peak
from bench.runner import Context, Figure, Stopwatch, Target, child_readings, interleaved, percentile
from bench.world import REPO, engine_on, isolate_environment

PAGE_TARGET = Target("<", 200)
EXPORT_TARGET = Target("<", 100)
OPEN_ROUND = 1  # datagen's open round: it holds most answers
PAGES = {  # figure name: (path under the community, the page's heading)
    "overview": ("", "<h1>Overview</h1>"),
    "round": (f"/rounds/{OPEN_ROUND}", f"<h1>Round #{OPEN_ROUND}"),
    "ideas": ("/ideas", "<h1>Ideas</h1>"),
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CHILD_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run measures: the pages' community, the export's, and how often each page is read."""

    pages: Sizes
    export: Sizes
    requests: int
    cache: Path = CACHE


FULL = Plan(Sizes(100_000, 1_000_000, 10_000), Sizes(111_112, 1_000_000, 0, one_round=True), requests=40)
QUICK = Plan(Sizes(2_000, 10_000, 300), Sizes(2_000, 10_000, 0, one_round=True), requests=5)


@asynccontextmanager
async def signed_in(database: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard over ``database`` served by uvicorn on a free port of 127.0.0.1, and a client signed
    in there as the generated teammate."""
    async with engine_on(database) as engine:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(build_app(engine), log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        try:
            while not server.started:
                if serving.done():
                    serving.result()  # the server failed to start: say why
                await asyncio.sleep(0.01)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
                form = await client.get("/signin")
                token = _CSRF.search(form.text)
                assert token is not None, "the sign-in form carries a CSRF token"
                answer = await client.post(
                    "/signin", data={"name": TEAMMATE, "password": PASSWORD, "csrf": token.group(1)}
                )
                assert answer.status_code == 303, f"signing in answered {answer.status_code}"
                yield client
        finally:
            server.should_exit = True
            await serving
            listening.close()


async def page_times(database: Path, requests: int) -> dict[str, list[float]]:
    """Each page's times in milliseconds, the pages read in turn ``requests`` times (after one warm-up)."""
    async with signed_in(database) as client:

        def reader(path: str, heading: str) -> Callable[[int], Awaitable[float]]:
            async def read(_: int) -> float:
                watch = Stopwatch()
                page = await client.get(f"/c/{SPACE_ID}{path}")
                elapsed = 1000 * watch.elapsed
                if page.status_code != 200 or heading not in page.text:
                    raise RuntimeError(f"{path or '/'} answered {page.status_code}: {page.text[:300]!r}")
                return elapsed

            return read

        variants = [(name, reader(path, heading)) for name, (path, heading) in PAGES.items()]
        return await interleaved(variants, requests, warmup=1)


async def export_readings(database: Path) -> dict[str, float]:
    """The child's work: sign in, then twice: reset the peak (``/proc/self/clear_refs``), note the resident
    memory and stream the open round's CSV export.

    The peak is reset before the first export too: signing in with a password hashes it with argon2id,
    whose 64 MiB are freed at once but stay in ``VmHWM``; before the reset, that sign-in counted as
    64 MiB of the first export's figure, which is the export's alone now.

    The first export is the process's first theming of the round: reading its typed answers, sending them
    to the theme worker (started then) and holding the themes it answers count in its peak; the clustering
    itself, and scikit-learn, are the worker's (its peak is read last). The second reads the themes the
    first left in the themes' cache, as any export does once a teammate has opened the round's page
    (which themes it in the background): its baseline holds the themes, and its peak is the export's own."""
    async with signed_in(database) as client:
        first = await _export(client)
        second = await _export(client)
    worker = {"theme_worker_peak": await theme_worker_peak()}
    return {**first, **{f"warm_{key}": value for key, value in second.items()}, **worker}


async def _export(client: httpx.AsyncClient) -> dict[str, float]:
    """One streamed CSV export of the open round, its body read and dropped: memory, time and size."""
    await asyncio.to_thread(Path("/proc/self/clear_refs").write_text, "5")  # VmHWM := VmRSS (Linux ≥ 4.0)
    baseline = status_mib("VmRSS")
    watch = Stopwatch()
    size = lines = 0
    async with client.stream("GET", f"/c/{SPACE_ID}/rounds/{OPEN_ROUND}/export.csv") as response:
        if response.status_code != 200:
            raise RuntimeError(f"the export answered {response.status_code}")
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return {
        "baseline": baseline,
        "peak_over_baseline": status_mib("VmHWM") - baseline,
        "seconds": watch.elapsed,
        "rows": lines - 1,  # the header; generated values hold no line breaks
        "mib": size / 2**20,
    }


async def measure(ctx: Context, plan: Plan) -> list[Figure]:
    """Generate (or reuse) both communities, time the pages, then measure the export in a child."""
    databases = {}
    for name, sizes in (("pages", plan.pages), ("export", plan.export)):
        with progress(f"dashboard {name} community {sizes.key}", "progress_rows") as shown:
            databases[name] = working_copy(cached_community(sizes, plan.cache, shown.update), ctx.workdir)
    ctx.log("dashboard: communities ready")
    times = await page_times(databases["pages"], plan.requests)
    ctx.log("dashboard: pages timed")
    readings = await child_readings("bench.dashboard", str(databases["export"]), seconds=CHILD_TIMEOUT, cwd=REPO)
    pages = plan.pages
    note = f"{pages.members:,} members, {pages.answers:,} answers, {pages.ideas:,} ideas; {plan.requests} requests"
    figures = []
    for name, samples in times.items():
        figures.append(Figure(f"dashboard.{name}.p50", percentile(samples, 0.5), "ms", note=note))
        figures.append(Figure(f"dashboard.{name}.p95", percentile(samples, 0.95), "ms", PAGE_TARGET, note))
    export_note = (
        f"{readings['rows']:,.0f} rows ({readings['mib']:.0f} MiB) in {readings['seconds']:.1f} s;"
        f" VmHWM over VmRSS once signed in ({readings['baseline']:.0f} MiB)"
    )
    figures.append(
        Figure(
            "dashboard.export_csv.peak_over_baseline", readings["peak_over_baseline"], "MiB", EXPORT_TARGET, export_note
        )
    )
    warm_note = (
        f"the same export again, the round's themes cached by the first (as after its page was opened);"
        f" VmHWM reset, over VmRSS then ({readings['warm_baseline']:.0f} MiB); {readings['warm_seconds']:.1f} s"
    )
    figures.append(
        Figure(
            "dashboard.export_csv.themes_cached.peak_over_baseline",
            readings["warm_peak_over_baseline"],
            "MiB",
            note=warm_note,
        )
    )
    figures.append(
        Figure(
            "dashboard.export_csv.theme_worker_peak",
            readings["theme_worker_peak"],
            "MiB",
            note="the theme worker's own peak resident set (VmHWM, not over a baseline): the round's clustering",
        )
    )
    return figures


async def run(ctx: Context) -> list[Figure]:
    return await measure(ctx, QUICK if ctx.quick else FULL)


if __name__ == "__main__":
    isolate_environment()
    print(json.dumps(asyncio.run(export_readings(Path(sys.argv[1])))))
