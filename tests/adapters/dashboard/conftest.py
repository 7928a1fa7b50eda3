"""The dashboard over a real engine on a real SQLite file: a community with an idea, teammates, and an
HTTP client speaking to the ASGI app; for the browser tests, the real server on a free port of 127.0.0.1
and a real Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from adapters.dashboard.auth import hash_password
from adapters.dashboard.server import build_app, serve
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.conftest import FakeClock
from tests.helpers import say

PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script> <a href="javascript:alert(1)">click</a> ' + "y" * 300
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "every form carries a CSRF token"
    return match.group(1)


async def add_teammate(engine: Engine, name: str, role: str, clock: FakeClock) -> None:
    await engine.services.store.dashboard.save_teammate(name, hash_password(PASSWORD), role, clock())


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/signin")
    return await client.post("/signin", data={"name": name, "password": password, "csrf": csrf_of(form.text)})


@pytest.fixture
async def community(engine: Engine, cafe: SpaceRef, person: Callable[..., UserRef]) -> int:
    """The café community with one idea by Ana (id 1), and its id."""
    reply = await say(engine, person("Ana"), cafe, "/idea Oat milk for every drink, please")
    assert "#1" in str(reply.text)
    return (await engine.context(person("Ana"), cafe)).space_id


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://dashboard.test") as web:
        yield web


# the browser tests ------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def address(engine: Engine) -> AsyncIterator[str]:
    """The dashboard served by uvicorn in this event loop, as ``crowdpulse run`` serves it, on a free port
    (sign-in links made afterwards point there)."""
    engine.services.settings.dashboard.port = _free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(engine, stop))
    address = engine.services.settings.dashboard.address
    host, port = "127.0.0.1", engine.services.settings.dashboard.port
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield address
    stop.set()
    await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


async def sign_in_with_password(page: Page, address: str, name: str) -> None:
    await page.goto(f"{address}/signin")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", level=1, name="Overview").wait_for()
