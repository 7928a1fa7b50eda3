"""A seeded crowd labelling a job of short comments with hidden gold, shared by the labelling tests and the
quality-report tests: the job's catalog and item file, simulated members, and the loop that has them
label until no item is left for anyone."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.settings import load_settings
from tests.conftest import FakeClock
from tests.helpers import button, last

OPTIONS = ("Praise", "Complaint", "Question")
CAP, MIN, CONFIDENCE = 5, 3, 0.9
MIN_GOLD = 3
JOB = f"""
[campaign]
id = "comments"
title = "Sort our comments"
objective = "Sort what customers wrote so the right person reads it."

[campaign.quality]
gold_share = 0.35
min_gold = {MIN_GOLD}
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
                member.toasts[number in GOLD].add(
                    outcome.notice.rpartition(", ")[2]
                )  # the points (the choice is the item's)
            seen[key] += [to_plain(r.text) for r in outcome.chain()]
            replies[key] = last(outcome)
    return seen


SEEDED_KEY = "labelling-tests-fixed-secret-key"


@asynccontextmanager
async def job_engine(folder: Path, clock: FakeClock, catalog: str = JOB, **settings: Any) -> AsyncIterator[Engine]:
    """An engine whose catalog is ``catalog`` (the job by default) beside the job's item file, on a SQLite
    file in ``folder`` unless ``settings`` name a ``storage``."""
    directory = folder / "catalog"
    directory.mkdir()
    (directory / "comments.toml").write_text(catalog, encoding="utf-8")
    write_items(directory, range(ITEMS))
    settings.setdefault("storage", {"path": folder / "crowdpulse.db"})
    settings.setdefault("secret_key", SEEDED_KEY)  # gold draws are keyed by the instance's secret: replayable
    loaded = load_settings(catalog_dir=directory, limits={"per_second": 1000, "burst": 1000}, **settings)
    async with running_engine(loaded, clock) as ready:
        ready.services.catalog.item_files.recheck_seconds = 0  # see an edited item file at once
        yield ready
