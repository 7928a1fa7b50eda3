"""Many taps at once: the database keeps one answer per user per task and one award per answer."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.engine import Engine
from bot.ratelimit import RateLimiter
from bot.replies import Outcome
from tests.helpers import button, ledger_rows, open_task


async def test_two_hundred_simultaneous_taps_record_one_answer_and_one_award(engine: Engine, person, cafe) -> None:
    engine.interactions = RateLimiter(1e6, 10**6)  # the flood limit would refuse most taps first: test the database
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "What do you order")
    tokens = [button(reply, label) for label in ("Espresso", "Latte", "Tea", "Hot chocolate")]
    replies = await asyncio.gather(*(engine.act(ana, cafe, tokens[i % 4]) for i in range(200)))
    outcomes = Counter(reply.outcome for reply in replies)
    assert outcomes == {Outcome.DONE: 1, Outcome.ALREADY_DONE: 199}
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers") == 1
    ctx = await engine.context(ana, cafe)
    assert [row[1] for row in await ledger_rows(engine, ctx.user_id)] == ["answer"]
    assert await engine.services.store.fetchval("SELECT SUM(answers) FROM task_counts") == 1


async def test_hundreds_of_members_answering_at_once_are_all_recorded(engine: Engine, person, cafe) -> None:
    members = [person(f"M{i}") for i in range(300)]
    firsts = await asyncio.gather(*(open_task(engine, member, cafe, "What do you order") for member in members))
    replies = await asyncio.gather(
        *(engine.act(member, cafe, button(first, "Latte")) for member, first in zip(members, firsts, strict=True))
    )
    assert all(reply.outcome == Outcome.DONE for reply in replies)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers") == 300
    assert await engine.services.store.fetchval("SELECT SUM(answers) FROM task_counts WHERE task_id = 'drink'") == 300
    total = await engine.services.store.fetchval("SELECT SUM(points) FROM scores WHERE scope = 'all'")
    assert total == await engine.services.store.fetchval("SELECT SUM(delta) FROM ledger") == 300 * 5
    assert engine.services.store.commits < 300, "answers waiting together share a commit"


async def test_taps_in_flight_when_the_round_cache_runs_out_share_one_read(engine: Engine, person, cafe) -> None:
    """A thousand members answering would otherwise read the same open rounds a thousand times when the
    cache runs out: the taps waiting meanwhile get one read's result (the very same list)."""
    rounds = engine.open_rounds
    space_id = (await engine.context(person("Ana"), cafe)).space_id
    opened = await rounds.of_space(space_id)
    rounds.forget(space_id)
    shared = await asyncio.gather(*(rounds.of_space(space_id) for _ in range(50)))
    assert all(found is shared[0] for found in shared)
    assert [record.id for record in shared[0]] == [record.id for record in opened]
    rounds.forget(space_id)
    by_id = await asyncio.gather(*(rounds.round(space_id, opened[0].id) for _ in range(50)))
    assert all(found is by_id[0] for found in by_id)
    assert by_id[0] is not None and by_id[0].id == opened[0].id


async def test_a_round_read_in_flight_is_not_joined_after_the_cache_is_dropped(engine: Engine, person, cafe) -> None:
    """Opening or closing a round drops the space's cache: what is asked next is read after the change."""
    rounds = engine.open_rounds
    space_id = (await engine.context(person("Ana"), cafe)).space_id
    await rounds.of_space(space_id)
    rounds.forget(space_id)
    before = asyncio.ensure_future(rounds.of_space(space_id))
    await asyncio.sleep(0)  # its read is under way
    rounds.forget(space_id)
    after = await rounds.of_space(space_id)
    assert after is not await before
