"""The dashboard in a real Chromium (Debian's ``chromium``, driven by Playwright) against the real server
on 127.0.0.1 over a real SQLite file: signing in with a console link and with a password, setting an
idea's status (the author's notification is queued), a viewer and a forged post refused, hostile text
shown literally. A screenshot of every page goes to the test's temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Browser

from adapters.console import ConsoleSession
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.adapters.dashboard.conftest import HOSTILE, add_teammate, needs_chromium, sign_in_with_password
from tests.conftest import FakeClock
from tests.helpers import say

pytestmark = needs_chromium
NAVIGATION = ("Overview", "Rounds", "Ideas", "Members", "Rewards", "Audit log")


async def test_a_moderator_signs_in_with_a_console_link_and_sets_a_status_the_author_is_told(
    engine: Engine, address: str, browser: Browser, cafe: SpaceRef, person: Callable[..., UserRef], tmp_path: Path
) -> None:
    await say(engine, person("Ana"), cafe, "/idea Oat milk for every drink, please")
    await say(engine, person("Mallory"), cafe, f"/idea {HOSTILE}")
    session = ConsoleSession(engine)
    session.switch("Mod@console")
    shown = (await session.say("/dashboard"))[0]
    link = next(word for word in shown.split() if word.startswith(address))
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", level=1, name="Overview").wait_for()
    for title in NAVIGATION:
        await page.get_by_role("navigation").get_by_role("link", name=title, exact=True).click()
        await page.get_by_role("heading", level=1, name=title).wait_for()
        await page.screenshot(path=tmp_path / f"{title.lower().replace(' ', '-')}.png", full_page=True)
    await page.get_by_role("navigation").get_by_role("link", name="Ideas", exact=True).click()
    await page.get_by_role("heading", level=1, name="Ideas").wait_for()
    texts = await page.locator("td.text").all_inner_texts()
    assert any(text.startswith('<script>alert("x")</script>') for text in texts), texts
    assert await page.locator("a[href^='javascript:']").count() == 0, "shown literally, never as a link"
    row = page.locator("tr", has_text="Oat milk")
    await row.get_by_label("Status of idea #1").select_option("accepted")
    await row.get_by_placeholder("Note").fill("Next month")
    await row.get_by_role("button", name="Set status").click()
    await page.get_by_role("status").wait_for()
    await page.screenshot(path=tmp_path / "ideas-after-status.png", full_page=True)
    payloads = await engine.services.store.fetchall("SELECT payload FROM outbox WHERE target = 'user:ana'")
    assert any("Your idea #1" in row[0] and "accepted" in row[0] for row in payloads)
    assert not any("Content Security Policy" in error for error in errors), errors
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("heading", level=1, name="Sign in").wait_for()


async def test_a_viewer_is_refused_and_a_post_without_csrf_is_refused(
    engine: Engine, address: str, browser: Browser, cafe: SpaceRef, person: Callable[..., UserRef], clock: FakeClock
) -> None:
    await say(engine, person("Ana"), cafe, "/idea Oat milk for every drink, please")
    community = (await engine.context(person("Ana"), cafe)).space_id
    await add_teammate(engine, "vic", "viewer", clock)
    await add_teammate(engine, "lena", "owner", clock)
    page = await browser.new_page()
    await sign_in_with_password(page, address, "vic")
    await page.goto(f"{address}/c/{community}/ideas")
    assert await page.get_by_text("Oat milk").count() == 1
    assert await page.get_by_role("button", name="Set status").count() == 0
    refused = await page.request.post(f"{address}/c/{community}/ideas/1/status", form={"status": "launched"})
    assert refused.status == 403
    await page.get_by_role("button", name="Sign out").click()
    await sign_in_with_password(page, address, "lena")
    forged = await page.request.post(
        f"{address}/c/{community}/ideas/1/status", form={"status": "launched", "csrf": "forged"}
    )
    assert forged.status == 403
    idea = await engine.services.store.ideas.idea(1)
    assert idea is not None and idea.status.value == "new"
