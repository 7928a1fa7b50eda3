"""The round filter, exports, rewards and teammates in a real Chromium against the real server: filter a
round and export CSV with the filter applied (the downloaded rows match it), upload codes, a viewer
refused. A screenshot of every page touched goes to the test's temporary folder."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Browser

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.adapters.dashboard.conftest import add_teammate, needs_chromium, sign_in_with_password
from tests.adapters.dashboard.test_dashboard_round_filter import (  # noqa: F401 - its settings fixture too
    settings,
    spread_round,
)
from tests.conftest import FakeClock

pytestmark = needs_chromium


async def test_filter_a_round_and_export_csv_with_the_filter_applied(
    engine: Engine,
    address: str,
    browser: Browser,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    round_id, _, _, _ = await spread_round(engine, cafe, person, clock)
    await add_teammate(engine, "lena", "owner", clock)
    page = await browser.new_page(accept_downloads=True)
    await sign_in_with_password(page, address, "lena")
    await page.screenshot(path=tmp_path / "overview.png", full_page=True)
    await page.get_by_role("navigation").get_by_role("link", name="Rounds", exact=True).click()
    await page.get_by_role("heading", level=1, name="Rounds").wait_for()
    await page.screenshot(path=tmp_path / "rounds.png", full_page=True)
    await page.get_by_role("link", name=f"#{round_id}", exact=True).click()
    await page.get_by_role("heading", level=1, name=f"Round #{round_id}").wait_for()
    await page.get_by_label("Platform").select_option("telegram")  # htmx updates the page in place
    await page.get_by_text("Filtered: the numbers").wait_for()
    assert "platform=telegram" in page.url
    assert await page.locator("tr", has_text="Espresso").first.inner_text() == "Espresso\t2\t100%\t34–100%"
    await page.wait_for_load_state("networkidle")  # the filtered chart, drawn on request
    assert await page.get_by_role("img", name=f"Bar charts of round #{round_id}'s answers").count() == 1
    await page.screenshot(path=tmp_path / "round-filtered.png", full_page=True)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export CSV", exact=True).click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows and {row["platform"] for row in rows} == {"telegram"}
    assert {row["name"] for row in rows} == {"Radu", "Sam", "Quinn"}, "only the filtered members' rows"
    await page.get_by_role("navigation").get_by_role("link", name="Audit log", exact=True).click()
    await page.get_by_label("Action").select_option("export")
    await page.wait_for_url("**action=export**")  # htmx swapped the filtered log in
    await page.get_by_label("Teammate").fill("lena")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_text("csv platform=telegram").wait_for()
    await page.screenshot(path=tmp_path / "audit.png", full_page=True)


async def test_an_owner_uploads_codes_and_a_viewer_is_refused(
    engine: Engine,
    address: str,
    browser: Browser,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    community = (await engine.context(person("Ana"), cafe)).space_id
    await engine.services.store.rewards.add_reward("mug", "Café mug", 50, None, clock())
    await add_teammate(engine, "lena", "owner", clock)
    await add_teammate(engine, "vic", "viewer", clock)
    codes = tmp_path / "codes.csv"
    codes.write_text("reward_id,code\nmug,MUG-1\nmug,MUG-2\nmug,MUG-2\n", encoding="utf-8")
    page = await browser.new_page()
    await sign_in_with_password(page, address, "lena")
    await page.get_by_role("navigation").get_by_role("link", name="Rewards", exact=True).click()
    await page.get_by_label("Codes file").set_input_files(codes)
    await page.get_by_role("button", name="Import codes").click()
    flash = page.get_by_role("status")
    await flash.wait_for()
    assert "imported 2 codes for mug; skipped 1 code already loaded" in await flash.inner_text()
    assert await page.locator("tr", has_text="Café mug").inner_text() == "Café mug mug\t50\t2\t2\t0"
    await page.screenshot(path=tmp_path / "rewards.png", full_page=True)
    await page.get_by_role("navigation").get_by_role("link", name="Team", exact=True).click()
    await page.get_by_role("heading", level=1, name="Team").wait_for()
    await page.screenshot(path=tmp_path / "team.png", full_page=True)
    await page.get_by_role("button", name="Sign out").click()
    await sign_in_with_password(page, address, "vic")
    assert await page.get_by_role("navigation").get_by_role("link", name="Team").count() == 0
    await page.get_by_role("navigation").get_by_role("link", name="Rewards", exact=True).click()
    await page.get_by_role("heading", level=1, name="Rewards").wait_for()
    assert await page.get_by_role("button", name="Import codes").count() == 0
    await page.screenshot(path=tmp_path / "rewards-viewer.png", full_page=True)
    refused = await page.goto(f"{address}/c/{community}/team")
    assert refused is not None and refused.status == 403
    assert "Only owners can do this." in await page.content()
    upload = await page.request.post(
        f"{address}/c/{community}/rewards/import",
        multipart={"codes": {"name": "codes.csv", "mimeType": "text/csv", "buffer": b"mug,MUG-3\n"}},
    )
    assert upload.status == 403
    reward = await engine.services.store.rewards.reward("mug")
    assert reward is not None and reward.codes_left == 2
