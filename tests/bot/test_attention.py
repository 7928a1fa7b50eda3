"""Attention checks in opinion campaigns: members who miss two instructed items are left out of the
round's results, said so in ``/results`` and the export, and never told."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import running_engine
from bot.catalog import load_catalog
from bot.engine import Engine
from bot.features.rounds.attention import attention_checks
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.settings import load_settings
from bot.texts import t
from tests.conftest import FakeClock
from tests.helpers import button, last, open_task, say

PULSE = """
[campaign]
id = "pulse"
title = "Menu pulse"
objective = "What should stay on the menu?"

[[campaign.tasks]]
id = "drink"
kind = "single_choice"
prompt = "What do you order most often?"
options = ["Espresso", "Latte", "Tea"]

[[campaign.tasks]]
id = "check-latte"
kind = "single_choice"
prompt = "To show you are reading, pick Latte."
options = ["Espresso", "Latte", "Tea"]
known_answer = "Latte"
attention = true

[[campaign.tasks]]
id = "check-no"
kind = "yes_no_other"
prompt = "To show you are reading, answer No."
known_answer = "no"
attention = true
"""


@pytest.fixture
async def pulse(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Engine]:
    """An engine whose catalog is one opinion campaign with two attention checks, and a big known-answer
    bonus that would show if a check paid it."""
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "pulse.toml").write_text(PULSE, encoding="utf-8")
    settings = load_settings(
        catalog_dir=catalog, storage={"path": tmp_path / "crowdpulse.db"}, points={"known_answer_bonus": 50}
    )
    async with running_engine(settings, clock) as ready:
        yield ready


async def answer(engine: Engine, member: UserRef, cafe: SpaceRef, prompt: str, choice: str, typed: str = "") -> Reply:
    asked = await open_task(engine, member, cafe, prompt)
    reply = await engine.act(member, cafe, button(asked, choice))
    if typed:
        words = await engine.text_message(member, cafe, typed)
        assert words is not None
        reply = words
    assert reply.outcome == Outcome.DONE, to_plain(reply.text)
    return reply


async def three_members(engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef) -> dict[str, list[Reply]]:
    """Ana passes both checks, Bob misses one, Cleo misses both (her "other" says why she should not count)."""
    plans = {
        "Ana": ("Espresso", "Latte", "No", ""),
        "Bob": ("Espresso", "Tea", "No", ""),
        "Cleo": ("Tea", "Espresso", "Other", "whatever, skipping through"),
    }
    replies: dict[str, list[Reply]] = {}
    for name, (drink, latte, no, typed) in plans.items():
        member = person(name)
        replies[name] = [
            await answer(engine, member, cafe, "What do you order", drink),
            await answer(engine, member, cafe, "pick Latte", latte),
            await answer(engine, member, cafe, "answer No", no, typed),
        ]
    return replies


async def test_only_the_member_who_missed_two_checks_is_left_out_of_results(pulse: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(pulse, mod, cafe, "/round open pulse")
    await three_members(pulse, person, cafe)
    lines = to_plain((await say(pulse, mod, cafe, "/results")).text).splitlines()
    assert "2 participants" in lines
    assert "🧹 Left out: 1 member who missed 2 or more attention checks" in lines
    drink = lines.index("What do you order most often? (2 answers)")
    assert lines[drink + 1].startswith("Espresso ▇▇▇▇▇▇▇▇▇▇ 100%"), lines[drink + 1]
    assert lines[drink + 3].startswith("Tea  0%"), "Cleo's Tea is not counted"
    assert "To show you are reading, pick Latte. (2 answers)" in lines
    assert not any("skipping through" in line for line in lines), "a left-out member's words are not sampled"


async def test_a_check_pays_like_any_task_and_never_says_passed_or_failed(pulse: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(pulse, mod, cafe, "/round open pulse")
    replies = await three_members(pulse, person, cafe)
    passed, missed = replies["Ana"][1], replies["Bob"][1]
    assert passed.notice.replace("Latte", "Tea") == missed.notice, "the same points, followed or not"
    assert to_plain(passed.text).replace("Latte", "Tea") == to_plain(missed.text)
    for reply in (*replies["Cleo"], *replies["Bob"]):
        assert "attention" not in to_plain(last(reply).text).lower()


async def test_exports_flag_every_answer_of_the_left_out_member(pulse: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(pulse, mod, cafe, "/round open pulse")
    await three_members(pulse, person, cafe)
    _, as_json = await pulse.exports.export(1, "json")
    document = json.loads(as_json)
    assert document["excluded"] == {"members": 1, "reason": "attention", "failures": 2}
    assert len(document["answers"]) == 9, "every answer is still exported"
    flagged = {answer["user"] for answer in document["answers"] if answer["excluded"]}
    assert len(flagged) == 1
    assert sum(answer["excluded"] for answer in document["answers"]) == 3
    assert {answer["excluded_reason"] for answer in document["answers"]} == {"attention", None}
    (drink,) = [entry for entry in document["summary"] if entry["task"] == "drink"]
    assert drink["n"] == 2

    _, as_csv = await pulse.exports.export(1, "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.decode())))
    header = as_csv.decode().splitlines()[0].split(",")
    assert header[-6:] == ["skipped", "excluded", "excluded_reason", "item", "flags", "theme"], "new columns at the end"
    left_out = [row for row in rows if row["excluded"] == "true"]
    assert {row["user"] for row in left_out} == flagged and len(left_out) == 3
    assert {row["excluded_reason"] for row in left_out} == {"attention"}
    assert {row["excluded_reason"] for row in rows if row["excluded"] == "false"} == {""}


async def test_without_checks_nobody_is_left_out_and_no_line_says_so(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    asked = await open_task(engine, person("Ana"), cafe, "What do you order")
    await engine.act(person("Ana"), cafe, button(asked, "Tea"))
    text = to_plain((await say(engine, mod, cafe, "/results")).text)
    assert "Left out" not in text
    _, as_json = await engine.exports.export(1, "json")
    document = json.loads(as_json)
    assert document["excluded"]["members"] == 0
    assert [answer["excluded"] for answer in document["answers"]] == [False]


def test_a_check_is_compared_with_the_instructed_answer_as_stored(tmp_path: Path) -> None:
    (tmp_path / "pulse.toml").write_text(PULSE, encoding="utf-8")
    campaign = load_catalog(tmp_path).campaign("pulse")
    assert campaign is not None
    checks = attention_checks(campaign)
    assert checks.passing == (("check-latte", "1"), ("check-no", '"no"'))
    assert checks.failures == 2


@pytest.mark.parametrize("language", ["en", "ro"])
def test_the_left_out_line_is_worded_by_its_number(language: str) -> None:
    one, many = (to_plain(t("results.left_out", language, count=n, failures=2)) for n in (1, 21))
    assert "1 " in one and "21 " in many and one.replace("1", "") != many.replace("21", "")


async def test_closing_the_round_writes_each_exclusion_to_the_audit_log(pulse: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(pulse, mod, cafe, "/round open pulse")
    await three_members(pulse, person, cafe)
    _, before = await pulse.exports.export(1, "json")
    assert not [row for row in json.loads(before)["audit"] if row["action"] == "attention_exclusion"]
    await say(pulse, mod, cafe, "/round close")
    _, after = await pulse.exports.export(1, "json")
    (row,) = [row for row in json.loads(after)["audit"] if row["action"] == "attention_exclusion"]
    cleo = await pulse.services.store.fetchval("SELECT id FROM users WHERE display_name = 'Cleo'", (), 0)
    assert row["target"] == str(cleo) and row["detail"].startswith("round 1:")
