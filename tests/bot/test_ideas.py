"""Members share ideas, find similar ones, upvote and build on them; moderators say what became of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.app import running_engine
from bot.commands import dispatch
from bot.engine import Engine
from bot.features.ideas.similarity import normalise, similarity
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_markdown, to_plain
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.helpers import button, ledger_rows

OUTLETS = "More power outlets for laptops near the window"
OUTLETS_REWORDED = "Please add more power sockets for laptops by the windows"
MUSIC = "Quieter music in the morning please"
LOYALTY = "A loyalty card that works in the app"

REWORDED = [
    (OUTLETS, OUTLETS_REWORDED),
    (LOYALTY, "Loyalty card in the mobile app please"),
    ("Add oat milk as an option for all coffee drinks", "Offer oat milk for every coffee drink"),
    ("Quieter music in the morning please", "Can the music be quieter in the mornings?"),
    ("Mai multe prize pentru laptopuri", "Vă rog mai multe prize pentru laptop"),
    ("Free refills on filter coffee", "Filter coffee refills should be free"),
]
UNRELATED = [
    ("Pumpkin spice latte on the winter menu", "More vegan pastries on the winter menu"),
    (OUTLETS, MUSIC),
    ("We need more seats near the window", "We need more staff at lunch time"),
    ("Bring back the cinnamon rolls", "Bring back the old chairs"),
    ("Mai multe prize pentru laptopuri", "Program prelungit în weekend"),
    ("Free refills on filter coffee", "Free wifi for customers"),
]

EngineWith = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def engine_with(settings: Settings, clock: FakeClock) -> AsyncIterator[EngineWith]:
    """An engine whose idea settings differ from the defaults (moderation queue, point caps…)."""
    async with AsyncExitStack() as stack:

        async def make(**ideas: Any) -> Engine:
            custom = settings.model_copy(update={"ideas": settings.ideas.model_copy(update=ideas)})
            return await stack.enter_async_context(running_engine(custom, clock))

        yield make


async def say(engine: Engine, user: UserRef, space: SpaceRef, text: str, update_key: str | None = None) -> Reply:
    """What ``user`` sees after typing a command."""
    reply = await dispatch(engine, user, space, text, update_key)
    assert reply is not None, text
    return reply


async def submit(engine: Engine, user: UserRef, space: SpaceRef, text: str) -> int:
    """Submit through the command, past any similar-idea prompt; the new idea's id."""
    reply = await say(engine, user, space, f"/idea {text}")
    if reply.outcome == Outcome.INFO:
        reply = await engine.act(user, space, button(reply, "Submit anyway"))
    assert reply.outcome == Outcome.DONE, to_plain(reply.text)
    return int(await engine.services.store.fetchval("SELECT MAX(id) FROM ideas"))


async def votes_of(engine: Engine, idea_id: int) -> tuple[int, int]:
    """The idea's kept count and its vote rows, which must agree."""
    kept = await engine.services.store.fetchval("SELECT votes FROM ideas WHERE id = ?", (idea_id,))
    rows = await engine.services.store.fetchval("SELECT COUNT(*) FROM votes WHERE idea_id = ?", (idea_id,))
    return int(kept), int(rows)


async def open_winter_menu(engine: Engine, person: Callable[..., UserRef], space: SpaceRef) -> int:
    """A moderator opens the ideas round on the winter menu, as in production; its id."""
    mod = await engine.context(person("Mod"), space)
    assert (await engine.rounds.open(mod, "winter-menu")).outcome == Outcome.DONE
    (record,) = await engine.services.store.rounds.open_in(mod.space_id, "ideas")
    return record.id


async def listed_ids(engine: Engine, user: UserRef, space: SpaceRef) -> set[int]:
    """Every idea number shown in the top, new and trending listings."""
    shown: set[int] = set()
    for view in ("top", "new", "trending"):
        reply = await say(engine, user, space, f"/ideas {view}")
        shown |= {int(b.label[1:]) for row in reply.buttons for b in row if b.label.startswith("#")}
    return shown


# similar ideas ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), REWORDED)
def test_a_reworded_idea_scores_above_the_default_threshold(first: str, second: str, settings: Settings) -> None:
    assert similarity(normalise(first), normalise(second)) >= settings.ideas.similarity_threshold


@pytest.mark.parametrize(("first", "second"), UNRELATED)
def test_an_unrelated_idea_scores_below_the_default_threshold(first: str, second: str, settings: Settings) -> None:
    assert similarity(normalise(first), normalise(second)) < settings.ideas.similarity_threshold


async def test_a_member_with_a_near_duplicate_upvotes_the_existing_idea_instead(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    outlets = await submit(engine, ana, cafe, OUTLETS)
    prompt = await say(engine, bob, cafe, f"/idea {OUTLETS_REWORDED}")
    assert prompt.outcome == Outcome.INFO
    assert prompt.private
    assert "Similar ideas already exist" in to_plain(prompt.text)
    assert OUTLETS in to_plain(prompt.text)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 1
    upvoted = await engine.act(bob, cafe, button(prompt, f"👍 #{outlets}"))
    assert upvoted.outcome == Outcome.DONE
    assert "It has 1 now" in to_plain(upvoted.text)
    assert await votes_of(engine, outlets) == (1, 1)


async def test_an_unrelated_idea_is_stored_at_once(engine: Engine, person, cafe) -> None:
    ana, chloe = person("Ana"), person("Chloe")
    await submit(engine, ana, cafe, OUTLETS)
    reply = await say(engine, chloe, cafe, f"/idea {MUSIC}")
    assert reply.outcome == Outcome.DONE
    assert "saved as #2" in to_plain(reply.text)
    assert button(reply, "Upvote")
    assert button(reply, "Retract")


async def test_submitting_anyway_stores_the_draft_once_however_often_it_is_tapped(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    await submit(engine, ana, cafe, OUTLETS)
    prompt = await say(engine, bob, cafe, f"/idea {OUTLETS_REWORDED}")
    anyway = button(prompt, "Submit anyway")
    first = await engine.act(bob, cafe, anyway)
    again = await engine.act(bob, cafe, anyway)
    assert first.outcome == Outcome.DONE
    assert "#1" in to_plain(first.text), "the new idea's page links the similar one"
    assert again.outcome == Outcome.ALREADY_DONE
    assert "already saved as #2" in to_plain(again.text)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 2
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM idea_drafts") == 0
    assert (await engine.act(ana, cafe, anyway)).outcome == Outcome.ALREADY_DONE


async def test_someone_elses_draft_cannot_be_submitted(engine: Engine, person, cafe) -> None:
    ana, bob, eve = person("Ana"), person("Bob"), person("Eve")
    await submit(engine, ana, cafe, OUTLETS)
    prompt = await say(engine, bob, cafe, f"/idea {OUTLETS_REWORDED}")
    assert (await engine.act(eve, cafe, button(prompt, "Submit anyway"))).outcome == Outcome.STALE
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 1


async def test_a_redelivered_message_stores_one_idea(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    first = await say(engine, ana, cafe, f"/idea {MUSIC}", update_key="telegram:7001")
    again = await say(engine, ana, cafe, f"/idea {MUSIC}", update_key="telegram:7001")
    assert first.outcome == Outcome.DONE
    assert again.outcome == Outcome.ALREADY_DONE
    assert "#1" in to_plain(again.text)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 1
    assert await engine.services.store.fetchval("SELECT result FROM processed_updates") == "1"


@pytest.mark.parametrize("force", [True, False])
async def test_redelivered_at_the_same_moment_still_stores_one_idea(engine: Engine, person, cafe, force) -> None:
    """One idea, the other copies told it is saved, with and without the similarity check (``force``:
    "Submit anyway" tapped); no draft left behind. Eight copies: more at the very same moment would also
    meet the hourly idea limit."""
    ctx = await engine.context(person("Ana"), cafe)
    replies = await asyncio.gather(
        *(engine.ideas.submit(ctx, MUSIC, update_key="telegram:7002", force=force) for _ in range(8))
    )
    outcomes = [reply.outcome for reply in replies]
    assert (outcomes.count(Outcome.DONE), outcomes.count(Outcome.ALREADY_DONE)) == (1, 7)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM idea_drafts") == 0


async def test_too_short_and_too_long_ideas_are_refused_with_the_limits(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    short = await say(engine, ana, cafe, "/idea More tea")
    long = await say(engine, ana, cafe, "/idea " + "Tea " * 200)
    assert short.outcome == Outcome.REFUSED
    assert "at least 15" in to_plain(short.text)
    assert long.outcome == Outcome.REFUSED
    assert "the limit is 500" in to_plain(long.text)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ideas") == 0


async def test_an_idea_without_text_shows_how_and_what_the_open_round_asks(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    await open_winter_menu(engine, person, cafe)
    usage = await say(engine, ana, cafe, "/idea")
    plain = to_plain(usage.text)
    assert "What should Corner Café serve this winter?" in plain
    assert "/idea +12" in plain
    assert "#drinks" in plain


# categories, rounds, building on ---------------------------------------------------------------


async def test_an_idea_in_an_open_round_takes_a_category_of_its_topic(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    round_id = await open_winter_menu(engine, person, cafe)
    unknown = await say(engine, ana, cafe, "/idea #toys A kids corner with board games")
    assert unknown.outcome == Outcome.REFUSED
    assert "#drinks" in to_plain(unknown.text)
    saved = await say(engine, ana, cafe, "/idea #Drinks Gingerbread latte with oat milk")
    assert saved.outcome == Outcome.DONE
    assert "drinks" in to_plain(saved.text)
    row = await engine.services.store.fetchone("SELECT category, round_id, text FROM ideas")
    assert tuple(row) == ("drinks", round_id, "Gingerbread latte with oat milk")


async def test_votes_stop_when_the_ideas_round_closes(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    round_id = await open_winter_menu(engine, person, cafe)
    idea = await submit(engine, ana, cafe, "Gingerbread latte with oat milk")
    assert (await engine.rounds.close(await engine.context(person("Mod"), cafe), round_id)).outcome == Outcome.DONE
    refused = await engine.ideas.vote(await engine.context(bob, cafe), idea, up=True)
    assert refused.outcome == Outcome.REFUSED
    assert "round" in to_plain(refused.text)
    assert await votes_of(engine, idea) == (0, 0)


async def test_an_idea_that_builds_on_another_is_listed_on_its_parents_page(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    parent = await submit(engine, ana, cafe, LOYALTY)
    child = await submit(engine, bob, cafe, f"+{parent} Stamps in the app give a free pastry after ten coffees")
    page = await say(engine, ana, cafe, f"/idea {parent}")
    assert "Built on by:" in to_plain(page.text)
    assert f"#{child}" in to_plain(page.text)
    child_page = await engine.act(ana, cafe, button(page, f"#{child}"))
    assert f"Builds on #{parent}" in to_plain(child_page.text)


# votes ----------------------------------------------------------------------------------------


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
    assert "can't take the merge" in to_plain(itself.text)


# languages ------------------------------------------------------------------------------------


async def test_romanian_members_are_refused_in_romanian(engine: Engine, person, cafe) -> None:
    mihai = person("Mihai", "ro")
    short = await say(engine, mihai, cafe, "/idea Mai mult ceai")
    assert "scrie cel puțin 15" in to_plain(short.text)
    idea = await submit(engine, mihai, cafe, "Mai multe prize pentru laptopuri")
    own = await engine.ideas.vote(await engine.context(mihai, cafe), idea, up=True)
    assert own.outcome == Outcome.REFUSED
    assert "este ideea ta" in to_plain(own.text)
    not_mod = await say(engine, mihai, cafe, f"/status {idea} accepted")
    assert not_mod.outcome == Outcome.REFUSED
    missing = await say(engine, mihai, cafe, "/idea 99")
    assert "Nu există ideea #99" in to_plain(missing.text)


async def test_a_forged_or_unknown_token_changes_nothing(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    idea = await submit(engine, ana, cafe, MUSIC)
    forged = await engine.act(bob, cafe, f"v.{idea}.AAAAAAAA")
    missing = await engine.act(bob, cafe, engine.services.codec.pack("v", 404))
    assert forged.outcome == Outcome.STALE
    assert missing.outcome == Outcome.REFUSED
    assert "no idea #404" in to_plain(missing.text)
    assert await votes_of(engine, idea) == (0, 0)
