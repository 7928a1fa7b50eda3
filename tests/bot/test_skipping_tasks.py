"""A member skips questions: a skip is recorded once, never asked again, and counted in results and exports."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from bot.engine import Engine
from bot.replies import Outcome, Reply, to_plain
from tests.helpers import answer_tasks, button, last, say


async def skips_of(engine: Engine, task_id: str) -> int:
    return int(await engine.services.store.fetchval("SELECT COUNT(*) FROM skips WHERE task_id = ?", (task_id,), 0))


def task_lines(results: Reply, prompt: str) -> list[str]:
    """The lines of a results text about one task: its heading and what follows up to the next task."""
    lines = to_plain(results.text).splitlines()
    start = next(i for i, line in enumerate(lines) if prompt in line)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


async def test_a_member_who_skips_a_question_and_answers_the_rest_is_all_caught_up(
    engine: Engine, person, cafe
) -> None:
    ana = person("Ana")
    first = last(await say(engine, ana, cafe, "/start"))
    assert "What do you order" in to_plain(first.text)
    skipped = await engine.act(ana, cafe, button(first, "Skip"))
    assert skipped.outcome == Outcome.DONE and to_plain(skipped.text) == "Skipped."
    assert skipped.follow_up is not None and "What do you order" not in to_plain(skipped.follow_up.text)
    assert (
        await answer_tasks(engine, ana, cafe, 20) == 6
    )  # the follow-up for tea drinkers and the Romanian one: not hers
    again = await say(engine, ana, cafe, "/task")
    assert "all caught up" in to_plain(again.text)
    assert await skips_of(engine, "drink") == 1
    drink_answers = await engine.services.store.fetchval("SELECT COUNT(*) FROM answers WHERE task_id = 'drink'")
    assert drink_answers == 0, "a skip is not an answer"
    ledger = await engine.services.store.fetchall("SELECT detail FROM ledger WHERE reason = 'answer'")
    assert "drink" not in [row[0] for row in ledger], "and it earns no points"


async def test_tapping_skip_twice_records_one_skip_and_sends_the_next_question_once(
    engine: Engine, person, cafe
) -> None:
    ana = person("Ana")
    first = await engine.tasks.next_task(await engine.context(ana, cafe))
    token = button(first, "Skip")
    taps = await asyncio.gather(engine.act(ana, cafe, token), engine.act(ana, cafe, token))
    assert sorted(tap.outcome for tap in taps) == sorted([Outcome.DONE, Outcome.ALREADY_DONE])
    assert [tap.follow_up is not None for tap in taps].count(True) == 1
    late = await engine.act(ana, cafe, token)
    assert late.outcome == Outcome.ALREADY_DONE and late.follow_up is None
    assert await skips_of(engine, "drink") == 1


async def test_skips_show_per_question_in_results_and_exports(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for name in ("Ana", "Bob", "Cleo"):
        member = person(name)
        first = await engine.tasks.next_task(await engine.context(member, cafe))
        if name != "Cleo":
            await engine.act(member, cafe, button(first, "Skip"))
        await answer_tasks(engine, member, cafe, 20)

    results = await say(engine, mod, cafe, "/results")
    drink = task_lines(results, "What do you order")
    assert "⏭ Skipped: 2 (67% of those asked)" in drink
    assert not any("Skipped" in line for line in task_lines(results, "extras you would pay for"))

    _, as_csv = await engine.exports.export(1, "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.decode())))
    skipped = [row for row in rows if row["skipped"] == "true"]
    assert [(row["task_id"], row["answer_id"], row["value"]) for row in skipped] == [("drink", "", "")] * 2
    assert {row["skipped"] for row in rows} == {"true", "false"}
    _, as_json = await engine.exports.export(1, "json")
    document = json.loads(as_json)
    assert [skip["task_id"] for skip in document["skips"]] == ["drink", "drink"]
    answering = {answer["user"] for answer in document["answers"]}
    assert {skip["user"] for skip in document["skips"]} < answering, "the same pseudonyms as their answers"


async def test_an_answer_after_a_skip_is_taken_and_the_skip_no_longer_counts(engine: Engine, person, cafe) -> None:
    ana, mod = person("Ana"), person("Mod")
    first = await engine.tasks.next_task(await engine.context(ana, cafe))
    await engine.act(ana, cafe, button(first, "Skip"))
    changed_her_mind = await engine.act(ana, cafe, button(first, "Latte"))
    assert changed_her_mind.outcome == Outcome.DONE
    results = await say(engine, mod, cafe, "/results")
    assert not any("Skipped" in line for line in task_lines(results, "What do you order"))
    _, as_json = await engine.exports.export(1, "json")
    assert json.loads(as_json)["skips"] == []
    too_late = await engine.act(ana, cafe, button(first, "Skip"))
    assert too_late.outcome == Outcome.ALREADY_DONE and "already answered" in to_plain(too_late.text)


async def test_a_skip_in_a_closed_round_is_refused(engine: Engine, person, cafe) -> None:
    ana, mod = person("Ana"), person("Mod")
    first = await engine.tasks.next_task(await engine.context(ana, cafe))
    assert (await say(engine, mod, cafe, "/round close")).outcome == Outcome.DONE
    refused = await engine.act(ana, cafe, button(first, "Skip"))
    assert refused.outcome == Outcome.REFUSED and "round is closed" in to_plain(refused.text)
    assert await skips_of(engine, "drink") == 0


async def test_the_progress_line_counts_the_questions_this_member_sees(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    first = await engine.tasks.next_task(await engine.context(ana, cafe))
    assert "1/7" in to_plain(first.text), "no tea follow-up yet, no Romanian-only question"
    tea = last(await engine.act(ana, cafe, button(first, "Tea")))
    assert "Which tea" in to_plain(tea.text) and "2/8" in to_plain(tea.text)
    extras = last(await engine.act(ana, cafe, button(tea, "Green")))
    assert "3/8" in to_plain(extras.text)

    espresso = last(await engine.act(bob, cafe, button(first, "Espresso")))
    assert "extras" in to_plain(espresso.text) and "2/7" in to_plain(espresso.text), "no jump over the tea question"
    wifi = last(await engine.act(bob, cafe, button(espresso, "Skip")))
    assert "3/7" in to_plain(wifi.text), "a skipped question was seen: it still counts"
    mihai = person("Mihai", "ro")
    assert "1/8" in to_plain((await engine.tasks.next_task(await engine.context(mihai, cafe))).text)
