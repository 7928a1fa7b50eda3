"""Benchmark 2: members voting on the same ten ideas at once, through ``engine.ideas.vote``.

Every member upvotes each of the ten ideas, in their own random order, all members concurrently; one in
ten taps one of their votes twice (a double tap must not count). The figure is recorded votes per
second; ``votes_exact`` is 1 only when, after every repetition, each idea's count, its vote rows and its
vote events all equal the number of members.
"""

from __future__ import annotations

import asyncio
import itertools
import random

from bench.runner import Context, Figure, Stopwatch, Target, measured
from bench.world import engine_on, person, space
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome

IDEAS = 10
FULL_MEMBERS = 1000
QUICK_MEMBERS = 200
TOPICS = (
    "oat milk at no extra cost",
    "a quiet corner for laptop work",
    "longer opening hours on Sundays",
    "a loyalty card on the phone",
    "vegan pastries every morning",
    "board games on Thursday nights",
    "more power sockets by the window",
    "a weekly cupping session",
    "reusable cups with a discount",
    "live acoustic music on Fridays",
)


async def submit_ideas(engine: Engine, where: SpaceRef, repetition: int) -> list[int]:
    """Ten ideas by ten authors who will not vote (a vote on one's own idea is refused)."""
    ids = []
    for number, topic in enumerate(TOPICS[:IDEAS]):
        author = person(number, prefix=f"author{repetition}-")
        await engine.ideas.submit(await engine.context(author, where), f"Round {repetition}: {topic}", force=True)
        ids.append(int(await engine.services.store.fetchval("SELECT MAX(id) FROM ideas")))
    return ids


async def vote_all(engine: Engine, where: SpaceRef, voters: list[UserRef], ideas: list[int], seed: int) -> int:
    """Every voter votes on every idea concurrently; returns how many votes were recorded."""
    chooser = random.Random(seed)
    plans = []
    for position, voter in enumerate(voters):
        order = chooser.sample(ideas, len(ideas))
        if position % 10 == 0:
            order.insert(chooser.randrange(len(order)), order[0])  # a double tap
        plans.append((voter, order))
    recorded = 0

    async def member(voter: UserRef, order: list[int]) -> None:
        nonlocal recorded
        for idea in order:
            reply = await engine.ideas.vote(await engine.context(voter, where), idea, True)
            recorded += reply.outcome == Outcome.DONE

    await asyncio.gather(*(member(voter, order) for voter, order in plans))
    return recorded


async def exact(engine: Engine, ideas: list[int], voters: int) -> bool:
    marks = ",".join("?" * len(ideas))
    counts = await engine.services.store.fetchall(
        f"SELECT i.votes, (SELECT COUNT(*) FROM votes v WHERE v.idea_id = i.id),"
        f" (SELECT COUNT(*) FROM vote_events e WHERE e.idea_id = i.id) FROM ideas i WHERE i.id IN ({marks})",
        ideas,
    )
    return len(counts) == len(ideas) and all(tuple(row) == (voters, voters, voters) for row in counts)


async def run(ctx: Context) -> list[Figure]:
    members = QUICK_MEMBERS if ctx.quick else FULL_MEMBERS
    numbers = itertools.count(1)
    rates: list[float] = []
    all_exact = True
    async with engine_on(ctx.workdir / "votes.db") as engine:
        where = space("votes")
        for repetition in range(ctx.repetitions):
            ideas = await submit_ideas(engine, where, repetition)
            voters = [person(next(numbers)) for _ in range(members)]
            await asyncio.gather(*(engine.context(voter, where) for voter in voters))
            watch = Stopwatch()
            recorded = await vote_all(engine, where, voters, ideas, seed=repetition)
            rates.append(recorded / watch.elapsed)
            all_exact &= recorded == members * len(ideas) and await exact(engine, ideas, members)
    return [
        measured("votes.votes_per_s", rates, "votes/s", note=f"{members} members x {IDEAS} ideas"),
        Figure("votes.votes_exact", float(all_exact), "bool", Target("==", 1)),
    ]
