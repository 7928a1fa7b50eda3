"""Labelling jobs through the engine, with seeded simulated members: careful ones and spammers label a job of
short comments with hidden gold; spammers are held back within a few gold answers, careful members never
are, items settle at the confidence asked, the overlap holds, and gold items cannot be told apart."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome
from tests.conftest import FakeClock
from tests.helpers import button, last
from tests.labelling_crowd import (
    CAP,
    CONFIDENCE,
    GOLD,
    ITEMS,
    MIN_GOLD,
    OPTIONS,
    Member,
    job_engine,
    label_until_done,
    shown_item,
    truth,
    write_items,
)


@pytest.fixture
async def job(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Engine]:
    async with job_engine(tmp_path, clock) as ready:
        yield ready


async def test_a_seeded_crowd_labels_the_job(
    job: Engine, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    rng = random.Random(18)
    careful = [Member(person(f"Careful{i}"), 0.9, rng) for i in range(7)]
    spammers = [Member(person(f"Spam{i}"), None, rng) for i in range(3)]
    seen = await label_until_done(job, careful + spammers, cafe, clock)
    store = job.services.store
    (record,) = await store.rounds.open_in((await job.context(careful[0].user, cafe)).space_id, "tasks")
    members = {m.user_id: m for m in await store.labelling.members_of(record.id)}
    ids = {m.user.platform_user_id: (await job.context(m.user, cafe)).user_id for m in careful + spammers}

    held = 0
    for spammer in spammers:  # held back at their min_gold-th gold answer (if the job lasts), told politely
        quality = members[ids[spammer.user.platform_user_id]]
        texts = "\n".join(seen[spammer.user.platform_user_id])
        assert "How was the service today?" in texts  # polls reach them in any case
        if quality.evidence.gold_answers < MIN_GOLD:  # gold comes mixed in with work: the job ended first
            assert not quality.excluded
            continue
        held += 1
        assert quality.excluded and quality.evidence.gold_answers == MIN_GOLD
        assert "No labelling tasks for you right now" in texts
    assert held >= 1  # under the tests' fixed key (tests/labelling_crowd.py); which ones depends on the draws
    assert not any(members[ids[m.user.platform_user_id]].excluded for m in careful)

    items = await store.labelling.items_of(record.id)
    assert all(item.answers <= CAP for item in items if item.gold is None)  # gold items never settle
    settled = [item for item in items if item.status == "retired"]
    assert len(settled) >= ITEMS - len(GOLD) - 3
    assert all(item.gold is None for item in settled)  # gold never retires
    for item in settled:
        assert item.answers == CAP or (item.confidence is not None and item.confidence >= CONFIDENCE)
    right = sum(OPTIONS[int(item.label or "0")] == truth(int(item.key[1:])) for item in settled)
    assert right >= 0.9 * len(settled)

    for member in careful + spammers:  # a gold item looks and pays exactly like any other
        if member.toasts[True] and member.toasts[False]:
            assert member.toasts[True] == member.toasts[False]
            assert member.shapes[True] == member.shapes[False]


async def test_many_members_on_one_item_never_pass_its_overlap(
    job: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    crowd = [person(f"M{i}") for i in range(12)]
    shown = [await job.tasks.next_task(await job.context(user, cafe)) for user in crowd]
    first = next(reply for reply in shown if shown_item(reply) not in GOLD)  # gold takes any number of answers
    number = shown_item(first)
    assert number is not None
    token = button(first, OPTIONS[0])  # everyone taps that member's item at once (replayed tokens)
    outcomes = await asyncio.gather(*(job.act(user, cafe, token) for user in crowd))
    recorded = [o for o in outcomes if o.outcome == Outcome.DONE]
    assert 1 <= len(recorded) <= CAP
    store = job.services.store
    answers = await store.fetchval("SELECT answers FROM label_items WHERE item_key = ?", (f"c{number}",))
    rows = await store.fetchval(
        "SELECT COUNT(*) FROM label_answers a JOIN label_items i ON i.id = a.item_id WHERE i.item_key = ?",
        (f"c{number}",),
    )
    assert answers == rows == len(recorded)


async def test_an_item_file_edited_while_the_job_runs(
    job: Engine, person: Callable[..., UserRef], cafe: SpaceRef, tmp_path: Path
) -> None:
    ana = person("Ana")
    first = await job.tasks.next_task(await job.context(ana, cafe))
    number = shown_item(first)
    assert number is not None
    answered = await job.act(ana, cafe, button(first, OPTIONS[0]))
    assert answered.outcome == Outcome.DONE
    write_items(tmp_path / "catalog", [number, 100])  # every other item removed, one new
    store = job.services.store
    bob = person("Bob")
    offered: set[int | None] = set()
    reply = await job.tasks.next_task(await job.context(bob, cafe))
    while (shown := shown_item(reply)) is not None:
        offered.add(shown)
        reply = last(await job.act(bob, cafe, button(reply, OPTIONS[1])))
    # a gold item comes only mixed in with real work, so whether Bob met it depends on his draws
    assert {100} | ({number} - GOLD) <= offered <= {number, 100}
    states = {item.key: item for item in await store.labelling.items_of(1)}
    assert states[f"c{number}"].answers == 1 + (number in offered)  # Ana's answer kept
    assert all(state.status == "withdrawn" for key, state in states.items() if key not in (f"c{number}", "c100"))


async def test_a_forged_or_stale_label_changes_nothing(
    job: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    ana = person("Ana")
    reply = await job.tasks.next_task(await job.context(ana, cafe))
    token = button(reply, OPTIONS[2])
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (await job.act(ana, cafe, forged)).outcome == Outcome.STALE
    assert (await job.act(ana, cafe, token)).outcome == Outcome.DONE
    again = await job.act(ana, cafe, token)
    assert again.outcome == Outcome.ALREADY_DONE
    assert await job.services.store.fetchval("SELECT COUNT(*) FROM label_answers") == 1
    assert await job.services.store.fetchval("SELECT SUM(answers) FROM label_items") == 1
