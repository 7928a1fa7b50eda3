"""The Overview's numbers and chart, owners managing rewards (codes from an uploaded file) and teammates,
the audit log's filter naming the teammate, and refusals in the teammate's language: over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.adapters.dashboard.conftest import PASSWORD, add_teammate, csrf_of, sign_in
from tests.conftest import FakeClock
from tests.helpers import button, open_task, say

CODES = b"reward_id,code\nmug,MUG-1\nmug,MUG-2\nmug,MUG-1\n"


async def _owner(engine: Engine, client: httpx.AsyncClient, clock: FakeClock, community: int) -> str:
    """Lena, an owner, signed in; a CSRF token of her session."""
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    return csrf_of((await client.get(f"/c/{community}/rewards")).text)


async def test_the_overview_shows_turnout_per_space_answers_per_hour_and_waiting_ideas(
    engine: Engine,
    client: httpx.AsyncClient,
    community: int,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
    clock: FakeClock,
) -> None:
    await say(engine, person("Mod"), cafe, "/round open coffee")
    for name in ("Bo", "Cy"):
        asked = await open_task(engine, person(name), cafe, "What do you order")
        await engine.act(person(name), cafe, button(asked, "Latte"))
    await add_teammate(engine, "vic", "viewer", clock)
    await sign_in(client, "vic")
    page = (await client.get(f"/c/{community}")).text
    assert "<h2>Answers per hour</h2>" in page and "<svg" in page and "2 answers in the last 24 hours" in page
    assert "<title>10:00: 2</title>" in page, "the current hour's bar"
    assert "Response rate per platform and space" in page
    assert "<td>console</td><td>Corner Café</td>" in page and "<td>2</td><td>67%</td>" in page  # Ana, Bo, Cy
    assert "Oat milk" in page and "1 idea waiting" in page
    assert "unsafe-inline" not in (await client.get(f"/c/{community}")).headers["content-security-policy"]


async def test_an_owner_imports_codes_from_a_file_duplicates_reported_once(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    csrf = await _owner(engine, client, clock, community)
    saved = await client.post(
        f"/c/{community}/rewards/save",
        data={"csrf": csrf, "id": "mug", "title": "Café mug", "cost": "50", "stock": ""},
        follow_redirects=True,
    )
    assert "Reward mug saved." in saved.text and "Café mug" in saved.text
    files = {"codes": ("codes.csv", CODES, "text/csv")}
    imported = await client.post(
        f"/c/{community}/rewards/import", data={"csrf": csrf}, files=files, follow_redirects=True
    )
    assert "imported 2 codes for mug; skipped 1 code already loaded" in imported.text
    again = await client.post(f"/c/{community}/rewards/import", data={"csrf": csrf}, files=files, follow_redirects=True)
    assert "skipped 3 codes already loaded" in again.text
    reward = await engine.services.store.rewards.reward("mug")
    assert reward is not None and reward.codes_left == 2 and reward.stock == 2, "never counted twice"
    forged = await client.post(f"/c/{community}/rewards/import", data={"csrf": "forged"}, files=files)
    assert forged.status_code == 403
    unknown = {"codes": ("bad.csv", b"nope,CODE-9\n", "text/csv")}
    refused = await client.post(
        f"/c/{community}/rewards/import", data={"csrf": csrf}, files=unknown, follow_redirects=True
    )
    assert "Nothing changed: bad.csv: unknown reward id(s)" in refused.text
    huge = {"codes": ("huge.csv", b"mug,X\n" * 200_000, "text/csv")}
    too_big = await client.post(f"/c/{community}/rewards/import", data={"csrf": csrf}, files=huge)
    assert too_big.status_code == 413 and "too large" in too_big.text
    restocked = await client.post(
        f"/c/{community}/rewards/save",
        data={"csrf": csrf, "id": "mug", "title": "Café mug", "cost": "50", "stock": "9"},
        follow_redirects=True,
    )
    assert "<td>9</td>" in restocked.text
    audit = (await client.get(f"/c/{community}/audit", params={"teammate": "lena"})).text
    assert "codes_import" in audit and "reward_save" in audit and "lena" in audit
    only_imports = (await client.get(f"/c/{community}/audit", params={"action": "codes_import"})).text
    assert "codes_import" in only_imports and "reward_save" not in only_imports.split("<tbody>")[1]


async def test_moderators_and_viewers_may_not_manage_rewards_or_teammates(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    for name, role in (("mona", "moderator"), ("vic", "viewer")):
        await add_teammate(engine, name, role, clock)
        await sign_in(client, name)
        page = await client.get(f"/c/{community}/rewards")
        assert page.status_code == 200 and "Import codes" not in page.text and ">Team</a>" not in page.text
        csrf = csrf_of(page.text)
        files = {"codes": ("codes.csv", CODES, "text/csv")}
        assert (
            await client.post(f"/c/{community}/rewards/import", data={"csrf": csrf}, files=files)
        ).status_code == 403
        form = {"csrf": csrf, "id": "mug", "title": "Mug", "cost": "5"}
        assert (await client.post(f"/c/{community}/rewards/save", data=form)).status_code == 403
        assert (await client.get(f"/c/{community}/team")).status_code == 403
        added = {"csrf": csrf, "name": "eve", "password": PASSWORD, "role": "owner"}
        refused = await client.post(f"/c/{community}/team/add", data=added)
        assert refused.status_code == 403 and "Only owners can do this." in refused.text
    assert await engine.services.store.rewards.reward("mug") is None
    assert await engine.services.store.dashboard.teammate("eve") is None


async def test_an_owner_adds_changes_and_removes_teammates_but_keeps_an_owner(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    csrf = await _owner(engine, client, clock, community)
    team = await client.get(f"/c/{community}/team")
    assert team.status_code == 200 and "<h1>Team</h1>" in team.text and ">Team</a>" in team.text
    short = {"csrf": csrf, "name": "eve", "password": "short", "role": "viewer"}
    refused = await client.post(f"/c/{community}/team/add", data=short, follow_redirects=True)
    assert "at least 12 characters" in refused.text
    added = await client.post(f"/c/{community}/team/add", data={**short, "password": PASSWORD}, follow_redirects=True)
    assert "eve is now a viewer." in added.text
    eve = await engine.services.store.dashboard.teammate("eve")
    assert eve is not None and eve.password_hash.startswith("$argon2id$")
    promoted = await client.post(
        f"/c/{community}/team/change", data={"csrf": csrf, "name": "eve", "role": "moderator"}, follow_redirects=True
    )
    assert "eve is now a moderator." in promoted.text
    alone = await client.post(
        f"/c/{community}/team/change", data={"csrf": csrf, "name": "lena", "role": "viewer"}, follow_redirects=True
    )
    assert "the last owner" in alone.text
    removed = await client.post(
        f"/c/{community}/team/change", data={"csrf": csrf, "name": "eve", "role": "remove"}, follow_redirects=True
    )
    assert "eve was removed." in removed.text and await engine.services.store.dashboard.teammate("eve") is None
    forged = await client.post(f"/c/{community}/team/change", data={"name": "lena", "role": "remove"})
    assert forged.status_code == 403
    audit = (await client.get(f"/c/{community}/audit")).text
    for action in ("teammate_save", "teammate_role", "teammate_remove"):
        assert action in audit
    assert (await client.get("/c/99999/team")).status_code == 404


async def test_refusals_speak_the_teammates_language(
    engine: Engine, client: httpx.AsyncClient, community: int, clock: FakeClock
) -> None:
    romanian = {"accept-language": "ro-RO,ro;q=0.9"}
    await add_teammate(engine, "vic", "viewer", clock)
    await sign_in(client, "vic")
    csrf = csrf_of((await client.get(f"/c/{community}/ideas")).text)
    viewer = await client.post(
        f"/c/{community}/ideas/1/status", data={"csrf": csrf, "status": "launched"}, headers=romanian
    )
    assert viewer.status_code == 403 and "nu pot acționa" in viewer.text
    english = await client.post(f"/c/{community}/ideas/1/status", data={"csrf": csrf, "status": "launched"})
    assert "not act" in english.text
    missing = await client.get("/c/99999/rounds", headers=romanian)
    assert missing.status_code == 404 and "Nu există această comunitate aici." in missing.text
    nowhere = await client.get("/no/such/page", headers=romanian)
    assert nowhere.status_code == 404 and "Nu e nimic aici." in nowhere.text
    assert "Nothing here." in (await client.get("/no/such/page")).text
    forged = await client.post("/signout", data={"csrf": "forged"}, headers=romanian)
    assert forged.status_code == 403 and "Formularul a expirat" in forged.text
    owners = await client.get(f"/c/{community}/team", headers=romanian)
    assert owners.status_code == 403 and "Doar proprietarii" in owners.text
    await add_teammate(engine, "lena", "owner", clock)
    await sign_in(client, "lena")
    csrf = csrf_of((await client.get(f"/c/{community}/rewards")).text)
    form = {"csrf": csrf, "id": "mug", "title": "Cană", "cost": "5"}
    saved = await client.post(f"/c/{community}/rewards/save", data=form, headers=romanian, follow_redirects=True)
    assert "Recompensa mug a fost salvată." in saved.text, "the use case answers in the browser's language"
