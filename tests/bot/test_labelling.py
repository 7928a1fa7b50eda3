"""Labelling jobs through the engine, with seeded simulated members: careful ones and spammers label a job of
short comments with hidden gold; spammers are held back within a few gold answers, careful members never
are, items settle at the confidence asked, the overlap holds, and gold items cannot be told apart."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.settings import load_settings
from tests.conftest import FakeClock
from tests.helpers import button, last

OPTIONS = ("Praise", "Complaint", "Question")
CAP, MIN, CONFIDENCE = 5, 3, 0.9
JOB = f"""
[campaign]
id = "comments"
title = "Sort our comments"
objective = "Sort what customers wrote so the right person reads it."

[campaign.quality]
gold_share = 0.25
min_gold = 3
exclude_below = 0.6
min_seconds = 2

[[campaign.tasks]]
id = "tone"
kind = "single_choice"
prompt = "Is this comment praise, a complaint or a question?"
options = {list(OPTIONS)!r}
items = "comments.csv"
overlap = {{ min = {MIN}, max = {CAP}, confidence = {CONFIDENCE} }}

[[campaign.tasks]]
id = "service"
kind = "rating"
prompt = "How was the service today?"
"""
ITEMS = 30
GOLD = {3, 7, 11, 15, 19, 23, 27}  # their known answers are never "Praise", a spammer's constant pick


def truth(number: int) -> str:
    return OPTIONS[1 + number % 2] if number in GOLD else OPTIONS[number % 3]


def comment(number: int) -> str:
    return f"Comment {number}: the text a customer wrote"


def write_items(folder: Path, numbers: range | list[int]) -> None:
    lines = ["id,text,known_answer"]
    lines += [f"c{n},{comment(n)},{truth(n) if n in GOLD else ''}" for n in numbers]
    (folder / "comments.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
async def job(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Engine]:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "comments.toml").write_text(JOB, encoding="utf-8")
    write_items(catalog, range(ITEMS))
    settings = load_settings(
        catalog_dir=catalog, storage={"path": tmp_path / "crowdpulse.db"}, limits={"per_second": 1000, "burst": 1000}
    )
    async with running_engine(settings, clock) as ready:
        ready.services.catalog.item_files.recheck_seconds = 0  # see an edited item file at once
        yield ready


def shown_item(reply: Reply) -> int | None:
    """The comment number a reply shows, or ``None`` when it is not one of the job's items."""
    found = re.search(r"Comment (\d+):", to_plain(reply.text))
    return int(found.group(1)) if found else None


class Member:
    """A simulated member: picks the truth with probability ``accuracy``, or always the first option."""

    def __init__(self, user: UserRef, accuracy: float | None, rng: random.Random) -> None:
        self.user, self.accuracy, self.rng = user, accuracy, rng
        self.toasts: dict[bool, set[str]] = {True: set(), False: set()}  # by gold or not
        self.shapes: dict[bool, set[tuple[str, ...]]] = {True: set(), False: set()}

    def pick(self, number: int) -> str:
        if self.accuracy is None:
            return OPTIONS[0]
        if self.rng.random() < self.accuracy:
            return truth(number)
        return self.rng.choice([option for option in OPTIONS if option != truth(number)])


async def label_until_done(
    engine: Engine, members: list[Member], cafe: SpaceRef, clock: FakeClock
) -> dict[str, list[str]]:
    """Members take turns answering what they are shown until none is shown a job item; the last texts."""
    replies = {
        m.user.platform_user_id: await engine.tasks.next_task(await engine.context(m.user, cafe)) for m in members
    }
    seen: dict[str, list[str]] = {m.user.platform_user_id: [] for m in members}
    active = list(members)
    while active:
        for member in list(active):
            key = member.user.platform_user_id
            reply = replies[key]
            number = shown_item(reply)
            if number is None:
                active.remove(member)
                continue
            clock.advance(seconds=3)
            member.shapes[number in GOLD].add(tuple(b.label for row in reply.buttons for b in row))
            outcome = await engine.act(member.user, cafe, button(reply, member.pick(number)))
            if outcome.outcome == Outcome.REFUSED:  # settled while it waited on screen: the next one follows
                assert "enough answers already" in to_plain(outcome.text) and outcome.follow_up is not None
            else:
                assert outcome.outcome == Outcome.DONE, to_plain(outcome.text)
                member.toasts[number in GOLD].add(outcome.notice)
            seen[key] += [to_plain(r.text) for r in outcome.chain()]
            replies[key] = last(outcome)
    return seen


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

    for spammer in spammers:  # held back after their first few gold answers, and told so politely
        quality = members[ids[spammer.user.platform_user_id]]
        assert quality.excluded and quality.evidence.gold_answers <= 4
        texts = "\n".join(seen[spammer.user.platform_user_id])
        assert "No labelling tasks for you right now" in texts
        assert "How was the service today?" in texts  # polls still reach them
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
    first = shown[0]
    number = shown_item(first)
    assert number is not None
    token = button(first, OPTIONS[0])  # everyone taps the first member's item at once (replayed tokens)
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
    assert offered == {number, 100}
    states = {item.key: item for item in await store.labelling.items_of((await store.rounds.round(1) or first).id)}  # type: ignore[union-attr]
    assert states[f"c{number}"].answers == 2  # Ana's answer kept
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
