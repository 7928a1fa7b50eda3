"""Members upvote and retract (points capped, counts exact), browse listings; moderators review ideas:
statuses, merges, launches, the moderation queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, to_markdown, to_plain
from bot.settings import Settings
from tests.bot.conftest import LOYALTY, MUSIC, OUTLETS, OUTLETS_REWORDED, open_winter_menu, submit, votes_of
from tests.conftest import FakeClock
from tests.helpers import button, ledger_rows, say

EngineWith = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def engine_with(settings: Settings, clock: FakeClock) -> AsyncIterator[EngineWith]:
    """An engine whose idea settings differ from the defaults (moderation queue, point caps…)."""
    async with AsyncExitStack() as stack:

        async def make(**ideas: Any) -> Engine:
            custom = settings.model_copy(update={"ideas": settings.ideas.model_copy(update=ideas)})
            return await stack.enter_async_context(running_engine(custom, clock))

        yield make


async def listed_ids(engine: Engine, user: UserRef, space: SpaceRef) -> set[int]:
    """Every idea number shown in the top, new and trending listings."""
    shown: set[int] = set()
    for view in ("top", "new", "trending"):
        reply = await say(engine, user, space, f"/ideas {view}")
        shown |= {int(b.label[1:]) for row in reply.buttons for b in row if b.label.startswith("#")}
    return shown


# votes ----------------------------------------------------------------------------------------


async def test_votes_stop_when_the_ideas_round_closes(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    round_id = await open_winter_menu(engine, person, cafe)
    idea = await submit(engine, ana, cafe, "Gingerbread latte with oat milk")
    assert (await engine.rounds.close(await engine.context(person("Mod"), cafe), round_id)).outcome == Outcome.DONE
    refused = await engine.ideas.vote(await engine.context(bob, cafe), idea, up=True)
    assert refused.outcome == Outcome.REFUSED
    assert "round" in to_plain(refused.text)
    assert await votes_of(engine, idea) == (0, 0)


async def test_a_member_cannot_vote_for_their_own_idea(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    idea = await submit(engine, ana, cafe, MUSIC)
    reply = await engine.ideas.vote(await engine.context(ana, cafe), idea, up=True)
    assert reply.outcome == Outcome.REFUSED
    assert "your own idea" in to_plain(reply.text)
    assert await votes_of(engine, idea) == (0, 0)


async def test_a_second_upvote_by_the_same_member_is_refused(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    page = await say(engine, ana, cafe, f"/idea {MUSIC}")
    first = await engine.act(bob, cafe, button(page, "Upvote"))
    second = await engine.act(bob, cafe, button(page, "Upvote"))
    assert first.outcome == Outcome.DONE
    assert second.outcome == Outcome.ALREADY_DONE
    assert "already upvoted" in to_plain(second.text)
    assert await votes_of(engine, 1) == (1, 1)


async def test_retracting_and_voting_again_keeps_the_authors_ledger_balanced(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    page = await say(engine, ana, cafe, f"/idea {MUSIC}")
    for label in ("Upvote", "Retract", "Upvote"):
        assert (await engine.act(bob, cafe, button(page, label))).outcome == Outcome.DONE, label
    nothing = await engine.act(person("Chloe"), cafe, button(page, "Retract"))
    assert nothing.outcome == Outcome.ALREADY_DONE
    assert "nothing to take back" in to_plain(nothing.text)
    ctx, bob_ctx = await engine.context(ana, cafe), await engine.context(bob, cafe)
    ideas = [row for row in await ledger_rows(engine, ctx.user_id) if row[1].startswith("idea")]
    assert ideas == [
        (2, "idea_upvote", f"idea-upvote:1:{bob_ctx.user_id}:1"),
        (-2, "idea_unvote", f"idea-unvote:1:{bob_ctx.user_id}:2"),
        (2, "idea_upvote", f"idea-upvote:1:{bob_ctx.user_id}:3"),
    ]
    assert await votes_of(engine, 1) == (1, 1)
    points = await engine.points.points(await engine.context(ana, cafe))
    assert "upvotes on your idea #1" in to_plain(points.text)
    assert "an upvote taken back from your idea #1" in to_plain(points.text)


async def test_upvote_points_stop_at_the_cap_per_idea(engine_with: EngineWith, person, cafe) -> None:
    engine = await engine_with(points_per_upvote=2, upvote_points_cap=5)
    ana = person("Ana")
    idea = await submit(engine, ana, cafe, MUSIC)
    for name in ("B", "C", "D", "E"):
        await engine.ideas.vote(await engine.context(person(name), cafe), idea, up=True)
    await engine.ideas.vote(await engine.context(person("B"), cafe), idea, up=False)
    ctx = await engine.context(ana, cafe)
    earned = [row[0] for row in await ledger_rows(engine, ctx.user_id) if row[1].startswith("idea")]
    assert earned == [2, 2, 1], "three votes reach the cap; the fourth and the retraction stay within it"


async def test_five_hundred_members_voting_at_once_count_exactly_five_hundred(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    idea = await submit(engine, ana, cafe, OUTLETS)
    members = [person(f"Voter{i}") for i in range(500)]
    replies = await asyncio.gather(
        *(engine.ideas.vote(ctx, idea, up=True) for ctx in [await engine.context(member, cafe) for member in members])
    )
    assert all(reply.outcome == Outcome.DONE for reply in replies)
    assert await votes_of(engine, idea) == (500, 500)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM vote_events") == 500
    assert (
        await engine.points.balance(await engine.context(ana, cafe)) == engine.services.settings.ideas.upvote_points_cap
    )


async def test_a_banned_member_cannot_vote(engine: Engine, person, cafe) -> None:
    mod, ana, bob = person("Mod"), person("Ana"), person("Bob")
    idea = await submit(engine, ana, cafe, MUSIC)
    await engine.tasks.start(await engine.context(bob, cafe))
    await say(engine, mod, cafe, "/ban bob")
    refused = await engine.ideas.vote(await engine.context(bob, cafe), idea, up=True)
    assert refused.outcome == Outcome.REFUSED
    assert "paused" in to_plain(refused.text)
    refused_idea = await say(engine, bob, cafe, f"/idea {LOYALTY}")
    assert refused_idea.outcome == Outcome.REFUSED
    assert await votes_of(engine, idea) == (0, 0)


async def test_a_forged_or_unknown_token_changes_nothing(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    idea = await submit(engine, ana, cafe, MUSIC)
    forged = await engine.act(bob, cafe, f"v.{idea}.AAAAAAAA")
    missing = await engine.act(bob, cafe, engine.services.codec.pack("v", 404))
    assert forged.outcome == Outcome.STALE
    assert missing.outcome == Outcome.REFUSED
    assert "no idea #404" in to_plain(missing.text)
    assert await votes_of(engine, idea) == (0, 0)


# browsing -------------------------------------------------------------------------------------


async def test_listings_page_with_buttons_that_edit_the_message(engine_with: EngineWith, person, cafe) -> None:
    engine = await engine_with(page_size=3, similarity_threshold=100)
    ana = person("Ana")
    for n in range(7):
        await submit(engine, ana, cafe, f"Idea number {n} about something else entirely")
    first = await say(engine, ana, cafe, "/ideas new")
    assert "page 1/3" in to_plain(first.text)
    assert not first.edit
    second = await engine.act(ana, cafe, button(first, "▶"))
    assert second.edit
    assert "page 2/3" in to_plain(second.text)
    assert "Idea number 3" in to_plain(second.text), "newest first: 6 5 4 | 3 2 1 | 0"
    back = await engine.act(ana, cafe, button(second, "◀"))
    assert "page 1/3" in to_plain(back.text)
    past_the_end = await say(engine, ana, cafe, "/ideas new 9")
    assert "page 3/3" in to_plain(past_the_end.text)


async def test_a_full_page_of_long_ideas_stays_well_under_discords_limit(engine_with: EngineWith, person, cafe) -> None:
    engine = await engine_with(page_size=10, similarity_threshold=100)
    ana = person("Ana")
    for n in range(10):
        await submit(engine, ana, cafe, f"{n} " + "A very long idea with <tags> & *stars* " * 12)
    reply = await say(engine, ana, cafe, "/ideas top")
    assert len(to_plain(reply.text)) < 1500
    assert len(to_markdown(reply.text)) < 2000
    assert "…" in to_plain(reply.text)
    assert "<tags>" in to_plain(reply.text)
    page = await say(engine, ana, cafe, "/idea 1")
    assert to_plain(page.text).count("<tags>") == 12, "the idea page shows the full text"


async def test_trending_favours_fresh_votes_and_top_counts_all_votes(
    engine: Engine, person, cafe, clock: FakeClock
) -> None:
    ana, bob = person("Ana"), person("Bob")
    old = await submit(engine, ana, cafe, OUTLETS)
    for name in ("B", "C", "D"):
        await engine.ideas.vote(await engine.context(person(name), cafe), old, up=True)
    clock.advance(hours=48)
    fresh = await submit(engine, bob, cafe, MUSIC)
    await engine.ideas.vote(await engine.context(person("C"), cafe), fresh, up=True)
    top = await say(engine, ana, cafe, "/ideas top")
    trending = await say(engine, ana, cafe, "/ideas trending")
    assert [b.label for b in top.buttons[0]] == [f"#{old}", f"#{fresh}"]
    assert [b.label for b in trending.buttons[0]] == [f"#{fresh}", f"#{old}"]


async def test_pending_and_hidden_ideas_never_show_in_listings_or_suggestions(
    engine_with: EngineWith, person, cafe
) -> None:
    engine = await engine_with(moderation_queue=True)
    mod, ana, bob = person("Mod"), person("Ana"), person("Bob")
    waiting = await say(engine, ana, cafe, f"/idea {OUTLETS}")
    assert waiting.outcome == Outcome.DONE
    assert "moderator" in to_plain(waiting.text)
    assert await listed_ids(engine, bob, cafe) == set()
    assert (await say(engine, bob, cafe, f"/idea {OUTLETS_REWORDED}")).outcome == Outcome.DONE
    assert (await engine.ideas.vote(await engine.context(bob, cafe), 1, up=True)).outcome == Outcome.REFUSED
    assert (await say(engine, bob, cafe, "/idea 1")).outcome == Outcome.REFUSED
    assert (await say(engine, ana, cafe, "/idea 1")).outcome == Outcome.INFO, "authors see their own"
    queue = await say(engine, mod, cafe, "/ideas pending")
    assert "#1" in to_plain(queue.text)
    assert "#2" in to_plain(queue.text)
    assert (await say(engine, mod, cafe, "/approve 1")).outcome == Outcome.DONE
    assert await listed_ids(engine, bob, cafe) == {1}
    assert (await say(engine, mod, cafe, "/hide 1")).outcome == Outcome.DONE
    assert await listed_ids(engine, bob, cafe) == set()
    hidden_page = await say(engine, bob, cafe, "/idea 1")
    assert hidden_page.outcome == Outcome.REFUSED
    await say(engine, mod, cafe, "/approve 2")
    third = await say(engine, person("Chloe"), cafe, f"/idea {OUTLETS}")
    assert "#1" not in to_plain(third.text), "a hidden idea is never suggested"
    actions = [row[0] for row in await engine.services.store.fetchall("SELECT action FROM audit ORDER BY id")]
    assert actions == ["approve", "hide", "approve"]


# statuses -------------------------------------------------------------------------------------


async def test_a_member_cannot_set_statuses_approve_or_hide(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    idea = await submit(engine, ana, cafe, MUSIC)
    for command in (f"/status {idea} accepted", f"/approve {idea}", f"/hide {idea}", "/ideas pending"):
        reply = await say(engine, bob, cafe, command)
        assert reply.outcome == Outcome.REFUSED, command
        assert "Only moderators" in to_plain(reply.text)
    assert await engine.services.store.fetchval("SELECT status FROM ideas") == "new"
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM audit") == 0


async def test_author_and_voters_are_told_once_about_a_status(engine: Engine, person, cafe) -> None:
    mod, ana = person("Mod"), person("Ana")
    idea = await submit(engine, ana, cafe, OUTLETS)
    voters = [person(name, "ro" if name == "Mihai" else "en") for name in ("Bob", "Mihai")]
    for voter in voters:
        await engine.ideas.vote(await engine.context(voter, cafe), idea, up=True)
    done = await say(engine, mod, cafe, f"/status {idea} accepted Outlets arrive in March")
    again = await say(engine, mod, cafe, f"/status {idea} accepted Outlets arrive in March")
    renoted = await say(engine, mod, cafe, f"/status {idea} accepted Outlets arrive in April")
    assert done.outcome == Outcome.DONE
    assert "accepted" in to_plain(done.text)
    assert again.outcome == Outcome.ALREADY_DONE
    assert renoted.outcome == Outcome.DONE
    rows = await engine.services.store.fetchall("SELECT target, payload, dedup_key FROM outbox ORDER BY id")
    assert sorted(row["target"] for row in rows) == ["user:ana", "user:bob", "user:mihai"]
    messages = {row["target"]: to_plain(json.loads(row["payload"])["text"]) for row in rows}
    assert "Your idea #1" in messages["user:ana"]
    assert "Outlets arrive in March" in messages["user:ana"]
    assert "An idea you upvoted" in messages["user:bob"]
    assert "acceptată" in messages["user:mihai"], "each in their own language"
    assert all(json.loads(row["payload"])["private"] for row in rows)
    ctx = await engine.context(ana, cafe)
    bonuses = [row for row in await ledger_rows(engine, ctx.user_id) if row[1] == "idea_accepted"]
    assert bonuses == [(50, "idea_accepted", f"idea-accepted:{idea}")]
    audit = await engine.services.store.fetchall("SELECT action, target, detail FROM audit ORDER BY id")
    assert [tuple(row) for row in audit] == [
        ("status", "#1", "accepted Outlets arrive in March"),
        ("status", "#1", "accepted Outlets arrive in April"),
    ]
    page = await say(engine, ana, cafe, f"/idea {idea}")
    assert "Outlets arrive in April" in to_plain(page.text)


async def test_merging_ideas_that_share_voters_keeps_the_exact_union(engine: Engine, person, cafe) -> None:
    mod, ana, bea = person("Mod"), person("Ana"), person("Bea")
    duplicate = await submit(engine, ana, cafe, OUTLETS)
    target = await submit(engine, bea, cafe, OUTLETS_REWORDED)
    for name in ("U1", "U2", "U3", "Bea"):
        await engine.ideas.vote(await engine.context(person(name), cafe), duplicate, up=True)
    for name in ("U2", "U4"):
        await engine.ideas.vote(await engine.context(person(name), cafe), target, up=True)
    merged = await say(engine, mod, cafe, f"/status {duplicate} merged {target}")
    assert merged.outcome == Outcome.DONE
    assert "4 in all" in to_plain(merged.text)
    assert await votes_of(engine, target) == (4, 4), "U1 U2 U3 U4; Bea's own vote cannot move to her idea"
    assert await votes_of(engine, duplicate) == (0, 0)
    assert await listed_ids(engine, ana, cafe) == {target}
    page = await say(engine, ana, cafe, f"/idea {duplicate}")
    assert f"Merged into #{target}" in to_plain(page.text)
    vote = await engine.ideas.vote(await engine.context(person("U5"), cafe), duplicate, up=True)
    assert vote.outcome == Outcome.REFUSED
    assert f"vote for #{target}" in to_plain(vote.text)
    again = await say(engine, mod, cafe, f"/status {duplicate} accepted")
    assert again.outcome == Outcome.REFUSED
    targets = [row[0] for row in await engine.services.store.fetchall("SELECT target FROM outbox")]
    assert sorted(targets) == ["user:ana", "user:bea", "user:u1", "user:u2", "user:u3"]


async def test_launched_ideas_show_what_changed(engine: Engine, person, cafe) -> None:
    mod, ana = person("Mod"), person("Ana")
    empty = await say(engine, ana, cafe, "/launched")
    assert "No idea has been launched yet" in to_plain(empty.text)
    idea = await submit(engine, ana, cafe, OUTLETS)
    await say(engine, mod, cafe, f"/status {idea} launched Ten new outlets by the window")
    shown = await say(engine, ana, cafe, "/launched")
    assert "What your ideas changed" in to_plain(shown.text)
    assert "Ten new outlets" in to_plain(shown.text)
    ctx = await engine.context(ana, cafe)
    assert (100, "idea_launched", f"idea-launched:{idea}") in await ledger_rows(engine, ctx.user_id)


async def test_a_bad_status_command_explains_the_usage(engine: Engine, person, cafe) -> None:
    mod, ana = person("Mod"), person("Ana")
    idea = await submit(engine, ana, cafe, MUSIC)
    for command in (
        "/status",
        f"/status {idea} shipped",
        f"/status {idea} merged",
        f"/status {idea} merged x",
    ):
        reply = await say(engine, mod, cafe, command)
        assert reply.outcome == Outcome.REFUSED, command
        assert "/status" in to_plain(reply.text), command
    itself = await say(engine, mod, cafe, f"/status {idea} merged {idea}")
    assert itself.outcome == Outcome.REFUSED
    assert "can't be merged into itself" in to_plain(itself.text)
