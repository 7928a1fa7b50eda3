"""Members share ideas: similar ones are found and upvoted instead, redeliveries store one, limits and
categories hold, ideas build on others, and Romanian members hear why in Romanian."""

from __future__ import annotations

import asyncio

import pytest

from bot.engine import Engine
from bot.features.ideas.similarity import normalise, similarity
from bot.replies import Outcome, to_plain
from bot.settings import Settings
from tests.bot.conftest import LOYALTY, MUSIC, OUTLETS, OUTLETS_REWORDED, open_winter_menu, submit, votes_of
from tests.helpers import button, say

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


async def test_an_idea_that_builds_on_another_is_listed_on_its_parents_page(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    parent = await submit(engine, ana, cafe, LOYALTY)
    child = await submit(engine, bob, cafe, f"+{parent} Stamps in the app give a free pastry after ten coffees")
    page = await say(engine, ana, cafe, f"/idea {parent}")
    assert "Built on by:" in to_plain(page.text)
    assert f"#{child}" in to_plain(page.text)
    child_page = await engine.act(ana, cafe, button(page, f"#{child}"))
    assert f"Builds on #{parent}" in to_plain(child_page.text)


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
