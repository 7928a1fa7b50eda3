"""The dashboard over a real engine on a real SQLite file: a community with an idea, teammates, and an
HTTP client speaking to the ASGI app (the browser tests start a real server instead)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapters.dashboard.auth import hash_password
from adapters.dashboard.server import build_app
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
