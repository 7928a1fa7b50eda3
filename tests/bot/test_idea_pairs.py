"""Ideas judged in pairs: /judge serves two ideas, A/B/Can't decide records one judgement per member and
pair, refusals change nothing, pairs are chosen adaptively, and the scores follow what the crowd prefers."""

from __future__ import annotations

import asyncio
import re

from bot.actions import Verb
from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef
from bot.replies import Outcome, Reply, to_plain
from bot.settings import Settings
from bot.store.records import IdeaStatus
from tests.bot.conftest import submit
from tests.bot.test_closing_loop import drain
from tests.conftest import FakeClock
from tests.helpers import button, ledger_rows, say

IDEAS = (
    "Gingerbread latte with oat milk in winter",
    "A quiet corner without music for reading",
    "Board games on Sunday afternoons for everyone",
    "Cold brew on tap all year round please",
    "Vegan croissants baked fresh every morning",
    "A loyalty stamp card that works in the app",
)


async def ideas_by(engine: Engine, person, cafe: SpaceRef, count: int, *, author: str | None = None) -> list[int]:
    """``count`` ideas, each by its own author (or all by ``author``); their ids in order."""
    return [await submit(engine, person(author or f"Author{n}"), cafe, IDEAS[n]) for n in range(count)]


def pair_of(reply: Reply) -> tuple[int, int]:
    """The ideas a pair shows, A then B, read from the text the member sees."""
    found = re.findall(r"^[AB] · #(\d+)", to_plain(reply.text), re.MULTILINE)
    assert len(found) == 2, to_plain(reply.text)
    return int(found[0]), int(found[1])


async def judgements(engine: Engine) -> list[tuple[int, int, int, int | None]]:
    rows = await engine.services.store.fetchall(
        "SELECT user_id, low_id, high_id, winner_id FROM idea_judgements ORDER BY id"
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def test_judge_serves_two_ideas_and_tapping_a_records_one_judgement_with_its_points(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 3)
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/judge")
    assert "Which would you rather see?" in to_plain(served.text)
    first, second = pair_of(served)
    recorded = await engine.act(dan, cafe, button(served, "A"))
    assert recorded.outcome == Outcome.DONE
    assert "+2 points" in to_plain(recorded.text)
    dan_id = (await engine.context(dan, cafe)).user_id
    assert await judgements(engine) == [(dan_id, min(first, second), max(first, second), first)]
    again = await engine.act(dan, cafe, button(served, "B"))  # a second tap, on the other button
    assert again.outcome == Outcome.ALREADY_DONE
    assert len(await judgements(engine)) == 1
    assert [row for row in await ledger_rows(engine, dan_id) if row[1] == "judgement"] == [
        (2, "judgement", "judgement:1")
    ]
    assert recorded.follow_up is not None and pair_of(recorded.follow_up) != (first, second)


async def test_cant_decide_counts_for_the_member_but_names_no_winner(engine: Engine, person, cafe: SpaceRef) -> None:
    await ideas_by(engine, person, cafe, 2)
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/judge")
    assert (await engine.act(dan, cafe, button(served, "Can't decide"))).outcome == Outcome.DONE
    ((_, _, _, winner),) = await judgements(engine)
    assert winner is None


async def test_a_member_is_never_asked_about_their_own_idea_nor_an_idea_against_itself(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    own = await ideas_by(engine, person, cafe, 2, author="Ana")
    other = await submit(engine, person("Bob"), cafe, IDEAS[2])
    ana, bob = person("Ana"), person("Bob")
    assert "No pair of ideas" in to_plain((await say(engine, ana, cafe, "/judge")).text)  # one idea is not hers
    assert set(pair_of(await say(engine, bob, cafe, "/judge"))) == set(own)
    codec = engine.services.codec
    for forged in ((0, 0, own[0], own[0], "a"), (0, 0, own[0], other, "a"), (0, 0, other, own[1], "b")):
        refused = await engine.act(ana, cafe, codec.pack(Verb.JUDGE, *forged))
        assert refused.outcome == Outcome.STALE, forged
    assert await judgements(engine) == []


async def test_a_forged_or_tampered_pair_token_is_refused_and_records_nothing(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 3)
    dan = person("Dan")
    token = button(await say(engine, dan, cafe, "/judge"), "A")
    verb, round_id, index, first, second, pick, signature = token.split(".")
    for forged in (
        f"{verb}.{round_id}.{index}.{second}.{first}.{pick}.{signature}",  # the pair swapped
        f"{verb}.{round_id}.{index}.{first}.{second}.b.{signature}",  # the pick changed
        f"{verb}.{round_id}.{index}.{first}.{second}.{pick}.AAAAAAAA",
        "j.0.0.1.2.a",
    ):
        assert (await engine.act(dan, cafe, forged)).outcome == Outcome.STALE
    assert await judgements(engine) == []


async def test_a_judgement_on_an_idea_hidden_or_merged_meanwhile_is_refused_politely_and_counts_nothing(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 4)
    mod, dan, eve = await engine.context(person("Mod"), cafe), person("Dan"), person("Eve")
    served = await say(engine, dan, cafe, "/judge")
    hidden, _ = pair_of(served)
    assert (await engine.ideas.hide(mod, hidden)).outcome == Outcome.DONE
    refused = await engine.act(dan, cafe, button(served, "B"))
    assert refused.outcome == Outcome.REFUSED
    assert "withdrawn or merged" in to_plain(refused.text)
    assert refused.follow_up is not None and hidden not in pair_of(refused.follow_up)  # it left the pool
    served = await say(engine, eve, cafe, "/judge")
    first, second = pair_of(served)
    (target,) = {1, 2, 3, 4} - {hidden, first, second}
    merged = await engine.ideas.set_status(mod, second, IdeaStatus.MERGED, merged_into=target)
    assert merged.outcome == Outcome.DONE
    assert (await engine.act(eve, cafe, button(served, "A"))).outcome == Outcome.REFUSED
    assert await judgements(engine) == []
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ledger WHERE reason = 'judgement'") == 0


async def test_a_member_judges_every_pair_once_and_then_hears_none_is_left(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 4)
    dan = person("Dan")
    reply = await say(engine, dan, cafe, "/judge")
    seen: list[frozenset[int]] = []
    while reply.buttons:
        seen.append(frozenset(pair_of(reply)))
        reply = await engine.act(dan, cafe, button(reply, "A"))
        assert reply.outcome == Outcome.DONE
        assert reply.follow_up is not None
        reply = reply.follow_up
    assert len(seen) == len(set(seen)) == 6  # 4 ideas: 6 pairs, each once
    assert "No pair of ideas" in to_plain(reply.text)


async def test_a_new_idea_enters_the_pool_at_once(engine: Engine, person, cafe: SpaceRef) -> None:
    await ideas_by(engine, person, cafe, 2)
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/judge")
    done = await engine.act(dan, cafe, button(served, "A"))
    assert done.follow_up is not None and "No pair of ideas" in to_plain(done.follow_up.text)
    newest = await submit(engine, person("Cid"), cafe, IDEAS[4])
    assert newest in pair_of(await say(engine, dan, cafe, "/judge"))


async def test_ideas_with_few_comparisons_come_first(engine: Engine, person, cafe: SpaceRef) -> None:
    ideas = await ideas_by(engine, person, cafe, 6)
    judged, fresh = ideas[:4], ideas[4:]
    await _judge_first_four_directly(engine, person, cafe, judged)
    for n in range(10):
        assert set(pair_of(await say(engine, person(f"Newcomer{n}"), cafe, "/judge"))) & set(fresh)


async def _judge_first_four_directly(engine: Engine, person, cafe: SpaceRef, judged: list[int]) -> None:
    """Forty members judge all six pairs of ``judged``, as tokens from their own /judge would."""
    codec = engine.services.codec
    for n in range(40):
        member = person(f"Crowd{n}")
        for a in judged:
            for b in judged:
                if a < b:
                    await engine.act(member, cafe, codec.pack(Verb.JUDGE, 0, 0, a, b, "a"))


async def test_scores_follow_what_the_crowd_prefers_and_ideas_best_shows_them_beside_upvotes(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    ideas = await ideas_by(engine, person, cafe, 5)
    appeal = {idea: position for position, idea in enumerate(ideas)}  # the newest idea is the best liked
    await engine.ideas.vote(await engine.context(person("Fan"), cafe), ideas[0], up=True)  # early upvote
    for n in range(15):
        member = person(f"Member{n}")
        reply = await say(engine, member, cafe, "/judge")
        while reply.buttons:
            first, second = pair_of(reply)
            reply = await engine.act(member, cafe, button(reply, "A" if appeal[first] > appeal[second] else "B"))
            assert reply.follow_up is not None
            reply = reply.follow_up
    best = await say(engine, person("Boss"), cafe, "/ideas best")
    text = to_plain(best.text)
    ranked = [int(number) for number in re.findall(r"^#(\d+) · score", text, re.MULTILINE)]
    page = engine.services.settings.ideas.page_size
    assert ranked == list(reversed(ideas))[:page]
    assert "clearly ahead of the next" in text
    assert "👍 1" in text  # the upvote stays beside the score
    assert "judgements" in text


async def test_scores_read_again_count_the_judgements_made_since(engine: Engine, person, cafe: SpaceRef) -> None:
    """The ranking keeps its scores with the fit they came from: read again after more judgements, they
    follow the new ones."""
    first, second = await ideas_by(engine, person, cafe, 2)
    space_id = (await engine.context(person("Boss"), cafe)).space_id

    async def judged(n: int, winner: int) -> None:
        member = person(f"Judge{n}")
        served = await say(engine, member, cafe, "/judge")
        recorded = await engine.act(member, cafe, button(served, "A" if pair_of(served)[0] == winner else "B"))
        assert recorded.outcome == Outcome.DONE

    await judged(0, first)
    before = await engine.ranking.scores(space_id)
    assert [scored.idea_id for scored in before] == [first, second]
    assert await engine.ranking.scores(space_id) == before  # nothing new: the same scores
    for n in range(1, 6):
        await judged(n, second)
    after = await engine.ranking.scores(space_id)
    assert [scored.idea_id for scored in after] == [second, first]
    assert [scored.judgements for scored in after] == [6, 6]


async def test_a_campaign_serves_pairs_under_its_header_until_enough_for_now(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 4)
    mod = await engine.context(person("Mod"), cafe)
    assert (await engine.rounds.open(mod, "pick-ideas")).outcome == Outcome.DONE
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/task pick-ideas")
    assert "Help us pick the best ideas" in to_plain(served.text)
    (record,) = [
        r for r in await engine.services.store.rounds.open_in(mod.space_id, "tasks") if r.subject == "pick-ideas"
    ]
    judged = await engine.act(dan, cafe, button(served, "B"))
    assert judged.outcome == Outcome.DONE
    assert judged.follow_up is not None and "Help us pick the best ideas" in to_plain(judged.follow_up.text)
    ((_, _, _, winner),) = await judgements(engine)
    assert winner == pair_of(served)[1]
    round_of = await engine.services.store.fetchval("SELECT round_id FROM idea_judgements")
    assert round_of == record.id
    enough = await engine.act(dan, cafe, button(judged.follow_up, "Enough for now"))
    assert enough.outcome == Outcome.DONE
    assert len(await judgements(engine)) == 1
    results = await engine.results.results(mod, record.id)
    assert "Which would you rather see? (1 judgement): the ideas' ranking is in /ideas best" in to_plain(results.text)
    assert "1 participant" in to_plain(results.text), "a judge took part, though a pair stores no answer"
    await drain(engine)
    assert (await engine.rounds.close(mod, record.id)).outcome == Outcome.DONE
    (summary,) = (await drain(engine))["user:dan"]
    assert "Which would you rather see? → the ideas you judged are ranked in /ideas best" in summary


async def test_a_member_with_nothing_left_to_answer_is_offered_a_pair(engine: Engine, person, cafe: SpaceRef) -> None:
    await ideas_by(engine, person, cafe, 2)
    dan = person("Dan")
    reply = await engine.tasks.next_task(await engine.context(dan, cafe))
    for _ in range(30):  # skip every question of the open campaigns
        if not any("⏭" in b.label for row in reply.buttons for b in row):
            break
        reply = (await engine.act(dan, cafe, button(reply, "⏭"))).chain()[-1]
    assert "While you're here" in to_plain(reply.text)
    assert (await engine.act(dan, cafe, button(reply, "A"))).outcome == Outcome.DONE


async def test_a_banned_member_judges_nothing_and_a_closed_rounds_pair_counts_nothing(
    engine: Engine, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 3)
    mod = await engine.context(person("Mod"), cafe)
    assert (await engine.rounds.open(mod, "pick-ideas")).outcome == Outcome.DONE
    dan, eve = person("Dan"), person("Eve")
    in_round = await say(engine, dan, cafe, "/task pick-ideas")
    (record,) = [
        r for r in await engine.services.store.rounds.open_in(mod.space_id, "tasks") if r.subject == "pick-ideas"
    ]
    assert (await engine.rounds.close(mod, record.id)).outcome == Outcome.DONE
    closed = await engine.act(dan, cafe, button(in_round, "A"))
    assert closed.outcome == Outcome.REFUSED and "closed" in to_plain(closed.text)
    served = await say(engine, eve, cafe, "/judge")
    assert (await engine.moderation.ban(mod, eve.platform_user_id)).outcome == Outcome.DONE
    banned = await engine.act(eve, cafe, button(served, "A"))
    assert banned.outcome == Outcome.REFUSED
    assert (await say(engine, eve, cafe, "/judge")).outcome == Outcome.REFUSED
    assert await judgements(engine) == []


async def test_an_idea_submitted_through_another_process_enters_this_ones_pool(
    engine: Engine, settings: Settings, clock: FakeClock, person, cafe: SpaceRef
) -> None:
    await ideas_by(engine, person, cafe, 2)
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/judge")
    await engine.act(dan, cafe, button(served, "A"))  # Dan has judged the only pair
    async with running_engine(settings, clock) as other:  # a second process on the same database
        newest = await submit(other, person("Cid"), cafe, IDEAS[3])
        hidden = pair_of(served)[0]
        assert (await other.ideas.hide(await other.context(person("Mod"), cafe), hidden)).outcome == Outcome.DONE
    pair = pair_of(await say(engine, dan, cafe, "/judge"))
    assert newest in pair and hidden not in pair


async def test_taps_at_once_on_a_pair_count_once(engine: Engine, person, cafe: SpaceRef) -> None:
    await ideas_by(engine, person, cafe, 3)
    dan = person("Dan")
    served = await say(engine, dan, cafe, "/judge")
    taps = await asyncio.gather(*(engine.act(dan, cafe, button(served, label)) for label in ("A", "B", "A", "B")))
    assert sorted(reply.outcome for reply in taps).count(Outcome.DONE) == 1
    assert len(await judgements(engine)) == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ledger WHERE reason = 'judgement'") == 1
