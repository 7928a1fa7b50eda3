"""Regenerate the README's dashboard screenshots: ``.venv/bin/python docs/screenshots/take.py``.

A throwaway community (its own SQLite file in a temporary folder) answers a coffee round and proposes,
votes on and gets answers to ideas; the dashboard is served on a free local port and Debian's chromium,
driven by Playwright (the test extra), signs in with a password and photographs the Ideas page and the
round's page (its first questions beside the chart), cropped to the content. Seeded, so a rerun draws
the same pictures.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from adapters.console import ConsoleSession
from adapters.dashboard.auth import hash_password
from adapters.dashboard.server import serve
from bot.app import running_engine
from bot.engine import Engine
from bot.settings import load_settings

HERE = Path(__file__).parent
REPO = HERE.parent.parent
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "screenshot only, thrown away"  # noqa: S105 (a throwaway database's teammate)
ROUND_HEIGHT = 1100  # pixels of the round's page shown: its first questions and the chart
MEMBERS = ["Ana", "Bogdan", "Chloe", "Dev", "Elena", "Farah", "Gabi", "Hugo", "Ines", "Jonas", "Kira", "Luca"]
CHANGES = [
    "More seats near the window, please.",
    "A loyalty card that works in the app.",
    "Quieter music in the morning.",
    "Oat milk at no extra cost.",
    "Open an hour earlier on weekdays.",
    "More power outlets for laptops.",
]
IDEAS = [
    ("Ana", "More power outlets for laptops near the window", 7, ("accepted", "Six new outlets in March")),
    ("Chloe", "A loyalty card that works in the app", 5, ("under_review", "")),
    ("Dev", "Seasonal pumpkin spice latte in autumn", 4, ("launched", "On the menu from October")),
    ("Elena", "Board games for rainy afternoons", 3, None),
    ("Hugo", "A quiet corner without music", 2, None),
    ("Farah", "Bring back the almond croissant", 1, ("declined", "Our baker left; we are looking")),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _answer_round(session: ConsoleSession, rng: random.Random) -> None:
    """Every member answers the coffee round, leaning towards the first options as real cafés do."""
    for index, name in enumerate(MEMBERS):
        session.switch(name, "en")
        await session.say("/start")
        for _ in range(20):
            reply = session.last[session.who]
            if reply.text_input is not None:
                typed = CHANGES[index % len(CHANGES)]
            elif reply.select is not None:
                await session.say(str(rng.randint(1, 2)))
                typed = str(len(reply.select.options) + 1)  # Submit follows the options
            elif reply.buttons:
                choices = sum(len(row) for row in reply.buttons) - 1  # the last button is Skip
                lean = int(rng.triangular(0, min(choices, 4), 0))
                typed = str(choices - lean if choices >= 5 else 1 + lean)  # happy ratings, popular choices
            else:
                break
            await session.say(typed)


async def _ideas(session: ConsoleSession) -> None:
    """Members propose ideas and upvote them; the moderator answers some."""
    for number, (author, text, votes, _) in enumerate(IDEAS, start=1):
        session.switch(author, "en")
        await session.say(f"/idea {text}")
        for voter in MEMBERS[:votes]:
            if voter != author:
                session.switch(voter, "en")
                await session.say(f"/idea {number}")
                await session.say("1")  # Upvote
    session.switch("mod", "en")
    for number, (*_, status) in enumerate(IDEAS, start=1):
        if status is not None:
            await session.say(f"/status {number} {status[0]} {status[1]}".strip())


async def _photograph(engine: Engine, out: Path) -> None:
    stop = asyncio.Event()
    server = asyncio.create_task(serve(engine, stop))
    await asyncio.sleep(0.5)
    address = f"http://127.0.0.1:{engine.services.settings.dashboard.port}"
    community = int(await engine.services.store.fetchval("SELECT MIN(space_id) FROM rounds"))
    round_id = int(await engine.services.store.fetchval("SELECT MIN(id) FROM rounds"))
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1100, "height": 800}, device_scale_factor=1)
            await page.goto(f"{address}/signin")
            await page.get_by_label("Name").fill("lena")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", level=1, name="Overview").wait_for()
            await page.goto(f"{address}/c/{community}/ideas")
            await page.locator("main").screenshot(path=out / "ideas.png")
            await page.goto(f"{address}/c/{community}/rounds/{round_id}")
            await page.locator("img.chart").wait_for()
            await page.wait_for_load_state("networkidle")
            await page.set_viewport_size({"width": 1100, "height": ROUND_HEIGHT})
            await page.screenshot(path=out / "round.png")  # the first questions beside the chart
            await browser.close()
    finally:
        stop.set()
        await server


async def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            catalog_dir=REPO / "tasks_catalog",
            storage={"path": Path(folder) / "screenshots.db"},
            dashboard={"port": _free_port()},
            results={"min_answers": 5},
        )
        settings.limits.burst = 10_000  # the scripted members type faster than any person could
        async with running_engine(settings) as engine:
            session = ConsoleSession(engine)
            session.switch("mod", "en")
            await session.say("/round open coffee 7d")
            await _answer_round(session, random.Random(20))
            await _ideas(session)
            now = engine.services.clock()
            await engine.services.store.dashboard.save_teammate("lena", hash_password(PASSWORD), "owner", now)
            await _photograph(engine, HERE)
    for name in ("ideas.png", "round.png"):
        print(f"{HERE / name}: {(HERE / name).stat().st_size // 1024} KB")  # noqa: T201 (a script's report)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
