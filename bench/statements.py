"""Benchmark 11: SQL statements per answer, counted on SQLite: what a tap costs the database, exactly.

Unlike the timed benchmarks this figure does not wander with the machine, so it shows what a change adds
to or takes from the answer path: members whose identity is already resolved each answer the starter
campaign's first question (a single choice) through ``engine.act``, and every statement the store's
connections run meanwhile (the writer's and the reader's) is counted with SQLite's trace callback.
The steps of triggers (leaderboards, histograms, guards) are counted apart: they run inside the database,
within the statement that fired them. Then as many other members answer at once, so their answers share
group commits, whose per-batch statements (the members' rows, the netted histogram) are counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from bench.runner import Context, Figure
from bench.world import engine_on, person, replaced, space

MEMBERS = 50
FIRST_QUESTION_CHOICE = 1  # "Latte": an answer with no follow-up condition, the same path for everyone


class StatementCount:
    """Statements run while ``on``, over every connection traced.

    SQLite's trace reports each step a trigger takes as the statement that fired it, again: ``sent``
    counts a statement once however many trigger steps follow it (what crosses from the engine to the
    database, a round trip on PostgreSQL), ``steps`` counts them all (the work inside the database).
    """

    def __init__(self) -> None:
        self.on = False
        self.sent = 0
        self.steps = 0
        self._last = ""

    def trace(self, statement: str) -> None:
        if not self.on:
            return
        self.steps += 1
        self.sent += statement != self._last
        self._last = statement


@contextlib.contextmanager
def counted_statements() -> Iterator[StatementCount]:
    """Trace every SQLite connection opened inside the block (the store's writer and reader)."""
    connect = sqlite3.connect
    counter = StatementCount()

    def traced(*args: Any, **kwargs: Any) -> Any:
        db = connect(*args, **kwargs)
        db.set_trace_callback(counter.trace)
        return db

    with replaced(sqlite3, "connect", traced):
        yield counter


async def run(ctx: Context) -> list[Figure]:
    here = space("statements")
    with counted_statements() as counting:
        async with engine_on(ctx.workdir / "statements.db") as engine:
            answered = 0
            token = ""
            for number in range(MEMBERS):
                member = person(number, prefix="statements-")
                question = await engine.tasks.next_task(await engine.context(member, here))
                token = question.buttons[0][FIRST_QUESTION_CHOICE].action
                counting.on = True
                await engine.act(member, here, token)
                counting.on = False
                answered += 1
            alone = (counting.sent, counting.steps)
            together = [person(number, prefix="together-") for number in range(MEMBERS)]
            await asyncio.gather(*(engine.context(member, here) for member in together))
            counting.on = True  # the same answer from every member at once: they share group commits
            await asyncio.gather(*(engine.act(member, here, token) for member in together))
            counting.on = False
    note = f"{MEMBERS} members with resolved identities, one answer each through engine.act, on SQLite"
    return [
        Figure("statements.per_answer", alone[0] / answered, "statements", None, note),
        Figure("statements.per_answer_with_trigger_steps", alone[1] / answered, "steps", None, note),
        Figure(
            "statements.per_answer_in_group_commit",
            (counting.sent - alone[0]) / MEMBERS,
            "statements",
            None,
            f"{MEMBERS} other members answering the same question at once, sharing group commits",
        ),
    ]
