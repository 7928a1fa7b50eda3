"""A round's page: its results table agrees with ``/results`` (shares and 95 % intervals), its chart is
served only to a signed-in teammate of that community, typed answers are searchable and escaped; and the
dashboard speaks Romanian to a browser that prefers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import to_plain
from bot.settings import Settings, load_settings
from tests.adapters.dashboard.conftest import add_teammate, sign_in
from tests.conftest import REPO, FakeClock
from tests.helpers import button, open_task, say

DRINKS = ("Latte", "Latte", "Latte", "Espresso")
TYPED = {"M0": "More plants by the window", "M1": "<b>Longer</b> hours on Sundays"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Three answers are enough to tell here, so the intervals show with a handful of members."""
    return load_settings(
        catalog_dir=REPO / "tasks_catalog", storage={"path": tmp_path / "crowdpulse.db"}, results={"min_answers": 3}
    )


async def answered_round(engine: Engine, space: SpaceRef, person: Callable[..., UserRef]) -> int:
    """A coffee round in ``space``: four drinks chosen, two changes typed; the round's id."""
    await say(engine, person("Mod"), space, "/round open coffee")
    for index, drink in enumerate(DRINKS):
        member = person(f"M{index}")
        asked = await open_task(engine, member, space, "What do you order")
        await engine.act(member, space, button(asked, drink))
        if member.display_name in TYPED:
            await open_task(engine, member, space, "change one thing")
            assert await engine.text_message(member, space, TYPED[member.display_name]) is not None
    rounds = await engine.services.store.rounds.rounds_in((await engine.context(person("Mod"), space)).space_id, 5)
    return rounds[0].id


async def test_the_round_page_tabulates_what_results_says_and_searches_typed_answers(
    engine: Engine,
    client: httpx.AsyncClient,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
) -> None:
    round_id = await answered_round(engine, cafe, person)
    community = (await engine.context(person("Mod"), cafe)).space_id
    results = to_plain((await say(engine, person("Mod"), cafe, f"/results {round_id}")).text)
    share = re.search(r"Latte \S+ (\d+)% \((\d+)–(\d+)%, 3\)", results)
    assert share is not None, results
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    page = (await client.get(f"/c/{community}/rounds/{round_id}")).text
    percent, low, high = share.groups()
    assert f"<tr><td>Latte</td><td>3</td><td>{percent}%</td>" in page
    assert f"<td>{low}–{high}%</td>" in page
    assert "n = 4 answers" in page and f'src="/c/{community}/rounds/{round_id}/chart.png"' in page
    assert "More plants by the window" in page and "&lt;b&gt;Longer&lt;/b&gt; hours" in page
    assert "<b>Longer" not in page
    found = (await client.get(f"/c/{community}/rounds/{round_id}?q=PLANTS")).text
    assert "More plants by the window" in found and "Longer" not in found
    assert 'value="PLANTS"' in found
    nothing = (await client.get(f"/c/{community}/rounds/{round_id}", params={"q": '"><script>'})).text
    assert "No typed answer matches." in nothing and 'value="&#34;&gt;&lt;script&gt;"' in nothing


async def test_the_chart_is_served_only_to_a_signed_in_teammate_of_its_community(
    engine: Engine,
    client: httpx.AsyncClient,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
) -> None:
    round_id = await answered_round(engine, cafe, person)
    community = (await engine.context(person("Mod"), cafe)).space_id
    bakery = SpaceRef("console", "bakery", "The Bakery")
    other_round = await answered_round(engine, bakery, person)
    chart = f"/c/{community}/rounds/{round_id}/chart.png"
    assert (await client.get(chart)).headers["location"] == "/signin"
    await add_teammate(engine, "lena", "viewer", clock)
    await sign_in(client, "lena")
    image = await client.get(chart)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert (await client.get(f"/c/{community}/rounds/{other_round}/chart.png")).status_code == 404
    assert (await client.get(f"/c/{community}/rounds/{other_round}")).status_code == 404


async def test_a_browser_preferring_romanian_reads_romanian_labels(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    romanian = {"accept-language": "de-DE, ro;q=0.8, en;q=0.5"}
    signin = (await client.get("/signin", headers=romanian)).text
    assert '<html lang="ro">' in signin and '<label for="password">Parolă</label>' in signin
    assert '<label for="password">Password</label>' in (await client.get("/signin")).text
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    ideas = (await client.get(f"/c/{community}/ideas", headers=romanian)).text
    assert "<h1>Idei</h1>" in ideas and ">Setează starea</button>" in ideas and ">Jurnal de audit</a>" in ideas
    english = (await client.get(f"/c/{community}/ideas", headers={"accept-language": "ro;q=0.2, en"})).text
    assert "<h1>Ideas</h1>" in english and ">Set status</button>" in english
