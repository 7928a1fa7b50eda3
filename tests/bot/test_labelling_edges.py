"""Labelling jobs at their edges: transcription items typed and settled after normalisation, an image gone at
serve time, answers too fast to be read, "Can't tell" and "Enough for now", and paying on agreement."""

from __future__ import annotations

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

JOBS = """
[campaign]
id = "signs"
title = "Help us read the old menus"
objective = "Type what the old menu boards say, and sort the photos."

[campaign.quality]
gold_share = 0.0
min_seconds = 2
pay_on_agreement = {pay}

[[campaign.tasks]]
id = "board"
kind = "free_text"
prompt = "Type what this board says."
max_length = 60
items = "boards.csv"
overlap = {{ min = 3, max = 4, confidence = 0.6 }}

[[campaign.tasks]]
id = "photo"
kind = "image_label"
prompt = "What is in this photo?"
options = ["Croissant", "Muffin"]
items = "photos.csv"
overlap = {{ min = 2, max = 3, confidence = 0.8 }}
"""


def catalog(folder: Path, *, pay: bool) -> Path:
    folder.mkdir()
    (folder / "signs.toml").write_text(JOBS.format(pay=str(pay).lower()), encoding="utf-8")
    (folder / "boards.csv").write_text("id,text\nb1,CAFÉ CRÈME 3 LEI\n", encoding="utf-8")
    pastry = Path(__file__).resolve().parents[2] / "tasks_catalog" / "images" / "pastry.png"
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(pastry.read_bytes())
    (folder / "photos.csv").write_text("id,image\nph1,a.png\nph2,b.png\n", encoding="utf-8")
    return folder


async def engine_on(tmp_path: Path, clock: FakeClock, *, pay: bool) -> AsyncIterator[Engine]:
    settings = load_settings(
        catalog_dir=catalog(tmp_path / "catalog", pay=pay),
        storage={"path": tmp_path / "crowdpulse.db"},
        limits={"per_second": 1000, "burst": 1000},
    )
    async with running_engine(settings, clock) as ready:
        yield ready


@pytest.fixture
async def jobs(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Engine]:
    async for ready in engine_on(tmp_path, clock, pay=False):
        yield ready


@pytest.fixture
async def paying(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Engine]:
    async for ready in engine_on(tmp_path, clock, pay=True):
        yield ready


async def first_question(engine: Engine, member: UserRef, cafe: SpaceRef) -> Reply:
    return await engine.tasks.next_task(await engine.context(member, cafe))


async def test_transcriptions_settle_on_the_most_common_text_after_normalisation(
    jobs: Engine, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    typed = ["Cafe creme 3 lei", "CAFÉ CRÈME  3 LEI", "café crème 3 lei.", "Cafe cream 3 lei"]
    for number, words in enumerate(typed[:3]):
        member = person(f"Reader{number}")
        asked = await first_question(jobs, member, cafe)
        assert "CAFÉ CRÈME 3 LEI" in to_plain(asked.text) and asked.text_input is not None
        clock.advance(seconds=5)
        reply = await jobs.text_message(member, cafe, words)
        assert reply is not None and reply.outcome == Outcome.DONE, to_plain(reply.text if reply else "")
    (item,) = [item for item in await jobs.services.store.labelling.items_of(1) if item.task_id == "board"]
    assert (item.status, item.answers, item.label) == ("retired", 3, "cafe creme 3 lei")
    late = await first_question(jobs, person("Late"), cafe)
    assert "CAFÉ CRÈME" not in to_plain(late.text)  # settled: served no more


async def test_an_image_gone_at_serve_time_is_withdrawn_and_the_next_one_served(
    jobs: Engine, person: Callable[..., UserRef], cafe: SpaceRef, tmp_path: Path
) -> None:
    ana = person("Ana")
    asked = await first_question(jobs, ana, cafe)
    asked = last(await jobs.act(ana, cafe, button(asked, "Enough for now")))  # leave the board job
    assert asked.image is not None
    (tmp_path / "catalog" / "a.png").unlink()
    bob = person("Bob")
    shown = last(await jobs.act(bob, cafe, button(await first_question(jobs, bob, cafe), "Enough for now")))
    assert shown.image is not None and Path(shown.image.path).name == "b.png"
    states = {item.key: item for item in await jobs.services.store.labelling.items_of(1)}
    assert (states["ph1"].status, states["ph1"].note) == ("withdrawn", "image missing at serve time")


async def test_too_fast_answers_are_flagged_and_cant_tell_is_no_vote(
    jobs: Engine, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    ana = person("Ana")
    board = await first_question(jobs, ana, cafe)
    passed = await jobs.act(ana, cafe, button(board, "Can't tell"))
    assert passed.outcome == Outcome.DONE and "Passed" in to_plain(passed.text)
    photo = last(passed)
    assert photo.image is not None  # the board is not asked again: the photo job is next
    clock.advance(seconds=0.5)
    fast = await jobs.act(ana, cafe, button(photo, "Muffin"))
    assert fast.outcome == Outcome.DONE
    store = jobs.services.store
    rows = await store.fetchall("SELECT value, flags FROM label_answers ORDER BY id")
    assert [(row[0], row[1]) for row in rows] == [(None, ""), ("1", "too_fast")]
    assert await store.fetchval("SELECT SUM(answers) FROM label_items WHERE task_id = 'board'") == 0
    (member,) = await store.labelling.members_of(1)
    assert (member.answers, member.too_fast) == (1, 1)


async def test_paying_on_agreement_credits_the_agreeing_members_when_the_item_settles(
    paying: Engine, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    """No gold yet, so every member weighs the same: each photo settles at its overlap's maximum (three
    answers) on the majority, and only the two members who agreed with it are paid, once per photo."""
    votes = {"Ana": "Muffin", "Bob": "Muffin", "Cleo": "Croissant"}
    ids: dict[str, int] = {}
    for name, choice in votes.items():
        member = person(name)
        ids[name] = (await paying.context(member, cafe)).user_id
        photo = last(
            await paying.act(member, cafe, button(await first_question(paying, member, cafe), "Enough for now"))
        )
        while photo.image is not None:
            clock.advance(seconds=5)
            reply = await paying.act(member, cafe, button(photo, choice))
            assert reply.outcome == Outcome.DONE
            assert "once the others agree" in to_plain(reply.text)
            photo = last(reply)
    store = paying.services.store
    paid = await store.fetchall("SELECT user_id, detail FROM ledger WHERE reason = 'label_agreed'")
    assert sorted((int(row[0]), row[1]) for row in paid) == sorted(
        (ids[name], f"photo/{key}") for name in ("Ana", "Bob") for key in ("ph1", "ph2")
    )
    assert await store.fetchval("SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 0
