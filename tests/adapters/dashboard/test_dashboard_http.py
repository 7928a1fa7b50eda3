"""The dashboard over HTTP: signing in (password, one-time link), the pages, actions through the engine's
use cases, and what it refuses (no CSRF token, a viewer acting, another community's ids)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from adapters.console import ConsoleSession
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.adapters.dashboard.conftest import HOSTILE, add_teammate, csrf_of, sign_in
from tests.conftest import FakeClock
from tests.helpers import say

PAGES = {"": "Overview", "/rounds": "Rounds", "/ideas": "Ideas", "/members": "Members", "/rewards": "Rewards"}
PAGES["/audit"] = "Audit log"


async def test_the_sign_in_page_sends_safe_headers_and_a_strict_cookie(client: httpx.AsyncClient) -> None:
    page = await client.get("/signin")
    assert page.status_code == 200
    for label in ('<label for="name">Name</label>', '<label for="password">Password</label>', ">Sign in</button>"):
        assert label in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
    assert (await client.get("/")).headers["location"] == "/signin"


async def test_a_teammate_signs_in_with_a_password_reads_every_page_and_signs_out(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    await add_teammate(engine, "lena", "owner", clock)
    assert (await sign_in(client, "lena", "wrong password!")).status_code == 401
    signed_in = await sign_in(client, "lena")
    assert signed_in.status_code == 303
    assert (await client.get("/")).headers["location"] == f"/c/{community}"
    for path, title in PAGES.items():
        page = await client.get(f"/c/{community}{path}")
        assert page.status_code == 200, path
        assert f"<h1>{title}</h1>" in page.text
        assert f'">{title}</a>' in page.text  # and in the navigation
    assert "Oat milk" in (await client.get(f"/c/{community}/ideas")).text
    page = await client.get(f"/c/{community}")
    assert (await client.post("/signout", data={"csrf": csrf_of(page.text)})).status_code == 303
    assert (await client.get(f"/c/{community}")).headers["location"] == "/signin"


async def test_setting_a_status_runs_the_chat_use_case_tells_the_author_and_names_the_teammate(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    await add_teammate(engine, "lena", "moderator", clock)
    await sign_in(client, "lena")
    page = await client.get(f"/c/{community}/ideas")
    done = await client.post(
        f"/c/{community}/ideas/1/status",
        data={"csrf": csrf_of(page.text), "status": "accepted", "note": "Next month"},
        follow_redirects=True,
    )
    assert "accepted" in done.text
    idea = await engine.services.store.ideas.idea(1)
    assert idea is not None and idea.status.value == "accepted" and idea.status_note == "Next month"
    payloads = await engine.services.store.fetchall("SELECT target, payload FROM outbox WHERE target = 'user:ana'")
    assert any("Your idea #1" in payload for _, payload in payloads), "the author is told, as from chat"
    audit = await client.get(f"/c/{community}/audit")
    assert "lena" in audit.text and "status" in audit.text


async def test_a_post_without_a_valid_csrf_token_is_refused(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    for token in ({}, {"csrf": "forged"}):
        refused = await client.post(f"/c/{community}/ideas/1/status", data={"status": "declined", **token})
        assert refused.status_code == 403
    idea = await engine.services.store.ideas.idea(1)
    assert idea is not None and idea.status.value == "new"


async def test_a_viewer_reads_but_may_not_act(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    await add_teammate(engine, "vic", "viewer", clock)
    await sign_in(client, "vic")
    page = await client.get(f"/c/{community}/ideas")
    assert page.status_code == 200 and "Set status" not in page.text
    refused = await client.post(
        f"/c/{community}/ideas/1/status", data={"csrf": csrf_of(page.text), "status": "launched"}
    )
    assert refused.status_code == 403
    assert (await client.get(f"/c/{community}/rounds/1/export.csv")).status_code in (403, 404)
    idea = await engine.services.store.ideas.idea(1)
    assert idea is not None and idea.status.value == "new"


async def test_a_one_time_link_from_the_console_signs_in_once_and_expires(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    session = ConsoleSession(engine)
    assert "private chat" in (await session.say("/dashboard"))[0]  # never shown in a group
    session.switch("Mod@console")
    shown = (await session.say("/dashboard"))[0]
    url = next(word for word in shown.split() if word.startswith("http://"))
    path = url.removeprefix("http://127.0.0.1:8080")
    form = await client.get(path)
    assert form.status_code == 200, "opening the link (a link preview) does not use it"
    signed_in = await client.post(path, data={"csrf": csrf_of(form.text)})
    assert signed_in.status_code == 303
    assert (await client.get(f"/c/{community}")).status_code == 200
    form = await client.get(path)
    again = await client.post(path, data={"csrf": csrf_of(form.text)})
    assert again.status_code == 403 and "already used" in again.text

    late = (await session.say("/dashboard"))[0]
    late_path = next(word for word in late.split() if word.startswith("http://")).removeprefix("http://127.0.0.1:8080")
    clock.advance(minutes=11)
    form = await client.get(late_path)
    assert (await client.post(late_path, data={"csrf": csrf_of(form.text)})).status_code == 403


async def test_a_chat_moderator_reaches_only_their_communities(
    engine: Engine, client: httpx.AsyncClient, community: int, person: Callable[..., UserRef]
) -> None:
    bakery = SpaceRef("console", "bakery", "The Bakery")
    await say(engine, person("Bo"), bakery, "/idea Sourdough on Sundays would be lovely")
    other = (await engine.context(person("Bo"), bakery)).space_id
    ideas = await engine.services.store.ideas.listed(other)

    async def moderates(user: UserRef, space: SpaceRef) -> bool:
        return user.platform_user_id == "cleo" and space.external_id == "cafe"

    engine.moderation.register_check("console", moderates)
    link = await say(engine, person("Cleo"), SpaceRef("console", "dm-cleo", "Cleo", True), "/dashboard")
    path = "/signin/link/" + str(link.text).rsplit("/signin/link/", 1)[1].strip()
    form = await client.get(path)
    await client.post(path, data={"csrf": csrf_of(form.text)})
    assert (await client.get("/")).headers["location"] == f"/c/{community}"
    assert (await client.get(f"/c/{other}/ideas")).status_code == 404
    page = await client.get(f"/c/{community}/ideas")
    status_of_other = f"/c/{community}/ideas/{ideas[0].id}/status"
    refused = await client.post(status_of_other, data={"csrf": csrf_of(page.text), "status": "declined"})
    assert refused.status_code == 404, "an idea of another community, through this community's URL"
    assert (await client.get(f"/c/{community}/rounds/999/export.csv")).status_code == 404


async def test_hostile_text_is_shown_literally(
    engine: Engine,
    client: httpx.AsyncClient,
    community: int,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
) -> None:
    await say(engine, person("Mallory"), cafe, f"/idea {HOSTILE}")
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    page = await client.get(f"/c/{community}/ideas")
    assert "<script>alert" not in page.text and 'href="javascript:' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    long_name = await sign_in(httpx.AsyncClient(transport=client._transport, base_url=client.base_url), "x" * 10_000)
    assert long_name.status_code == 401


async def test_ban_and_unban_with_a_reason_through_the_moderation_use_case(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    await add_teammate(engine, "lena", "moderator", clock)
    await sign_in(client, "lena")
    members = await client.get(f"/c/{community}/members?q=an")
    assert "Ana" in members.text and ">Ban</button>" in members.text
    data = {"csrf": csrf_of(members.text), "platform": "console", "member": "ana", "reason": "spam links"}
    banned = await client.post(f"/c/{community}/members/ban", data={**data, "action": "ban"}, follow_redirects=True)
    assert "can no longer answer" in banned.text and ">Unban</button>" in banned.text
    audit = (await client.get(f"/c/{community}/audit")).text
    assert "lena" in audit and "spam links" in audit
    unbanned = await client.post(f"/c/{community}/members/ban", data={**data, "action": "unban"}, follow_redirects=True)
    assert "can take part again" in unbanned.text
