"""The Ideas page over HTTP: its filters, sorts and pages, and each action (Merge after its preview, Tag,
Assign, Note, a bulk status) through the engine's use cases, audited with the teammate's name; and what it
refuses: a viewer (403), no CSRF token (403), another community's idea in the URL (404), a merge into
itself or into an idea already merged into it, an overlong tag; hostile tags and notes shown literally."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from markupsafe import escape

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.store.records import IdeaStatus, NewIdea, Proposal
from tests.adapters.dashboard.conftest import add_teammate, csrf_of, sign_in
from tests.conftest import FakeClock
from tests.helpers import say

HOSTILE = '<script>alert("x")</script> javascript:alert(1)'
ACTIONS = ("status", "merge", "tag", "assign", "note")


def _form(action: str, token: str) -> dict[str, str]:
    """A valid form for each of an idea's actions (with ``token`` as its CSRF token)."""
    values = {"status": {"status": "declined"}, "merge": {"into": "2"}, "tag": {"tag": "drinks"}}
    values |= {"assign": {"teammate": "dashboard:lena"}, "note": {"note": "Ask the supplier"}}
    return {"csrf": token, **values[action]}


def _flash(page: httpx.Response) -> str:
    found = re.search(r'<p class="flash [a-z]+" role="status">(.*?)</p>', page.text, re.S)
    assert found is not None, "the action's answer is shown"
    return html.unescape(found.group(1))


@pytest.fixture
async def two_ideas(engine: Engine, community: int, cafe: SpaceRef, person: Callable[..., UserRef]) -> int:
    """A second idea (#2, by Bob) beside Ana's #1; Cy voted for both, Di for #1 only."""
    await say(engine, person("Bob"), cafe, "/idea Board games on rainy afternoons")
    for voter, ideas in (("Cy", (1, 2)), ("Di", (1,))):
        for idea in ideas:
            await engine.ideas.vote(await engine.context(person(voter), cafe), idea, up=True)
    return community


@pytest.fixture
async def lena(engine: Engine, client: httpx.AsyncClient, clock: FakeClock) -> str:
    """Lena, a moderator signed in with her password; a CSRF token of her session."""
    await add_teammate(engine, "lena", "moderator", clock)
    await sign_in(client, "lena")
    return csrf_of((await client.get("/signin")).text)


async def test_filters_sorts_and_pages_are_read_from_the_query(
    engine: Engine, client: httpx.AsyncClient, two_ideas: int, lena: str, clock: FakeClock
) -> None:
    store, community = engine.services.store, two_ideas
    author = await store.fetchval("SELECT id FROM users WHERE platform_user_id = 'ana'")
    for n in range(55):
        proposal = Proposal(author, community, f"Filler idea number {n}", "drinks" if n == 0 else None)
        await store.ideas.add(NewIdea(proposal, None, IdeaStatus.NEW), engine.services.rules, clock())
    base = f"/c/{community}/ideas"
    first = await client.get(base, params={"sort": "top"})
    assert "Ideas 1–50 of 57" in first.text and 'rel="next"' in first.text
    assert first.text.index("Oat milk") < first.text.index("Board games"), "2 votes before 1"
    last = await client.get(base, params={"sort": "new", "page": "2"})
    assert "Ideas 51–57 of 57" in last.text and "Oat milk" in last.text and 'rel="prev"' in last.text
    drinks = await client.get(base, params={"category": "drinks"})
    assert "Ideas 1–1 of 1" in drinks.text and "Filler idea number 0" in drinks.text
    assert "Oat milk" in (await client.get(base, params={"sort": "trending", "platform": "console"})).text
    assert "No idea matches" in (await client.get(base, params={"platform": "discord"})).text
    assert "No idea matches" in (await client.get(base, params={"status": "declined"})).text
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    assert "No idea matches" in (await client.get(base, params={"since": tomorrow})).text
    nonsense = await client.get(base, params={"sort": "x';--", "status": "nope", "page": "-3", "since": "soon"})
    assert nonsense.status_code == 200 and "Ideas 1–50 of 57" in nonsense.text


async def test_merge_shows_the_votes_kept_then_merges_through_the_status_use_case(
    engine: Engine, client: httpx.AsyncClient, two_ideas: int, lena: str
) -> None:
    base = f"/c/{two_ideas}/ideas"
    preview = await client.get(f"{base}/1/merge", params={"into": "#2", "back": "sort=new"})
    assert preview.status_code == 200
    assert "Merge idea #1 into #2" in preview.text and "keeps 2 votes" in preview.text
    assert await engine.services.store.fetchval("SELECT status FROM ideas WHERE id = 1") == "new"
    done = await client.post(f"{base}/1/merge", data={"csrf": lena, "into": "2", "back": "sort=new"})
    assert done.headers["location"] == f"{base}?sort=new"
    page = await client.get(done.headers["location"])
    assert "merged into #2" in _flash(page)
    assert await engine.services.store.fetchval("SELECT votes FROM ideas WHERE id = 2") == 2
    again = await client.post(f"{base}/2/merge", data={"csrf": lena, "into": "1"}, follow_redirects=True)
    assert "already merged into #2" in _flash(again)
    refused = await client.get(f"{base}/2/merge", params={"into": "1"})
    assert refused.status_code == 400 and "already merged into #2" in html.unescape(refused.text)
    itself = await client.post(f"{base}/2/merge", data={"csrf": lena, "into": "2"}, follow_redirects=True)
    assert "merged into itself" in _flash(itself)
    audit = await client.get(f"/c/{two_ideas}/audit")
    assert "lena" in audit.text and "merged #2" in audit.text


async def test_tag_assign_and_note_are_audited_with_the_teammate_and_shown_literally(
    engine: Engine, client: httpx.AsyncClient, two_ideas: int, lena: str
) -> None:
    base = f"/c/{two_ideas}/ideas"
    long_note = f"{HOSTILE} " + "n" * 9_950
    for action, form in (("tag", {"tag": HOSTILE[:30]}), ("assign", {"teammate": "dashboard:lena"})):
        done = await client.post(f"{base}/1/{action}", data={"csrf": lena, **form}, follow_redirects=True)
        assert "#1" in _flash(done), action
    noted = await client.post(f"{base}/1/note", data={"csrf": lena, "note": long_note}, follow_redirects=True)
    assert "Only the team sees it" in _flash(noted)
    page = noted.text
    assert "<script>" not in page and 'href="javascript:' not in page
    assert str(escape(HOSTILE[:30])) in page and str(escape(long_note)) in page
    assert "<td>lena</td>" in page, "the assignee shows in the table"
    too_long = await client.post(f"{base}/1/tag", data={"csrf": lena, "tag": "x" * 33}, follow_redirects=True)
    assert "1 to 32 characters" in _flash(too_long)
    nobody = await client.post(f"{base}/1/assign", data={"csrf": lena, "teammate": "dashboard:ghost"})
    assert "doesn't moderate" in _flash(await client.get(nobody.headers["location"]))
    removed = await client.post(
        f"{base}/1/tag", data={"csrf": lena, "tag": HOSTILE[:30], "action": "remove"}, follow_redirects=True
    )
    assert "no longer tagged" in _flash(removed)
    audit = (await client.get(f"/c/{two_ideas}/audit")).text
    for action in ("tag", "untag", "assign", "note"):
        assert re.search(rf"<td>lena</td><td>{action}</td>", audit), action
    assert "<script>" not in audit


async def test_a_bulk_status_changes_the_selected_ideas_and_tells_their_people(
    engine: Engine, client: httpx.AsyncClient, two_ideas: int, lena: str, person: Callable[..., UserRef]
) -> None:
    bakery = SpaceRef("console", "bakery", "The Bakery")
    await say(engine, person("Bo"), bakery, "/idea Sourdough on Sundays would be lovely")
    form = {"csrf": lena, "ids": ["1", "2", "3", "nonsense"], "status": "under_review", "note": "This week"}
    done = await client.post(f"/c/{two_ideas}/ideas/bulk", data=form, follow_redirects=True)
    text = _flash(done)
    assert "2 ideas are now under review" in text and "#3" in text, text
    statuses = await engine.services.store.fetchall("SELECT id, status FROM ideas ORDER BY id")
    assert [tuple(row) for row in statuses] == [(1, "under_review"), (2, "under_review"), (3, "new")]
    told = await engine.services.store.fetchall("SELECT target FROM outbox WHERE payload LIKE '%This week%'")
    assert sorted(row[0] for row in told) == ["user:ana", "user:bob", "user:cy", "user:cy", "user:di"]
    merged = await client.post(f"/c/{two_ideas}/ideas/bulk", data={**form, "status": "merged"})
    assert merged.status_code == 400


async def test_each_action_is_refused_to_a_viewer_without_csrf_and_for_another_communitys_idea(
    engine: Engine, client: httpx.AsyncClient, two_ideas: int, clock: FakeClock, person: Callable[..., UserRef]
) -> None:
    bakery = SpaceRef("console", "bakery", "The Bakery")
    await say(engine, person("Bo"), bakery, "/idea Sourdough on Sundays would be lovely")
    await add_teammate(engine, "lena", "moderator", clock)
    await add_teammate(engine, "vic", "viewer", clock)
    base = f"/c/{two_ideas}/ideas"
    await sign_in(client, "vic")
    token = csrf_of((await client.get("/signin")).text)
    page = await client.get(base)
    assert page.status_code == 200 and "Oat milk" in page.text
    assert not any(f">{label}</button>" in page.text for label in ("Merge", "Tag", "Assign", "Note"))
    for action in ACTIONS:
        assert (await client.post(f"{base}/1/{action}", data=_form(action, token))).status_code == 403, action
    assert (await client.get(f"{base}/1/merge", params={"into": "2"})).status_code == 403
    assert (
        await client.post(f"{base}/bulk", data={"csrf": token, "ids": "1", "status": "declined"})
    ).status_code == 403
    await sign_in(client, "lena")
    token = csrf_of((await client.get("/signin")).text)
    for action in ACTIONS:
        assert (await client.post(f"{base}/1/{action}", data=_form(action, "forged"))).status_code == 403, action
        assert (await client.post(f"{base}/3/{action}", data=_form(action, token))).status_code == 404, action
    assert (await client.post(f"{base}/bulk", data={"ids": "1", "status": "declined"})).status_code == 403
    assert (await client.get(f"{base}/3/merge", params={"into": "2"})).status_code == 404
    store = engine.services.store
    assert await store.fetchval("SELECT COUNT(*) FROM audit") == 0
    assert await store.fetchval("SELECT COUNT(*) FROM ideas WHERE status != 'new'") == 0


async def test_the_ideas_page_speaks_romanian(client: httpx.AsyncClient, two_ideas: int, lena: str) -> None:
    page = await client.get(f"/c/{two_ideas}/ideas", headers={"accept-language": "ro-RO,ro;q=0.9"})
    assert '<html lang="ro">' in page.text
    for label in ("Idei", "Ideile 1–2 din 2", "Unește", "Etichetează", "Atribuie", "Stabilește starea celor selectate"):
        assert label in page.text, label
    done = await client.post(
        f"/c/{two_ideas}/ideas/1/tag", data={"csrf": lena, "tag": "băuturi"}, headers={"accept-language": "ro"}
    )
    shown = await client.get(done.headers["location"], headers={"accept-language": "ro"})
    assert "Ideea #1 are acum eticheta băuturi." in _flash(shown)


async def test_a_chat_moderator_can_take_an_idea_themselves(
    engine: Engine, client: httpx.AsyncClient, community: int, person: Callable[..., UserRef]
) -> None:
    async def moderates(user: UserRef, space: SpaceRef) -> bool:
        return user.platform_user_id == "cleo" and space.external_id == "cafe"

    engine.moderation.register_check("console", moderates)
    link = await say(engine, person("Cleo"), SpaceRef("console", "dm-cleo", "Cleo", True), "/dashboard")
    path = "/signin/link/" + str(link.text).rsplit("/signin/link/", 1)[1].strip()
    await client.post(path, data={"csrf": csrf_of((await client.get(path)).text)})
    page = await client.get(f"/c/{community}/ideas")
    assert '<option value="console:cleo" >Cleo</option>' in page.text, "the signed-in chat moderator is offered"
    done = await client.post(
        f"/c/{community}/ideas/1/assign", data={"csrf": csrf_of(page.text), "teammate": "console:cleo"}
    )
    assert "Idea #1 is assigned to Cleo." in _flash(await client.get(done.headers["location"]))
    assert (
        await engine.services.store.fetchval(
            "SELECT u.display_name FROM ideas i JOIN users u ON u.id = i.assignee_id WHERE i.id = 1"
        )
        == "Cleo"
    )
