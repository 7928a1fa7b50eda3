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


def counted(monkeypatch, owner: object, name: str, reads: Counter[str]) -> None:
    """Count the calls of ``owner.name``, which still does its work."""
    real = getattr(owner, name)

    async def counting(*args: object) -> object:
        reads[name] += 1
        return await real(*args)

    monkeypatch.setattr(owner, name, counting)


async def test_taps_in_flight_when_the_space_and_promotion_caches_run_out_share_one_read_each(
    engine: Engine, person, cafe, monkeypatch
) -> None:
    """A space's community and the promoted options are cached for seconds too: when those run out, the
    taps in flight share one read of each instead of making one each."""
    members = [person(f"M{i}") for i in range(50)]
    await engine.context(members[0], cafe)
    store, reads = engine.services.store, Counter[str]()
    counted(monkeypatch, store.members, "ensure_space", reads)
    counted(monkeypatch, store.themes, "promoted", reads)
    engine.forget_place(cafe)
    engine.promotions.forget()
    contexts = await asyncio.gather(*(engine.context(member, cafe) for member in members))
    options = await asyncio.gather(*(engine.promotions.all() for _ in members))
    assert reads == {"ensure_space": 1, "promoted": 1}
    assert len({ctx.space_id for ctx in contexts}) == 1
    assert all(found is options[0] for found in options)


async def test_a_promotions_read_in_flight_when_this_process_promotes_is_not_kept(engine: Engine, monkeypatch) -> None:
    """Promoting an option here drops the cache: a read that began before it, landing after, keeps
    nothing, so the next question is built from a read made after the promotion."""
    promotions, reads = engine.promotions, Counter[str]()
    counted(monkeypatch, engine.services.store.themes, "promoted", reads)
    promotions.forget()  # as when the cache has run out
    before = asyncio.ensure_future(promotions.all())
    await asyncio.sleep(0)  # its read is under way
    promotions.forget()
    await before
    await promotions.all()
    await promotions.all()
    assert reads["promoted"] == 2


async def test_a_new_spaces_first_taps_together_open_its_standing_rounds_once(
    engine: Engine, person, cafe, monkeypatch
) -> None:
    """A new space's first taps all find no open round: the standing rounds are opened once, in the read
    they share, rather than once by each of them."""
    store, calls = engine.services.store, Counter[str]()
    counted(monkeypatch, store.rounds, "open", calls)
    counted(monkeypatch, store.rounds, "open_in", calls)
    space_id = (await engine.context(person("Ana"), cafe)).space_id
    found = await asyncio.gather(*(engine.open_rounds.of_space(space_id) for _ in range(50)))
    standing = [campaign.id for campaign in engine.services.catalog.campaigns.values() if campaign.auto_open]
    assert calls == {"open": len(standing), "open_in": 2}  # nothing open, then the rounds just opened
    assert sorted(record.subject for record in found[0]) == sorted(standing)
    assert all(rounds is found[0] for rounds in found)


async def test_a_text_form_opened_on_a_question_just_asked_reads_no_round(
    engine: Engine, person, cafe, monkeypatch
) -> None:
    """Opening a free-text form names a round but no space: the open rounds' cache still holds the round
    the question was asked from (one read fewer per form on Discord); once it is dropped, it is read."""
    ana = person("Ana")
    asked = (await open_task(engine, ana, cafe, "change one thing")).text_input
    assert asked is not None
    reads = Counter[str]()
    counted(monkeypatch, engine.services.store.rounds, "round", reads)
    assert await engine.text_input(ana, asked.action) == asked
    assert reads["round"] == 0
    engine.open_rounds.forget_everywhere()
    assert await engine.text_input(ana, asked.action) == asked
    assert reads["round"] == 1
