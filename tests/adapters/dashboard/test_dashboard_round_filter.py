"""A round's page filtered by platform, space, language and day: the tables (n, skips, shares), the chart,
the typed answers and both exports count only the answers that match, in SQL; a value the community does
not have filters nothing (``tests/store/test_contract_dashboard.py`` checks the SQL on both stores)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import CommunitySettings, Settings, load_settings
from tests.adapters.dashboard.conftest import add_teammate, sign_in
from tests.conftest import REPO, FakeClock
from tests.helpers import button, open_task, say

TERRACE = SpaceRef("telegram", "-100", "Terrace")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The café on the console and its terrace group on Telegram: one community; names in exports."""
    settings = load_settings(
        catalog_dir=REPO / "tasks_catalog",
        storage={"path": tmp_path / "crowdpulse.db"},
        results={"min_answers": 1},
        export={"include_names": True},
    )
    settings.communities = [CommunitySettings(name="Corner Café", spaces=["console:cafe", "telegram:-100"])]
    return settings


async def _drink(engine: Engine, member: UserRef, space: SpaceRef, drink: str, typed: str = "") -> None:
    asked = await open_task(engine, member, space, "Ce comanzi" if member.language == "ro" else "What do you order")
    await engine.act(member, space, button(asked, drink))
    if typed:
        await open_task(engine, member, space, "change one thing")
        assert await engine.text_message(member, space, typed) is not None


async def spread_round(
    engine: Engine, cafe: SpaceRef, person: Callable[..., UserRef], clock: FakeClock
) -> tuple[int, int, str, str]:
    """Day one on the console: Latte, Latte, Espresso (English). Day two on Telegram: Espresso from a
    Romanian and an English member, and a third who skips the drink. Returns the round, the community,
    and both days."""
    await say(engine, person("Mod"), cafe, "/round open coffee")
    day_one = clock().date().isoformat()
    await _drink(engine, person("Ana"), cafe, "Latte", "More plants by the window")
    await _drink(engine, person("Bo"), cafe, "Latte")
    await _drink(engine, person("Cy"), cafe, "Espresso")
    clock.advance(days=1)
    day_two = clock().date().isoformat()
    await _drink(engine, person("Radu", "ro", "telegram"), TERRACE, "Espresso")
    await _drink(engine, person("Sam", "en", "telegram"), TERRACE, "Espresso", "Longer hours on Sundays")
    skipper = person("Quinn", "en", "telegram")
    asked = await open_task(engine, skipper, TERRACE, "What do you order")
    await engine.act(skipper, TERRACE, button(asked, "⏭"))
    community = (await engine.context(person("Mod"), cafe)).space_id
    rounds = await engine.services.store.rounds.rounds_in(community, 1)
    return rounds[0].id, community, day_one, day_two


async def test_the_filter_narrows_the_tables_the_typed_answers_and_the_chart(
    engine: Engine, client: httpx.AsyncClient, cafe: SpaceRef, person: Callable[..., UserRef], clock: FakeClock
) -> None:
    round_id, community, _, day_two = await spread_round(engine, cafe, person, clock)
    terrace = (await engine.context(person("Sam", "en", "telegram"), TERRACE)).here
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    page = f"/c/{community}/rounds/{round_id}"
    everything = (await client.get(page)).text
    assert "<tr><td>Latte</td><td>2</td><td>40%</td>" in everything
    assert "<tr><td>Espresso</td><td>3</td><td>60%</td>" in everything
    assert "More plants by the window" in everything and "Longer hours on Sundays" in everything
    for query in ({"platform": "telegram"}, {"space": str(terrace)}, {"since": day_two}):
        filtered = (await client.get(page, params=query)).text
        assert "<tr><td>Espresso</td><td>2</td><td>100%</td>" in filtered, query
        assert "<tr><td>Latte</td><td>0</td><td>0%</td>" in filtered, query
        assert "n = 2 answers · 1 skip (33%)" in filtered, query
        assert "Longer hours on Sundays" in filtered and "More plants" not in filtered, query
        assert "export.csv?" in filtered and "chart.png?" in filtered
    romanian = (await client.get(page, params={"language": "ro"})).text
    assert "<tr><td>Espresso</td><td>1</td><td>100%</td>" in romanian and "n = 1 answer ·" in romanian
    english_before = (await client.get(page, params={"language": "en", "until": day_two})).text
    assert "<tr><td>Espresso</td><td>2</td><td>50%</td>" in english_before  # Cy and Sam
    ignored = (await client.get(page, params={"platform": "irc", "space": "99999", "since": "not-a-day"})).text
    assert "<tr><td>Espresso</td><td>3</td><td>60%</td>" in ignored, "values the community lacks filter nothing"
    chart = await client.get(f"{page}/chart.png", params={"platform": "telegram"})
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    searched = (await client.get(page, params={"platform": "console", "q": "sundays"})).text
    assert "No typed answer matches." in searched, "the search looks only among the filtered answers"


async def test_both_exports_hold_only_the_filtered_answers_and_skips(
    engine: Engine, client: httpx.AsyncClient, cafe: SpaceRef, person: Callable[..., UserRef], clock: FakeClock
) -> None:
    round_id, community, _, _ = await spread_round(engine, cafe, person, clock)
    await add_teammate(engine, "lena", "moderator", clock)
    await sign_in(client, "lena")
    exported = await client.get(f"/c/{community}/rounds/{round_id}/export.csv", params={"platform": "telegram"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["name"] for row in rows} == {"Radu", "Sam", "Quinn"}
    assert {row["platform"] for row in rows} == {"telegram"}
    drink = [row for row in rows if row["task_id"] == "drink"]
    assert sorted((row["name"], row["skipped"]) for row in drink) == [
        ("Quinn", "true"),
        ("Radu", "false"),
        ("Sam", "false"),
    ]
    whole = list(csv.DictReader(io.StringIO((await client.get(f"/c/{community}/rounds/{round_id}/export.csv")).text)))
    assert {"Ana", "Bo", "Cy"} <= {row["name"] for row in whole}
    document = json.loads(
        (await client.get(f"/c/{community}/rounds/{round_id}/export.json", params={"language": "ro"})).text
    )
    assert {answer["name"] for answer in document["answers"]} == {"Radu"}
    summary = next(task for task in document["summary"] if task["task"] == "drink")
    assert summary["n"] == 1 and summary["skips"] == 0
    audit = (await client.get(f"/c/{community}/audit", params={"action": "export"})).text
    assert audit.count("<td>export</td>") == 3 and "lena" in audit
    assert "csv platform=telegram" in audit and "json language=ro" in audit, "the filter is in the audit log"


TYPED = (
    "More plants by the window",
    "more plants near the window please",
    "Longer hours on Sundays",
    "longer opening hours on sunday",
)


async def test_typed_answers_are_grouped_by_theme_and_a_large_question_is_themed_in_the_background(
    engine: Engine,
    client: httpx.AsyncClient,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await say(engine, person("Mod"), cafe, "/round open coffee")
    for index, text in enumerate(TYPED):
        await _drink(engine, person(f"M{index}"), cafe, "Latte", text)
    community = (await engine.context(person("Mod"), cafe)).space_id
    round_id = (await engine.services.store.rounds.rounds_in(community, 1))[0].id
    await add_teammate(engine, "lena", "viewer", clock)
    await sign_in(client, "lena")
    page = f"/c/{community}/rounds/{round_id}"
    monkeypatch.setattr("adapters.dashboard.round_view.THEMED_INLINE", 0)  # as if the question were huge
    first = (await client.get(page)).text
    assert '<h4 class="theme">' not in first and "Longer hours on Sundays" in first, "not themed yet: listed"
    await engine.results.themes.warmed()
    grouped = (await client.get(page)).text
    assert '<h4 class="theme">More plants by the window <small>(2)</small></h4>' in grouped
    assert '<h4 class="theme">Longer hours on Sundays <small>(2)</small></h4>' in grouped
    monkeypatch.undo()
    searched = (await client.get(page, params={"q": "sunday"})).text
    assert '<h4 class="theme">Longer hours on Sundays <small>(2)</small></h4>' in searched
    assert "plants" not in searched.split('id="answers"')[1]


async def test_the_export_streams_a_page_of_rows_at_a_time_and_reads_the_same(
    engine: Engine,
    client: httpx.AsyncClient,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    round_id, community, _, _ = await spread_round(engine, cafe, person, clock)
    await add_teammate(engine, "lena", "moderator", clock)
    await sign_in(client, "lena")
    whole_csv = (await engine.exports.export(round_id, "csv"))[1].decode()
    whole_json = json.loads((await engine.exports.export(round_id, "json"))[1])
    monkeypatch.setattr("bot.features.rounds.export_stream.EXPORT_PAGE", 2)  # many pages from a small round
    for fmt in ("csv", "json"):
        chunks = [chunk async for chunk in engine.exports.stream(round_id, fmt)]
        assert len(chunks) > 5, "written page by page"
        response = await client.get(f"/c/{community}/rounds/{round_id}/export.{fmt}")  # ASGITransport buffers
        assert response.status_code == 200 and "content-length" not in response.headers, "a streamed body"
        for body in (b"".join(chunks).decode(), response.text):
            if fmt == "csv":
                assert body == whole_csv
            else:  # the downloads' own audit rows join the log as they go
                assert {**json.loads(body), "audit": None} == {**whole_json, "audit": None}
