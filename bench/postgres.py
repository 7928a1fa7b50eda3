"""Benchmark 8: engine throughput on PostgreSQL with one bot process and with four, side by side.

A community that outgrows one process runs several (webhook workers, Discord shards) against one
PostgreSQL database. Here each bot process is a real OS process with its own engine and its own store
(its own connections, nothing shared but the database), as in production. Members tap the first task's
button once (``engine.act``, as in :mod:`bench.throughput`); an answer counts once its COMMIT returned.

The same number of members tap at once in every variant, split evenly among the processes, so
``p4_vs_p1`` says what the three extra processes buy for the same offered load. The processes start
their engines first, wait at a barrier, then answer; the rate is every answer over the span from the
first process's start to the last one's end. Each process runs the default number of writer
connections (``storage.writers``); ``p1_vs_one_writer`` says what they buy over a single one. For scale,
the same run measures one process on SQLite (``p1_vs_sqlite``). ``retries_per_answer`` counts
transactions the server aborted to keep them serializable and that the store ran again.
``round_trips_per_answer`` and ``statements_per_answer`` are counted, not timed (:mod:`bench.pg_trips`).

The server comes from ``--postgres URL`` or ``CROWDPULSE_TEST_POSTGRES_URL`` (the one the tests use);
each run works in a schema of its own, dropped at the end. Without a server the figures are ``n/a``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from threading import Barrier
from typing import Any

from bench import pg_trips
from bench.runner import Context, Figure, compared, interleaved, measured
from bench.throughput import closed_loop
from bench.world import bench_settings, isolate_environment, person, space
from bot.app import running_engine, settle_startup_heap
from bot.replies import Outcome
from bot.settings import StorageSettings
from bot.store.postgres import PostgresStore, scratch_schema

PROCESSES = (1, 4)
CONCURRENCY = 200  # members tapping at once, in all processes together
FULL_ANSWERS = 4000  # per measurement, in all processes together
QUICK_ANSWERS = 800
DEFAULT_WRITERS = StorageSettings().writers
NO_SERVER = "no PostgreSQL server: pass --postgres URL or set CROWDPULSE_TEST_POSTGRES_URL"


@dataclass(frozen=True, slots=True)
class Share:
    """What one process did in one measurement (monotonic clock: comparable across processes)."""

    started: float
    finished: float
    answers: int
    retries: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement over all the processes of a variant."""

    per_second: float
    retries_per_answer: float


def answer_in_a_process(url: str, writers: int, tag: str, answers: int, concurrency: int, barrier: Barrier) -> Share:
    """A bot process: open an engine on ``url``, wait for the others, then have ``answers`` members answer."""
    isolate_environment()
    return asyncio.run(_answer(url, writers, tag, answers, concurrency, barrier))


async def _answer(url: str, writers: int, tag: str, answers: int, concurrency: int, barrier: Barrier) -> Share:
    settings = bench_settings(database=None, storage={"url": url, "writers": writers})
    async with running_engine(settings) as engine:
        settle_startup_heap()  # as `crowdpulse run` does once start-up is done (and bench.world.engine_on)
        where = space("throughput")
        first = await engine.tasks.next_task(await engine.context(person(0, prefix=f"{tag}-probe-"), where))
        token = first.buttons[0][0].action
        members = [person(number, prefix=f"{tag}-") for number in range(answers)]
        await asyncio.gather(*(engine.context(member, where) for member in members))
        refused: list[Outcome] = []

        async def answer(member: Any) -> None:
            reply = await engine.act(member, where, token)
            if reply.outcome != Outcome.DONE:
                refused.append(reply.outcome)

        retries = engine.services.store.retries if isinstance(engine.services.store, PostgresStore) else 0
        await asyncio.to_thread(barrier.wait)
        started = time.monotonic()
        await closed_loop(members, concurrency, answer)
        finished = time.monotonic()
        if refused:
            raise RuntimeError(f"{len(refused)} answers were not recorded: {set(refused)}")
        if isinstance(engine.services.store, PostgresStore):
            retries = engine.services.store.retries - retries
        return Share(started, finished, answers, retries)


class Deployment:
    """``processes`` bot processes on one database, measured together, each with ``writers`` connections
    running write transactions (on PostgreSQL)."""

    def __init__(
        self,
        pool: ProcessPoolExecutor,
        manager: Any,
        url: str,
        processes: int,
        answers: int,
        writers: int = DEFAULT_WRITERS,
    ) -> None:
        self.pool = pool
        self.manager = manager
        self.url = url
        self.processes = processes
        self.answers = answers
        self.writers = writers

    async def measure(self, repetition: int) -> Sample:
        barrier = self.manager.Barrier(self.processes)
        loop = asyncio.get_running_loop()
        shares: list[Share] = await asyncio.gather(
            *(
                loop.run_in_executor(
                    self.pool,
                    answer_in_a_process,
                    self.url,
                    self.writers,
                    f"r{repetition}p{self.processes}x{self.writers}w{worker}",
                    self.answers // self.processes,
                    CONCURRENCY // self.processes,
                    barrier,
                )
                for worker in range(self.processes)
            )
        )
        span = max(share.finished for share in shares) - min(share.started for share in shares)
        total = sum(share.answers for share in shares)
        return Sample(total / span, sum(share.retries for share in shares) / total)


async def run(ctx: Context) -> list[Figure]:
    if not ctx.postgres_url:
        return [Figure(f"postgres.p{n}.engine", None, "answers/s", note=NO_SERVER) for n in PROCESSES]
    answers = QUICK_ANSWERS if ctx.quick else FULL_ANSWERS
    spawn = multiprocessing.get_context("spawn")  # no threads or loops inherited from this process
    with (
        ExitStack() as stack,
        ProcessPoolExecutor(max(PROCESSES), mp_context=spawn) as pool,
        spawn.Manager() as manager,
    ):
        url = stack.enter_context(scratch_schema(ctx.postgres_url, prefix="bench"))
        sqlite_url = f"sqlite:///{ctx.workdir / 'postgres-vs-sqlite.db'}"
        variants: list[tuple[str, Callable[[int], Awaitable[Sample]]]] = [
            (f"p{n}", Deployment(pool, manager, url, n, answers).measure) for n in PROCESSES
        ]
        variants.append(("p1_one_writer", Deployment(pool, manager, url, 1, answers, writers=1).measure))
        variants.append(("sqlite", Deployment(pool, manager, sqlite_url, 1, answers).measure))
        await Deployment(pool, manager, url, max(PROCESSES), max(PROCESSES)).measure(-1)  # migrate, warm up
        results = await interleaved(variants, ctx.repetitions)
        counted = await pg_trips.figures(url)
    return figures(results, answers) + counted


def figures(results: dict[str, list[Sample]], answers: int) -> list[Figure]:
    rates = {name: [sample.per_second for sample in samples] for name, samples in results.items()}
    note = f"{answers} answers, {CONCURRENCY} members at once in all, {os.cpu_count()} cores"
    found = [measured(f"postgres.p{n}.engine", rates[f"p{n}"], "answers/s", note=note) for n in PROCESSES]
    found.append(measured("postgres.p1_one_writer.engine", rates["p1_one_writer"], "answers/s", note=note))
    found += [
        measured(f"postgres.p{n}.retries_per_answer", [s.retries_per_answer for s in results[f"p{n}"]], "retries")
        for n in PROCESSES
    ]
    found += [
        compared("postgres.p4_vs_p1", rates["p4"], rates["p1"], note="same offered load, split among 4 processes"),
        compared(
            "postgres.p1_vs_one_writer",
            rates["p1"],
            rates["p1_one_writer"],
            note=f"one process, {DEFAULT_WRITERS} writer connections against one",
        ),
        compared("postgres.p1_vs_sqlite", rates["p1"], rates["sqlite"], note="one process each, same load"),
    ]
    return found
