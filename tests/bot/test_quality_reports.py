"""Quality reports through the engine: a seeded crowd labels a job with hidden gold and answers five scale
questions and two attention checks; ``/quality``, ``/member``, ``/results``, ``/audit`` and the exports
then say what happened. Every expected number is computed from the store's rows, not written down."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.features.labelling.aggregation import Vote, aggregate, smoothed_accuracy
from bot.features.labelling.jobs import reliability
from bot.features.rounds.confidence import mean_interval, nps_interval, wilson
from bot.features.rounds.export import pseudonym
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.store.records import MemberQuality, RoundRecord
from tests.conftest import FakeClock
from tests.helpers import button, last, say
from tests.labelling_crowd import GOLD, JOB, OPTIONS, Member, job_engine, label_until_done, shown_item, truth
from tests.store.conftest import storage_url

POLLS = """
[[campaign.tasks]]
id = "taste"
kind = "rating"
prompt = "How did it taste?"

[[campaign.tasks]]
id = "price"
kind = "rating"
prompt = "How fair was the price?"

[[campaign.tasks]]
id = "check-latte"
kind = "single_choice"
prompt = "To show you are reading, pick Latte."
options = ["Espresso", "Latte", "Tea"]
known_answer = "Latte"
attention = true

[[campaign.tasks]]
id = "speed"
kind = "rating"
prompt = "How quick was your order?"

[[campaign.tasks]]
id = "recommend"
kind = "nps"
prompt = "How likely are you to recommend us?"

[[campaign.tasks]]
id = "check-no"
kind = "yes_no_other"
prompt = "To show you are reading, answer No."
known_answer = "no"
attention = true
"""
HASTY = 2  # labels the first spammer gives in no time
PROMPTS = ("service today", "taste", "price", "pick Latte", "quick", "recommend", "answer No")
# What each named member taps on the polls, in catalog order (None: skips). The liner taps the fourth
# place on all five scale questions (4★ is the fourth star, 3 the fourth NPS button); the skipper
# would too, but a skip breaks the run; the spammer misses both attention checks.
PLANS: dict[str, tuple[str | None, ...]] = {
    "Careful0": ("4★", "4★", "4★", "Latte", "4★", "3", "No"),
    "Careful1": ("5★", "3★", "4★", "Latte", "2★", "9", "No"),
    "Careful2": ("4★", "4★", None, "Latte", "4★", "3", "No"),
    "Spam0": ("1★", "2★", "1★", "Tea", "3★", "10", "Yes"),
}


@dataclass
class Crowd:
    engine: Engine
    record: RoundRecord
    ids: dict[str, int]  # display name → user id
    mod: UserRef

    async def members(self) -> dict[int, MemberQuality]:
        return {m.user_id: m for m in await self.engine.services.store.labelling.members_of(self.record.id)}

    async def expected_labels(self) -> dict[int, tuple[str, float]]:
        """Each voted item's label and confidence, recomputed from the rows: the job's method (the posterior)
        over the votes of members not held back, with each member's gold record."""
        members = await self.members()
        answers = await self.engine.services.store.labelling.answers_of(self.record.id)
        votes = [Vote(a.user_id, a.item_id, int(a.vote)) for a in answers if a.vote and not members[a.user_id].excluded]
        gold = {user: (m.evidence.gold_correct, m.evidence.gold_answers) for user, m in members.items()}
        return {item: (OPTIONS[e.label], e.confidence) for item, e in aggregate("posterior", votes, 3, gold).items()}

    async def held(self) -> list[str]:
        """The names of the members held back, from their round records."""
        members = await self.members()
        return sorted(name for name, user_id in self.ids.items() if members[user_id].excluded)

    def pseudonym(self, name: str) -> str:
        return pseudonym(self.engine.services.codec_key, self.ids[name])


async def answer_polls(engine: Engine, user: UserRef, cafe: SpaceRef, taps: Sequence[str | None]) -> None:
    """Answer the campaign's polls in catalog order, tapping each label (or skipping)."""
    reply = last(await engine.tasks.next_task(await engine.context(user, cafe)))
    for prompt, tap in zip(PROMPTS, taps, strict=True):
        assert prompt in to_plain(reply.text), (prompt, to_plain(reply.text))
        answered = await engine.act(user, cafe, button(reply, tap or "⏭"))
        assert answered.outcome == Outcome.DONE, to_plain(answered.text)
        reply = last(answered)


@pytest.fixture(params=["sqlite", "postgresql"])
async def crowd(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock, person: Callable[..., UserRef], cafe: SpaceRef
) -> AsyncIterator[Crowd]:
    """The crowd's round on each store in turn: the reports read it with SQL of their own."""
    with storage_url(request.param, tmp_path) as url:
        async with job_engine(tmp_path, clock, JOB + POLLS, results={"min_answers": 3}, storage={"url": url}) as engine:
            yield await labelled(engine, clock, person, cafe)


async def labelled(engine: Engine, clock: FakeClock, person: Callable[..., UserRef], cafe: SpaceRef) -> Crowd:
    """Seven careful members and three spammers label the job; four of them answer the polls."""
    rng = random.Random(18)
    careful = [Member(person(f"Careful{i}"), 0.9, rng) for i in range(7)]
    spammers = [Member(person(f"Spam{i}"), None, rng) for i in range(3)]
    hasty = spammers[0].user
    reply = await engine.tasks.next_task(await engine.context(hasty, cafe))
    for _ in range(HASTY):  # the first spammer taps the first items the moment they show: too fast
        number = shown_item(reply)
        assert number is not None
        reply = last(await engine.act(hasty, cafe, button(reply, spammers[0].pick(number))))
    await label_until_done(engine, careful + spammers, cafe, clock)
    for name, taps in PLANS.items():
        await answer_polls(engine, person(name), cafe, taps)
    everyone = [member.user for member in careful + spammers]
    ids = {user.display_name: (await engine.context(user, cafe)).user_id for user in everyone}
    (record,) = await engine.services.store.rounds.open_in((await engine.context(everyone[0], cafe)).space_id, "tasks")
    return Crowd(engine, record, ids, person("Mod"))


def lines_of(reply: Reply) -> list[str]:
    return to_plain(reply.text).splitlines()


def percent(share: float) -> int:
    return round(100 * share)


async def test_quality_sums_up_the_job_and_the_careless_answering(crowd: Crowd, cafe: SpaceRef) -> None:
    store = crowd.engine.services.store
    reply = await say(crowd.engine, crowd.mod, cafe, "/quality")
    assert reply.private, "a quality report is for the moderator's eyes"
    lines = lines_of(reply)
    assert lines[0] == "🔎 Quality: Sort our comments (round #1, open)"
    assert (
        "Labels aggregated by a posterior weighing each member by their gold answers and their agreement"
        " with settled items, leaving out members held back." in lines
    )

    items = await store.labelling.items_of(crowd.record.id)
    settled = [item for item in items if item.status == "retired"]
    opened = sum(item.status == "open" and item.gold is None for item in items)
    gold = sum(item.gold is not None for item in items)
    assert settled and gold == len(GOLD)
    assert (
        f"{len(items)} items: {len(settled)} settled, {opened} open, 0 withdrawn, {gold} gold (never settled)" in lines
    )
    labels = await crowd.expected_labels()
    mean = statistics.fmean(labels[item.id][1] for item in settled)
    assert f"Mean confidence of the settled ones: {percent(mean)}%" in lines

    members = await crowd.members()
    judged = sorted(
        smoothed_accuracy(m.evidence.gold_correct, m.evidence.gold_answers)
        for m in members.values()
        if m.evidence.gold_answers >= 3
    )
    held = sum(m.excluded for m in members.values())
    assert held == len(await crowd.held()) >= 1
    assert f"{len(members)} labellers; judged on 3+ gold answers: {len(judged)}; held back: {held}" in lines
    spread = f"min {percent(judged[0])}% · median {percent(statistics.median(judged))}% · max {percent(judged[-1])}%"
    assert f"Gold accuracy of those judged: {spread}" in lines
    too_fast = await store.fetchval("SELECT COUNT(*) FROM label_answers WHERE flags = 'too_fast'")
    assert too_fast == HASTY
    assert f"⏱ {too_fast} answers given in under 2 s" in lines
    assert "📏 Straight-lining: 1 member gave the same place on 5+ scale questions in a row" in lines
    assert "🧹 Attention checks: 1 member left out (missed 2 or more)" in lines


async def test_quality_of_a_round_with_nothing_to_check_is_one_line(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    reply = await say(engine, mod, cafe, "/quality 1")
    assert lines_of(reply) == [
        "🔎 Round #1 has no labelling job, no attention checks and fewer than 5 scale questions: nothing to check."
    ]


async def test_only_moderators_get_quality_reports(crowd: Crowd, person, cafe: SpaceRef) -> None:
    careful = person("Careful1")
    refusal = await say(crowd.engine, careful, cafe, "/results")
    assert refusal.outcome == Outcome.REFUSED
    for command in ("/quality", "/quality 1", "/member spam0", "/member careful1", "/member"):
        reply = await say(crowd.engine, careful, cafe, command)
        assert reply.outcome == Outcome.REFUSED and reply.text == refusal.text, command
    usage = await say(crowd.engine, crowd.mod, cafe, "/member")
    assert usage.outcome == Outcome.REFUSED and "/member &lt;user id&gt;" in usage.text
    unknown = await say(crowd.engine, crowd.mod, cafe, "/member nobody")
    assert unknown.outcome == Outcome.REFUSED and "I don't know a member nobody here." in to_plain(unknown.text)


async def test_member_shows_a_spammer_held_back_and_a_careful_member_kept(crowd: Crowd, cafe: SpaceRef) -> None:
    members = await crowd.members()
    labels = await crowd.expected_labels()
    answers = await crowd.engine.services.store.labelling.answers_of(crowd.record.id)
    items = {item.id: item for item in await crowd.engine.services.store.labelling.items_of(crowd.record.id)}

    name = (await crowd.held())[0]
    spam = members[crowd.ids[name]]
    reply = await say(crowd.engine, crowd.mod, cafe, f"/member {name.lower()}")
    assert reply.private
    lines = lines_of(reply)
    assert lines[0] == f"👤 {name.lower()}: quality record (for moderators only)"
    assert "Round #1 · Sort our comments" in lines
    evidence = spam.evidence
    accuracy = percent(smoothed_accuracy(evidence.gold_correct, evidence.gold_answers))
    gold = f"{evidence.gold_correct} of {evidence.gold_answers} gold answer{'s' * (evidence.gold_answers != 1)} right"
    assert f"Gold accuracy {accuracy}% ({gold}) · reliability {percent(reliability(evidence))}%" in lines
    assert spam.excluded_at is not None
    since = spam.excluded_at.astimezone(crowd.engine.services.settings.zone).strftime("%a %d %b %H:%M")
    assert f"⛔ Held back from labelling since {since}" in lines
    assert any(line.startswith("Straight-lining: no · attention checks missed: ") for line in lines)
    missed = lines_of(await say(crowd.engine, crowd.mod, cafe, "/member spam0"))
    assert "Straight-lining: no · attention checks missed: 2 of 2" in missed

    careful = members[crowd.ids["Careful1"]]
    mine = [a for a in answers if a.user_id == careful.user_id and a.vote and items[a.item_id].status == "retired"]
    agreement = statistics.fmean(OPTIONS[int(a.vote or 0)] == labels[a.item_id][0] for a in mine)
    lines = lines_of(await say(crowd.engine, crowd.mod, cafe, "/member careful1"))
    assert f"{careful.answers} labels · agreement with settled items {percent(agreement)}% · too fast: 0" in lines
    assert agreement > 0.7
    assert "✅ Not held back" in lines
    assert "Straight-lining: no · attention checks missed: 0 of 2" in lines

    liner = lines_of(await say(crowd.engine, crowd.mod, cafe, "/member careful0"))
    assert "Straight-lining: yes · attention checks missed: 0 of 2" in liner
    skipper = lines_of(await say(crowd.engine, crowd.mod, cafe, "/member careful2"))
    assert "Straight-lining: no · attention checks missed: 0 of 2" in skipper, "a skip breaks the run"


async def test_results_show_the_job_block_and_what_was_left_out(crowd: Crowd, cafe: SpaceRef) -> None:
    store = crowd.engine.services.store
    lines = lines_of(await say(crowd.engine, crowd.mod, cafe, "/results"))
    items = await store.labelling.items_of(crowd.record.id)
    settled = [item for item in items if item.status == "retired"]
    opened = sum(item.status == "open" and item.gold is None for item in items)
    labelled = await store.fetchval("SELECT COUNT(*) FROM label_answers WHERE value IS NOT NULL")
    assert f"Is this comment praise, a complaint or a question? ({labelled} answers)" in lines
    assert f"{len(settled)} items settled, {opened} open" in lines
    labels = await crowd.expected_labels()
    assert f"Mean confidence: {percent(statistics.fmean(labels[i.id][1] for i in settled))}%" in lines
    for option in OPTIONS:
        count = sum(labels[item.id][0] == option for item in settled)
        share = wilson(count, len(settled))
        (line,) = [line for line in lines if line.startswith(f"{option} ")]
        assert line.endswith(f"{percent(count / len(settled))}% ({percent(share.low)}–{percent(share.high)}%, {count})")
    held = sum(m.excluded for m in (await crowd.members()).values())
    assert f"🧹 Left out for quality: {held} member{'s' * (held != 1)} (reliability under 60%)" in lines

    spam_answers = await store.fetchval("SELECT COUNT(*) FROM answers WHERE user_id = ?", (crowd.ids["Spam0"],))
    assert "🧹 Left out: 1 member who missed 2 or more attention checks" in lines
    assert f"({spam_answers} answers not counted)" in lines

    service = mean_interval({4: 2, 5: 1}, (1, 5))  # the spammer's 1★ is left out, the others count
    assert service is not None
    assert f"Average: 4.33 / 5 (95%: {service.low:.1f}–{service.high:.1f})" in lines
    recommend = nps_interval(2, 0, 1)  # 3, 3 and 9 (the spammer's 10 is left out)
    assert recommend is not None
    assert f"95% interval: {round(recommend.low):+d} to {round(recommend.high):+d}" in lines


async def test_audit_names_the_members_held_back(crowd: Crowd, cafe: SpaceRef) -> None:
    lines = lines_of(await say(crowd.engine, crowd.mod, cafe, "/audit"))
    held = [line for line in lines if "held back from labelling:" in line]
    assert {line.split("held back from labelling: ")[1].split()[0] for line in held} == set(await crowd.held())
    assert held and all(" · 🤖 automatic · " in line and "round 1:" in line for line in held)


async def test_the_json_export_carries_items_members_and_flags(crowd: Crowd) -> None:
    store = crowd.engine.services.store
    _, data = await crowd.engine.exports.export(crowd.record.id, "json")
    document = json.loads(data)
    answers = document["answers"]
    assert all({"item", "flags"} <= answer.keys() for answer in answers)
    labels = [answer for answer in answers if answer["item"] is not None]
    stored = await store.fetchval("SELECT COUNT(*) FROM label_answers WHERE value IS NOT NULL")
    assert len(labels) == stored and {answer["task_id"] for answer in labels} == {"tone"}
    assert {answer["value"] for answer in labels} <= set(OPTIONS) and all(a["answer_id"] is None for a in labels)
    polls = [answer for answer in answers if answer["item"] is None]
    assert len(polls) == await store.fetchval("SELECT COUNT(*) FROM answers")
    too_fast = await store.fetchval("SELECT COUNT(*) FROM label_answers WHERE flags = 'too_fast'")
    assert sum("too_fast" in answer["flags"] for answer in labels) == too_fast

    spammers = {crowd.pseudonym(name) for name in await crowd.held()}
    assert spammers
    for answer in labels:
        held = answer["user"] in spammers
        assert ("excluded" in answer["flags"]) == held == answer["excluded"]
        assert answer["excluded_reason"] == ("gold_accuracy" if held else None)
    liner = [answer for answer in polls if answer["user"] == crowd.pseudonym("Careful0")]
    assert {a["task_id"] for a in liner if "straight_lining" in a["flags"]} == {
        "service",
        "taste",
        "price",
        "speed",
        "recommend",
    }
    assert all("excluded" in a["flags"] for a in polls if a["user"] == crowd.pseudonym("Spam0"))

    item_labels = await crowd.expected_labels()
    by_key = {item.key: item for item in await store.labelling.items_of(crowd.record.id)}
    for entry in document["items"]:
        assert set(entry) == {"task", "item", "status", "label", "confidence", "answers", "gold"}
        state = by_key[entry["item"]]
        assert entry["answers"] == sum(a["item"] == entry["item"] for a in labels) >= state.answers
        if entry["gold"]:
            assert entry["label"] == truth(int(entry["item"][1:])) and entry["confidence"] is None
        elif state.status == "retired":
            label, confidence = item_labels[state.id]
            assert entry["label"] == label and entry["confidence"] == pytest.approx(confidence)
    assert len(document["items"]) == len(by_key)

    members = {entry["user"]: entry for entry in document["members"]}
    assert set(members) == {answer["user"] for answer in answers}, "the same pseudonyms as the answers"
    records = await crowd.members()
    for entry in members.values():
        assert set(entry) == {"user", "reliability", "gold_answers", "agreement", "excluded", "flags"}
    spam = records[crowd.ids["Spam0"]]
    evidence = spam.evidence
    assert members[crowd.pseudonym("Spam0")] == {
        "user": crowd.pseudonym("Spam0"),
        "reliability": pytest.approx(smoothed_accuracy(evidence.gold_correct, evidence.gold_answers))
        if evidence.gold_answers
        else None,
        "gold_answers": evidence.gold_answers,
        "agreement": pytest.approx(evidence.agreed / evidence.resolved) if evidence.resolved else None,
        "excluded": True,
        "flags": ["too_fast", *(["held_back"] if spam.excluded else []), "attention"],
    }
    assert members[crowd.pseudonym("Careful0")]["flags"] == ["straight_lining"]
    assert members[crowd.pseudonym("Careful1")]["excluded"] is False


async def test_the_csv_export_has_item_and_flags_columns(crowd: Crowd) -> None:
    _, data = await crowd.engine.exports.export(crowd.record.id, "csv")
    text = data.decode()
    assert text.splitlines()[0].split(",")[-3:] == ["item", "flags", "theme"]
    rows = list(csv.DictReader(io.StringIO(text)))
    labels = [row for row in rows if row["item"]]
    assert len(labels) == await crowd.engine.services.store.fetchval(
        "SELECT COUNT(*) FROM label_answers WHERE value IS NOT NULL"
    )
    assert {json.loads(row["value"]) for row in labels} <= set(OPTIONS)
    _, as_json = await crowd.engine.exports.export(crowd.record.id, "json")
    flags = [";".join(answer["flags"]) for answer in json.loads(as_json)["answers"] if answer["item"] is not None]
    assert [row["flags"] for row in labels] == flags
    assert sum("too_fast" in row["flags"].split(";") for row in labels) == HASTY
    liner = [row for row in rows if row["user"] == crowd.pseudonym("Careful0") and row["task_id"] == "service"]
    assert [row["flags"] for row in liner] == ["straight_lining"]
