"""Moderators run rounds: open, close once, results with a chart, exports, and the outbox."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter

from matplotlib.image import imread

from bot.engine import Engine
from bot.features.rounds.charts import chart_series
from bot.features.rounds.tally import tally_task
from bot.outbox.drainer import DeliveryRetry, OutboxDrainer, Pacer
from bot.replies import Outcome, Reply, to_plain
from tests.conftest import FakeClock
from tests.helpers import answer_tasks, button, open_task, say


async def drain(engine: Engine) -> list[tuple[str, Reply]]:
    sent: list[tuple[str, Reply]] = []

    async def send(target: str, reply: Reply) -> None:
        sent.append((target, reply))

    await OutboxDrainer(engine, "console", send, Pacer(per_second=10_000)).drain_once()
    return sent


async def test_every_moderator_command_is_refused_to_a_member(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    for command in (
        "/round open coffee",
        "/round close",
        "/round list",
        "/results",
        "/export",
        "/ban x",
        "/audit",
    ):
        reply = await say(engine, ana, cafe, command)
        assert reply.outcome == Outcome.REFUSED and "Only moderators" in to_plain(reply.text), command
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM rounds") == 0


async def test_opening_a_round_announces_it_once_with_a_start_button(engine: Engine, person, cafe) -> None:
    mod, ana = person("Mod"), person("Ana")
    opened = await say(engine, mod, cafe, "/round open coffee 3d")
    again = await say(engine, mod, cafe, "/round open coffee")
    assert opened.outcome == Outcome.DONE and again.outcome == Outcome.ALREADY_DONE
    ((target, announcement),) = await drain(engine)
    assert target == "space:cafe" and "New round" in to_plain(announcement.text)
    first = await engine.act(ana, cafe, button(announcement, "Start"))
    assert "What do you order" in to_plain(first.text)
    assert await drain(engine) == []


async def test_closing_a_round_tallies_announces_and_refuses_late_answers(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    members = [person(f"M{i}") for i in range(6)]
    for member in members:
        await answer_tasks(engine, member, cafe, 9)
    late = await open_task(engine, person("Late"), cafe, "What do you order")
    closed = await say(engine, mod, cafe, "/round close")
    assert closed.outcome == Outcome.DONE
    refused = await engine.act(person("Late"), cafe, button(late, "Latte"))
    assert refused.outcome == Outcome.REFUSED and "closed" in to_plain(refused.text)
    sent = await drain(engine)
    results = [reply for _, reply in sent if "Results" in to_plain(reply.text)]
    assert len(results) == 1
    text = to_plain(results[0].text)
    assert "6 participants" in text and "Espresso ▇▇▇▇▇▇▇▇▇▇ 100% (6)" in text
    assert "NPS -100: 0 promoters, 0 passives, 6 detractors" in text  # each count worded by its own number
    assert results[0].image is not None and results[0].image.data.startswith(b"\x89PNG")
    pixels = imread(io.BytesIO(results[0].image.data), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100


async def test_two_moderators_closing_at_once_announce_once(engine: Engine, person, cafe) -> None:
    mods = [person("Mod"), person("Mod2")]
    engine.services.settings.console.moderators.append("mod2")
    await say(engine, mods[0], cafe, "/round open coffee")
    replies = await asyncio.gather(*(say(engine, mods[i % 2], cafe, "/round close 1") for i in range(10)))
    assert sorted(reply.outcome for reply in replies).count(Outcome.DONE) == 1
    close_rows = await engine.services.store.fetchval(
        "SELECT COUNT(*) FROM outbox WHERE dedup_key LIKE 'round-results:%'"
    )
    assert close_rows == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM audit WHERE action = 'round_close'") == 1


async def test_a_deadline_passed_during_downtime_closes_the_round_at_the_next_start(
    engine: Engine, person, cafe, clock: FakeClock, settings
) -> None:
    await say(engine, person("Mod"), cafe, "/round open coffee 2h")
    clock.advance(hours=1)
    assert await engine.rounds.close_due() == 0
    clock.advance(hours=5)  # the process was down when the deadline came
    deadline_and_command = await asyncio.gather(
        engine.rounds.close_due(), say(engine, person("Mod"), cafe, "/round close 1")
    )
    assert deadline_and_command[0] + (deadline_and_command[1].outcome == Outcome.DONE) == 1
    assert (await engine.services.store.rounds.round(1)).status == "closed"  # type: ignore[union-attr]
    assert await engine.rounds.close_due() == 0


def test_the_chart_is_fed_the_tallied_counts() -> None:
    from bot.catalog import load_catalog
    from tests.conftest import REPO

    campaign = load_catalog(REPO / "tasks_catalog").campaign("coffee")
    assert campaign is not None
    drink, service, recommend = campaign.task("drink"), campaign.task("service"), campaign.task("recommend")
    assert drink and service and recommend
    tallies = [
        tally_task(drink, Counter(["1", "1", "2", "0"]).items(), "en"),
        tally_task(service, Counter(["5", "4", "4"]).items(), "en"),
        tally_task(recommend, Counter(["10", "9", "7", "3", "0"]).items(), "en"),
    ]
    series = chart_series(tallies, ("D", "P", "Pr"), {})
    assert [one.values for one in series] == [(1, 2, 1, 0), (0, 0, 0, 2, 1), (2, 1, 2)]
    assert series[0].labels == ("Espresso", "Latte", "Tea", "Hot chocolate")
    assert tallies[1].mean is not None and round(tallies[1].mean, 2) == 4.33
    assert tallies[2].nps == 0


async def test_export_round_trips_every_answer_once(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for i in range(5):
        await answer_tasks(engine, person(f"E{i}"), cafe, 9)
    stored = await engine.services.store.fetchall("SELECT id, task_id, value FROM answers WHERE round_id = 1")
    _, as_csv = await engine.exports.export(1, "csv")
    _, as_json = await engine.exports.export(1, "json")
    rows = list(csv.DictReader(io.StringIO(as_csv.decode())))
    document = json.loads(as_json)
    records = document["answers"]
    expected = sorted((row[0], row[1], json.loads(row[2])) for row in stored)
    assert sorted((int(r["answer_id"]), r["task_id"], json.loads(r["value"])) for r in rows) == expected
    assert sorted((r["answer_id"], r["task_id"], r["value"]) for r in records) == expected
    assert all(r["user"].startswith("u-") and "name" not in r for r in records)
    assert len({r["user"] for r in records}) == 5
    assert document["round"]["subject"] == "coffee"
    assert [entry["action"] for entry in document["audit"]] == ["round_open"]
    assert document["audit"][0]["by"].startswith("u-"), "moderators are pseudonymous too by default"
    reply = await say(engine, mod, cafe, "/export 1 json")
    assert reply.private and reply.attachment is not None
    assert json.loads(reply.attachment.data)["answers"] == records


async def test_an_outbox_message_waits_out_a_rate_limit_and_is_sent_once(engine: Engine, person, cafe) -> None:
    await say(engine, person("Mod"), cafe, "/round open coffee")
    attempts: list[str] = []

    async def flaky(target: str, reply: Reply) -> None:
        attempts.append(target)
        if len(attempts) == 1:
            raise DeliveryRetry(0, "429 retry after 0")

    drainer = OutboxDrainer(engine, "console", flaky, Pacer(per_second=10_000))
    assert await drainer.drain_once() == 0
    assert await drainer.drain_once() == 1
    assert await drainer.drain_once() == 0
    assert attempts == ["space:cafe", "space:cafe"]
