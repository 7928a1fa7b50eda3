"""The Ideas page in a real Chromium against the real server: merging two ideas after the preview of the
votes kept (the team's note on the merged idea shown on its target), a bulk status change, and a status set
in the browser reaching the idea's author on the fake Telegram server, where she proposed it (the dashboard
and the Telegram adapter over one engine). The screenshots go to the test's temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import Settings
from tests.adapters.dashboard.conftest import add_teammate, needs_chromium, sign_in_with_password
from tests.adapters.harness import running_telegram_bot, texts
from tests.conftest import FakeClock
from tests.fakes.telegram.server import FakeTelegramServer
from tests.helpers import say

pytestmark = needs_chromium
IDEAS = ("Oat milk for every drink, please", "Board games on rainy afternoons", "A loyalty card in the app")


async def _ideas_page(page: Page, address: str, name: str) -> None:
    await sign_in_with_password(page, address, name)
    await page.get_by_role("navigation").get_by_role("link", name="Ideas", exact=True).click()
    await page.get_by_role("heading", level=1, name="Ideas").wait_for()


@pytest.fixture
async def lenas_ideas(
    engine: Engine, address: str, browser: Browser, cafe: SpaceRef, person: Callable[..., UserRef], clock: FakeClock
) -> Page:
    """Lena, a moderator, on the Ideas page: Ana's #1, Bob's #2 and Cy's #3; Cy voted for #1 and #2, Di for #1."""
    for author, text in zip(("Ana", "Bob", "Cy"), IDEAS, strict=True):
        await say(engine, person(author), cafe, f"/idea {text}")
    for voter, ideas in (("Cy", (1, 2)), ("Di", (1,))):
        for idea in ideas:
            await engine.ideas.vote(await engine.context(person(voter), cafe), idea, up=True)
    await add_teammate(engine, "lena", "moderator", clock)
    page = await browser.new_page()
    await _ideas_page(page, address, "lena")
    return page


async def test_a_moderator_merges_two_ideas_after_seeing_the_votes_kept(
    engine: Engine, lenas_ideas: Page, tmp_path: Path
) -> None:
    page = lenas_ideas
    await page.screenshot(path=tmp_path / "ideas.png", full_page=True)
    row = page.locator("tr", has_text="Oat milk")
    await row.get_by_label("Internal note on idea #1").fill("Ask the supplier about 1 l cartons")
    await row.get_by_role("button", name="Note", exact=True).click()
    await page.get_by_role("status").wait_for()
    await row.get_by_label("Merge idea #1 into").fill("2")
    await row.get_by_role("button", name="Merge", exact=True).click()
    await page.get_by_role("heading", level=1, name="Merge idea #1 into #2").wait_for()
    preview = await page.locator("p.preview").inner_text()
    assert "keeps 2 votes" in preview and "counts once" in preview, preview
    await page.screenshot(path=tmp_path / "ideas-merge-preview.png", full_page=True)
    assert await engine.services.store.fetchval("SELECT status FROM ideas WHERE id = 1") == "new", "only a preview"
    await page.get_by_role("button", name="Confirm merge").click()
    await page.get_by_role("heading", level=1, name="Ideas").wait_for()
    assert "merged into #2" in await page.get_by_role("status").inner_text()
    target = page.locator("tr", has_text="Board games")
    assert await target.locator("td").nth(5).inner_text() == "2", "Cy counted once, Di's vote moved"
    assert await page.locator("tr", has_text="Oat milk").count() == 0, "a merged idea lives on in its target"
    await target.get_by_text("1 internal note").click()
    assert "written on #1" in await target.locator("details.notes").inner_text(), "the team's note moved with it"
    await page.get_by_label("Status", exact=True).select_option("merged")
    await page.locator("tr", has_text="Oat milk").get_by_text("merged into #2").wait_for()
    await page.screenshot(path=tmp_path / "ideas-merged.png", full_page=True)


async def test_a_moderator_sets_one_status_for_several_ideas(engine: Engine, lenas_ideas: Page, tmp_path: Path) -> None:
    page = lenas_ideas
    await page.get_by_label("Select idea #1").check()
    await page.get_by_label("Select idea #3").check()
    await page.get_by_label("Status of the selected ideas").select_option("under_review")
    await page.get_by_label("Note for the selected ideas").fill("Looking at it this week")
    await page.get_by_role("button", name="Set status of selected").click()
    await page.get_by_role("status").wait_for()
    assert "2 ideas are now under review" in await page.get_by_role("status").inner_text()
    for text, status in (("Oat milk", "under review"), ("Board games", "new"), ("loyalty card", "under review")):
        assert status in await page.locator("tr", has_text=text).locator("td").nth(6).inner_text(), text
    await page.screenshot(path=tmp_path / "ideas-bulk-status.png", full_page=True)
    told = await engine.services.store.fetchall("SELECT target FROM outbox WHERE payload LIKE '%this week%'")
    assert sorted(row[0] for row in told) == ["user:ana", "user:cy", "user:cy", "user:di"]


async def test_a_status_set_in_the_browser_reaches_the_author_on_telegram(
    engine: Engine,
    settings: Settings,
    tg: FakeTelegramServer,
    address: str,
    browser: Browser,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    async with running_telegram_bot(engine, settings, tg):
        ana = tg.user(101, "Ana", language_code="en")
        group = tg.group(-1001, "Corner Café")
        tg.send_text(ana, group, "/idea Oat milk for every drink, please")
        await tg.wait_for(lambda: any("#1" in text for text in texts(tg, group["id"])), timeout=15)  # saved
        assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 1
        await add_teammate(engine, "lena", "moderator", clock)
        page = await browser.new_page()
        await _ideas_page(page, address, "lena")
        row = page.locator("tr", has_text="Oat milk")
        assert "telegram" in await row.locator("td").nth(4).inner_text()
        await row.get_by_label("Status of idea #1").select_option("accepted")
        await row.get_by_placeholder("Note").fill("On the menu next month")
        await row.get_by_role("button", name="Set status").click()
        await page.get_by_role("status").wait_for()
        await page.screenshot(path=tmp_path / "ideas-telegram-status.png", full_page=True)

        def told() -> list[str]:
            return [text for text in texts(tg, ana["id"]) if "Your idea #1" in text]

        await tg.wait_for(lambda: bool(told()), timeout=15)
        assert "accepted" in told()[0] and "On the menu next month" in told()[0], told()
