"""What every benchmark shares: figures and targets, interleaved repetitions, medians, the table, the JSON.

The machine is small and shared (2 cores, other test runs), so absolute numbers wander from run to run.
What stays meaningful is a comparison measured side by side: variants run in turn (A, B, A, B…), so a
slow spell of the machine hits both, and each figure is the median over the repetitions. Strict turns
also mean no variant runs twice in a row: a client's connection pool or a page cache left warm by the
measurement just before would favour one side. Ratios of such medians are the figures with targets;
absolute figures are context.
"""

from __future__ import annotations

import asyncio
import json
import math
import operator
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True, slots=True)
class Target:
    """A bound a figure must respect, written as it reads: ``Target(">=", 0.33)``."""

    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"unknown comparison {self.op!r}")

    def met_by(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One reported number. ``value`` is ``None`` when it could not be measured (``note`` says why)."""

    name: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""
    samples: tuple[float, ...] = ()  # the repetitions' values, when the figure is their median

    @property
    def meets(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met_by(self.value)

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": str(self.target) if self.target else None,
            "meets": self.meets,
        }
        if self.note:
            entry["note"] = self.note
        if self.samples:
            entry["samples"] = [round(sample, 6) for sample in self.samples]
        return entry


def measured(name: str, values: Iterable[float], unit: str, target: Target | None = None, note: str = "") -> Figure:
    """The median of the repetitions' values (kept in the JSON as ``samples``, to show the spread)."""
    samples = tuple(values)
    return Figure(name, median(samples), unit, target, note, samples)


def compared(
    name: str, numerators: Sequence[float], denominators: Sequence[float], target: Target | None = None, note: str = ""
) -> Figure:
    """The ratio of two interleaved variants' medians; each repetition's own ratio is kept as a sample."""
    samples = tuple(ratio(a, b) for a, b in zip(numerators, denominators, strict=True))
    return Figure(name, ratio(median(numerators), median(denominators)), "ratio", target, note, samples)


@dataclass(slots=True)
class Context:
    """What a benchmark is given: the mode, a scratch folder, and how many repetitions to run."""

    quick: bool
    workdir: Path
    repetitions: int
    postgres_url: str = ""  # a server for the PostgreSQL benchmark; none: its figures are n/a
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))


async def interleaved(
    variants: Sequence[tuple[str, Callable[[int], Awaitable[T]]]], repetitions: int, *, warmup: int = 0
) -> dict[str, list[T]]:
    """Run every variant once per repetition, always in the same turn (A, B, A, B…); results by variant.

    Each variant is called with the repetition number, so it can use fresh users or rows every time.
    ``warmup`` rounds run first and are dropped (numbered -1, -2, …): an HTTP client opens its pooled
    connections in its first bursts, which would otherwise be timed as part of one variant only.
    """
    for repetition in range(-warmup, 0):
        for _, run in variants:
            await run(repetition)
    results: dict[str, list[T]] = {name: [] for name, _ in variants}
    for repetition in range(repetitions):
        for name, run in variants:
            results[name].append(await run(repetition))
    return results


async def child_readings(module: str, *arguments: str, seconds: float, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``python -m module arguments…`` and read the JSON object it prints: a benchmark that measures
    a process's own memory runs in a fresh one, where nothing else has grown the heap."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *arguments, cwd=cwd, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(child.communicate(), seconds)
    if child.returncode != 0:
        raise RuntimeError(f"{module} exited with {child.returncode}")
    readings: dict[str, Any] = json.loads(output)
    return readings


async def python_child(module: str, *arguments: str, **pipes: Any) -> asyncio.subprocess.Process:
    """``python -m module arguments…`` with a pipe to its standard input (closing it is how the
    benchmark's children are told to stop, see :func:`end_child`); ``pipes`` as for asyncio's
    ``create_subprocess_exec`` (``stdout``, ``limit``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *arguments, stdin=asyncio.subprocess.PIPE, **pipes
    )


async def end_child(process: asyncio.subprocess.Process | None, seconds: float, farewell: bytes = b"") -> None:
    """Say ``farewell`` and close the child's standard input (its signal to stop), then wait ``seconds``
    for it to finish before killing it."""
    if process is None or process.stdin is None:
        return
    process.stdin.write(farewell)
    process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.99 for p99): a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


class Stopwatch:
    """Elapsed wall time in seconds since creation (``perf_counter``)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started


# reporting ----------------------------------------------------------------------------------------


def _shown(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (it pastes into the README as it is)."""
    rows = [("figure", "value", "unit", "target", "meets")]
    for figure in figures:
        meets = {True: "yes", False: "**no**", None: ""}[figure.meets]
        rows.append((figure.name, _shown(figure.value), figure.unit, str(figure.target or ""), meets))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def write_json(path: Path, figures: Sequence[Figure], *, quick: bool, seconds: float, errors: Sequence[str]) -> None:
    """The same figures as the table, with what the run happened on."""
    document = {
        "mode": "quick" if quick else "full",
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(seconds, 1),
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        },
        "figures": [figure.as_json() for figure in figures],
        "errors": list(errors),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
