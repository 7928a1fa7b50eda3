"""Round trips and statements per answer on PostgreSQL, counted from libpq's protocol trace.

Part of ``python -m bench --only postgres``. Unlike the timed figures these do not wander with the
machine: members answer one after the other (each answer its own transaction, the worst case: answers
arriving together share a COMMIT), on one writer connection whose protocol messages libpq writes to a
file. A round trip is the client turning from sending to reading what the server sent (one wait on the
network); a statement is a ``Bind`` (extended protocol) or a ``Query`` (simple protocol).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import bot.store.postgres as postgres_store
from bench.runner import Figure
from bench.world import bench_settings, person, replaced, space
from bot.app import running_engine

ANSWERS = 50


class Tracer:
    """Traces every connection the PostgreSQL store opens while ``on``, each into a file of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.connections: list[Any] = []
        self.files: list[IO[str]] = []  # open until tracing stops: libpq writes to their descriptors
        self.on = False

    def start(self, db: Any) -> None:
        self.files.append((self.folder / f"trace-{len(self.files)}.log").open("w"))
        db.raw.pgconn.trace(self.files[-1].fileno())

    def begin(self) -> None:
        """Trace the connections opened so far, and those opened from now on."""
        self.on = True
        for db in self.connections:
            self.start(db)

    def end(self) -> tuple[int, int]:
        """Stop tracing (libpq flushes its buffer); (round trips, statements) traced."""
        for db in self.connections:
            db.raw.pgconn.untrace()
        trips = statements = 0
        for opened in self.files:
            opened.close()
            last = ""
            for line in Path(opened.name).read_text().splitlines():
                fields = line.split("\t")
                if len(fields) < 4:
                    continue
                trips += fields[1] == "B" and last == "F"
                statements += fields[1] == "F" and fields[3].startswith(("Bind", "Query"))
                last = fields[1]
        return trips, statements


@contextlib.contextmanager
def tracer(folder: Path) -> Iterator[Tracer]:
    """A :class:`Tracer` of the connections the PostgreSQL store opens inside the block."""
    connect = postgres_store.connect
    found = Tracer(folder)

    def traced(url: str) -> Any:
        db = connect(url)
        found.connections.append(db)
        if found.on:
            found.start(db)
        return db

    with replaced(postgres_store, "connect", traced):
        yield found


async def figures(url: str) -> list[Figure]:
    note = f"{ANSWERS} answers one after the other, one writer connection, from libpq's protocol trace"
    with tempfile.TemporaryDirectory(prefix="crowdpulse-trace-") as folder, tracer(Path(folder)) as tracing:
        settings = bench_settings(database=None, storage={"url": url, "writers": 1})
        async with running_engine(settings) as engine:
            where = space("throughput")
            first = await engine.tasks.next_task(await engine.context(person(0, prefix="trips-probe-"), where))
            token = first.buttons[0][0].action
            await engine.act(person(0, prefix="trips-probe-"), where, token)  # every connection opened
            members = [person(number, prefix="trips-") for number in range(ANSWERS)]
            for member in members:
                await engine.context(member, where)
            tracing.begin()
            for member in members:
                await engine.act(member, where, token)
            trips, statements = tracing.end()
    return [
        Figure("postgres.round_trips_per_answer", trips / ANSWERS, "round trips", None, note),
        Figure("postgres.statements_per_answer", statements / ANSWERS, "statements", None, note),
    ]
