"""Benchmark 1: answers recorded per second through ``engine.act``, against two floors, side by side.

Each member taps the first task's button once (``engine.act``); the call returns after the commit that
holds the answer (the engine's group commit), so every counted answer is durable in the mode measured:

* ``NORMAL`` (WAL, ``synchronous=NORMAL``, the default): an acknowledged answer survives the bot process
  crashing; a power cut or kernel crash may lose the last commits (the database stays consistent).
* ``FULL`` (WAL, ``synchronous=FULL``): every commit is fsynced before it is acknowledged, so an
  acknowledged answer also survives a power cut.

N members act concurrently (a closed loop: each starts its next member as soon as one is answered).
Members are known to the engine beforehand (their identity is cached, as after ``/start``), so the
figure is the answer path itself. The floors store the same rows in a table with the answers' columns
and UNIQUE constraint, with the same durability:

* ``raw``: plain ``sqlite3``, one transaction per row, no event loop (what one fsync per row costs);
* ``aiosqlite``: rows awaited concurrently, one commit per batch of whatever is waiting (the engine's
  group commit with nothing else around it), each row its own ``execute`` so each gets its own result.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite

from bench.runner import Context, Figure, Stopwatch, Target, compared, interleaved, measured, median, percentile
from bench.world import engine_on, person, space
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome
from bot.store.sqlite import SqliteStore

DURABILITIES = ("NORMAL", "FULL")
CONCURRENCY = (1, 100, 1000)
FULL_ANSWERS = {1: 200, 100: 1000, 1000: 2000}  # answers per measurement, by concurrency
QUICK_ANSWERS = {1: 30, 100: 200, 1000: 1000}
RAW_ROWS = {"NORMAL": 2000, "FULL": 500}

ANSWERS_TABLE = """CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, round_id INTEGER NOT NULL, task_id TEXT NOT NULL, user_id INTEGER NOT NULL,
    value TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (round_id, user_id, task_id))"""
INSERT = (
    "INSERT INTO answers (round_id, task_id, user_id, value, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
Row = tuple[int, str, int, str, str]
T = TypeVar("T")

THROUGHPUT_TARGET = Target(">=", 10_000)
RATIO_TARGET = Target(">=", 0.33)
P99_TARGET = Target("<", 20)
CPU_NOTE = "process CPU time (all threads) over the closed loop: a busy machine disturbs it less than the rates"


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: rows or answers per second, with per-answer latencies when there are any."""

    per_second: float
    latencies_ms: tuple[float, ...] = ()
    commits: int = 0
    cpu_us: float = 0.0  # the process's CPU time (every thread) per answer or row


async def closed_loop(items: Sequence[T], concurrency: int, act: Callable[[T], Awaitable[object]]) -> Sample:
    """``concurrency`` workers take the next item as soon as their last one is done."""
    queue: Iterator[T] = iter(items)
    latencies: list[float] = []

    async def worker() -> None:
        for item in queue:
            watch = Stopwatch()
            await act(item)
            latencies.append(watch.elapsed * 1000)

    watch = Stopwatch()
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.process_time() - cpu
    return Sample(len(items) / watch.elapsed, tuple(latencies), cpu_us=spent / len(items) * 1e6)


class EngineVariant:
    """The real engine on its own database, members answering the first task in a shared space."""

    def __init__(self, engine: Engine, numbers: Iterator[int]) -> None:
        self.engine = engine
        self.space: SpaceRef = space("throughput")
        self.numbers = numbers
        self.token = ""

    async def prepare(self) -> None:
        first = await self.engine.tasks.next_task(await self.engine.context(person(next(self.numbers)), self.space))
        self.token = first.buttons[0][0].action

    async def measure(self, answers: int, concurrency: int) -> Sample:
        members = [person(next(self.numbers)) for _ in range(answers)]
        await asyncio.gather(*(self.engine.context(member, self.space) for member in members))
        refused: list[Outcome] = []

        async def answer(member: UserRef) -> None:
            reply = await self.engine.act(member, self.space, self.token)
            if reply.outcome != Outcome.DONE:
                refused.append(reply.outcome)

        commits = self.commits()
        sample = await closed_loop(members, concurrency, answer)
        if refused:
            raise RuntimeError(f"{len(refused)} answers were not recorded: {set(refused)}")
        return Sample(sample.per_second, sample.latencies_ms, self.commits() - commits, sample.cpu_us)

    def commits(self) -> int:
        """Group commits so far (the SQLite store counts them)."""
        store = self.engine.services.store
        return store.commits if isinstance(store, SqliteStore) else 0


class BatchedAiosqlite:
    """The floor the engine's group commit is compared with: aiosqlite, one COMMIT per waiting batch."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self.queue: asyncio.Queue[tuple[Row, asyncio.Future[int]] | None] = asyncio.Queue()
        self.db: aiosqlite.Connection | None = None
        self.writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA journal_mode = WAL")
        await self.db.execute(f"PRAGMA synchronous = {self.synchronous}")
        await self.db.execute(ANSWERS_TABLE)
        self.writer = asyncio.create_task(self._write_loop())

    async def stop(self) -> None:
        await self.queue.put(None)
        if self.writer is not None:
            await self.writer
        if self.db is not None:
            await self.db.close()

    async def insert(self, row: Row) -> int:
        """Store one row; returns 1 once it is committed (0 for a duplicate)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self.queue.put((row, future))
        return await future

    async def _write_loop(self) -> None:
        assert self.db is not None
        stopping = False
        while not stopping:
            first = await self.queue.get()
            if first is None:
                return
            batch = [first]
            while not self.queue.empty():
                item = self.queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self.db.execute("BEGIN IMMEDIATE")
            counts = [(await self.db.execute(INSERT, row)).rowcount for row, _ in batch]
            await self.db.execute("COMMIT")
            for (_, future), count in zip(batch, counts, strict=True):
                future.set_result(count)

    async def measure(self, rows: list[Row], concurrency: int) -> Sample:
        return await closed_loop(rows, concurrency, self.insert)


def raw_inserts(path: Path, synchronous: str, rows: list[Row]) -> Sample:
    """Plain sqlite3 on the event loop's thread: BEGIN, INSERT, COMMIT for every row."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute(ANSWERS_TABLE)
        watch = Stopwatch()
        for row in rows:
            db.execute("BEGIN IMMEDIATE")
            db.execute(INSERT, row)
            db.execute("COMMIT")
        return Sample(len(rows) / watch.elapsed)
    finally:
        db.close()


def answer_rows(numbers: Iterator[int], count: int) -> list[Row]:
    return [(1, "drink", next(numbers), "0", "2026-01-05T10:00:00+00:00") for _ in range(count)]


async def run(ctx: Context) -> list[Figure]:
    answers = QUICK_ANSWERS if ctx.quick else FULL_ANSWERS
    numbers = itertools.count(1)
    variants: list[tuple[str, Callable[[int], Awaitable[Sample]]]] = []
    floors: list[BatchedAiosqlite] = []
    async with (
        engine_on(ctx.workdir / "throughput-normal.db") as normal,
        engine_on(ctx.workdir / "throughput-full.db", storage={"synchronous": "FULL"}) as full,
    ):
        for durability, engine in zip(DURABILITIES, (normal, full), strict=True):
            subject = EngineVariant(engine, numbers)
            await subject.prepare()
            floor = BatchedAiosqlite(ctx.workdir / f"floor-aiosqlite-{durability.lower()}.db", durability)
            await floor.start()
            floors.append(floor)
            raw_path = ctx.workdir / f"floor-raw-{durability.lower()}.db"
            variants.append((f"raw {durability}", _raw(raw_path, durability, numbers, RAW_ROWS[durability])))
            for users in CONCURRENCY:
                count = answers[users]
                variants.append((f"engine {durability} {users}", _engine(subject, count, users)))
                variants.append((f"aiosqlite {durability} {users}", _floor(floor, numbers, count, users)))
        try:
            results = await interleaved(variants, ctx.repetitions)
        finally:
            for floor in floors:
                await floor.stop()
    return figures(results)


def _engine(subject: EngineVariant, count: int, users: int) -> Callable[[int], Awaitable[Sample]]:
    return lambda _: subject.measure(count, users)


def _floor(
    floor: BatchedAiosqlite, numbers: Iterator[int], count: int, users: int
) -> Callable[[int], Awaitable[Sample]]:
    return lambda _: floor.measure(answer_rows(numbers, count), users)


def _raw(path: Path, durability: str, numbers: Iterator[int], count: int) -> Callable[[int], Awaitable[Sample]]:
    async def measure(_: int) -> Sample:
        return raw_inserts(path, durability, answer_rows(numbers, count))

    return measure


def figures(results: dict[str, list[Sample]]) -> list[Figure]:
    found: list[Figure] = []
    for durability in DURABILITIES:
        mode = durability.lower()
        default = durability == "NORMAL"
        for users in CONCURRENCY:
            engine = results[f"engine {durability} {users}"]
            floor = results[f"aiosqlite {durability} {users}"]
            rates = [sample.per_second for sample in engine]
            floor_rates = [sample.per_second for sample in floor]
            prefix = f"throughput.{mode}.n{users}"
            found += [
                measured(
                    f"{prefix}.engine", rates, "answers/s", THROUGHPUT_TARGET if default and users == 1000 else None
                ),
                Figure(f"{prefix}.engine_p50", median(percentile(s.latencies_ms, 0.5) for s in engine), "ms"),
                Figure(
                    f"{prefix}.engine_p99",
                    median(percentile(s.latencies_ms, 0.99) for s in engine),
                    "ms",
                    P99_TARGET if default and users < 1000 else None,
                    "closed loop: latency ~ users / throughput (Little's law)" if users > 1 else "",
                ),
                measured(f"{prefix}.aiosqlite_batched", floor_rates, "rows/s"),
                Figure(
                    f"{prefix}.aiosqlite_p99",
                    median(percentile(s.latencies_ms, 0.99) for s in floor),
                    "ms",
                    None,
                    "the floor's own p99 in the same run: what this machine allows any store" if users > 1 else "",
                ),
                compared(f"{prefix}.engine_vs_aiosqlite", rates, floor_rates, RATIO_TARGET),
                compared(
                    f"{prefix}.engine_p99_vs_aiosqlite",
                    [percentile(s.latencies_ms, 0.99) for s in engine],
                    [percentile(s.latencies_ms, 0.99) for s in floor],
                    None,
                    "the engine's p99 over the floor's, repetition by repetition: what the code adds to what the"
                    " machine allows",
                ),
                Figure(f"{prefix}.engine_cpu", median(s.cpu_us for s in engine), "µs/answer", None, CPU_NOTE),
                Figure(f"{prefix}.aiosqlite_cpu", median(s.cpu_us for s in floor), "µs/row", None, CPU_NOTE),
            ]
        big = results[f"engine {durability} 1000"]
        found.append(
            Figure(
                f"throughput.{mode}.n1000.answers_per_commit",
                median(len(s.latencies_ms) / max(s.commits, 1) for s in big),
                "answers",
            )
        )
        raw = [sample.per_second for sample in results[f"raw {durability}"]]
        found.append(measured(f"throughput.{mode}.raw_sqlite3", raw, "rows/s"))
    return found
