"""``python -m bench [--quick] [--out PATH] [--only NAME ...]``: run the benchmarks, print a table, write JSON.

Each benchmark runs in its own event loop, one after the other, in a scratch folder removed at the end.
A benchmark that fails is reported on stderr and in the JSON's ``errors``; the others still run, and the
command then exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from adapters.progress import progress
from bench.runner import Context, Figure, Stopwatch, table, write_json
from bench.world import REPO, isolate_environment

# In this order: growth builds the databases memory reuses.
BENCHMARKS = {
    "throughput": "bench.throughput",
    "votes": "bench.votes",
    "telegram": "bench.telegram_e2e",
    "discord": "bench.discord_e2e",
    "growth": "bench.growth",
    "broadcast": "bench.broadcast",
    "flood": "bench.flood",
    "memory": "bench.memory",
    "postgres": "bench.postgres",
    "quality": "bench.quality",
    "statements": "bench.statements",
    "insight": "bench.insight",
    "theme_edits": "bench.theme_edits",
    "dashboard": "bench.dashboard",
}
DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"
POSTGRES_URL_ENV = "CROWDPULSE_TEST_POSTGRES_URL"  # the tests' server


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer repetitions (< 1 minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file to write (default {DEFAULT_OUT})")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_URL_ENV, ""),
        help=f"PostgreSQL server for the postgres benchmark (default ${POSTGRES_URL_ENV}; it uses a schema of its own)",
    )
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), help="run only this benchmark")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    isolate_environment()  # after reading the arguments: the PostgreSQL URL's default comes from it
    chosen = [name for name in BENCHMARKS if name in (arguments.only or BENCHMARKS)]
    figures: list[Figure] = []
    errors: list[str] = []
    watch = Stopwatch()
    with (
        tempfile.TemporaryDirectory(prefix="crowdpulse-bench-") as scratch,
        progress("benchmarks", "progress_benchmarks", len(chosen)) as shown,
    ):
        ctx = Context(
            quick=arguments.quick,
            workdir=Path(scratch),
            repetitions=2 if arguments.quick else 5,
            postgres_url=arguments.postgres,
            log=shown.note,
        )
        for name in chosen:
            ctx.log(f"[{watch.elapsed:6.1f}s] {name} …")
            try:
                module = importlib.import_module(BENCHMARKS[name])
                found: list[Figure] = asyncio.run(module.run(ctx))
            except Exception:
                errors.append(f"{name}: {traceback.format_exc(limit=8)}")
                ctx.log(f"{name} failed:\n{errors[-1]}")
                continue
            finally:
                shown.advance()
            figures += found
            ctx.log(f"[{watch.elapsed:6.1f}s] {name}: {len(found)} figures")
    print(table(figures))
    print(f"\n{len(figures)} figures in {watch.elapsed:.0f}s → {arguments.out}")
    write_json(arguments.out, figures, quick=arguments.quick, seconds=watch.elapsed, errors=errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
