"""The store contract for ideas: one vote per member and idea, exact counts, one idea per delivered message."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import make_store
from bot.store.records import IdeaPoints, IdeaStatus, NewIdea, Proposal, VoteStatus
from tests.store.conftest import (
    NOW,
    RULES,
    a_round,
    assert_leaderboards_follow_the_ledger,
    people,
    postgres_schema,
    postgres_url,
    settings_for,
    value,
)


async def test_contract_one_vote_per_user_per_idea(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store, "ideas")
    author, voter = await people(store, 2)
    ideas = store.ideas
    submitted = await ideas.add(NewIdea(Proposal(author, space_id, "Oat milk"), round_id, IdeaStatus.NEW), RULES, NOW)
    points = IdeaPoints(RULES, per_upvote=2, upvote_cap=50, bonuses={})
    results = await asyncio.gather(
        *((store if i % 2 else second_store).ideas.vote(submitted.idea_id, voter, True, points, NOW) for i in range(12))
    )
    assert sum(result.status == VoteStatus.RECORDED for result in results) == 1
    assert sum(result.status == VoteStatus.ALREADY_VOTED for result in results) == 11
    idea = await ideas.idea(submitted.idea_id)
    assert idea is not None
    assert idea.votes == 1
    assert await value(store, "SELECT COUNT(*) FROM vote_events") == 1
    assert await store.points.balance(author) == 2


async def test_contract_a_message_delivered_to_two_processes_at_once_stores_one_idea(
    store: Any, second_store: Any
) -> None:
    """Webhook workers behind a balancer may both get a redelivered message: one idea, the rest duplicates."""
    space_id, round_id = await a_round(store, "ideas")
    (author,) = await people(store, 1)
    ideas = [NewIdea(Proposal(author, space_id, f"Idea {n}"), round_id, IdeaStatus.NEW, f"tg:{n}") for n in range(30)]
    deliveries = [(idea, opened) for idea in ideas for opened in (store, second_store, store, second_store)]
    results = await asyncio.gather(*(opened.ideas.add(idea, RULES, NOW) for idea, opened in deliveries))
    for n in range(len(ideas)):
        per_idea = results[4 * n : 4 * n + 4]
        assert sorted(result.duplicate for result in per_idea) == [False, True, True, True]
        assert len({result.idea_id for result in per_idea}) == 1
    assert await value(store, "SELECT COUNT(*) FROM ideas") == len(ideas)
    assert await value(store, "SELECT value FROM user_counters WHERE counter = 'ideas'") == len(ideas)


async def test_contract_vote_counts_are_exact_when_many_vote_at_once(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store, "ideas")
    author, *voters = await people(store, 31)
    submitted = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "Longer hours"), round_id, IdeaStatus.NEW), RULES, NOW
    )
    points = IdeaPoints(RULES, per_upvote=1, upvote_cap=20, bonuses={})
    await asyncio.gather(
        *(
            (store if i % 2 else second_store).ideas.vote(submitted.idea_id, voter, True, points, NOW)
            for i, voter in enumerate(voters)
        )
    )
    assert await value(store, "SELECT votes FROM ideas WHERE id = ?", submitted.idea_id) == 30
    assert await value(store, "SELECT COUNT(*) FROM votes") == 30
    assert await store.points.balance(author) == 20  # the per-idea cap, paid exactly
    await assert_leaderboards_follow_the_ledger(store)


async def test_postgres_an_idea_that_meets_a_key_committed_meanwhile_is_a_duplicate_not_an_error() -> None:
    """Another process stores the same message's idea after this one looked for it and before this one
    wrote its key: PostgreSQL reports a unique violation, not a serialization failure (seen in a
    webhook test as a member told "something went wrong"). The store runs the unit again, and the
    second look finds the idea."""
    from bot.store.postgres import connect

    with postgres_schema(postgres_url()) as url:
        async with make_store(settings_for(url)) as store:
            space_id, round_id = await a_round(store, "ideas")
            (author,) = await people(store, 1)
            holder = connect(url)
            try:
                holder.execute("BEGIN")
                theirs = holder.execute(
                    "INSERT INTO ideas (space_id, round_id, author_id, text, status, created_at, status_at)"
                    " VALUES (?, ?, ?, 'Board games', 'new', ?, ?) RETURNING id",
                    (space_id, round_id, author, NOW.isoformat(), NOW.isoformat()),
                ).fetchone()[0]
                holder.execute(
                    "INSERT INTO processed_updates (update_key, result, created_at) VALUES ('idea:tg:7', ?, ?)",
                    (str(theirs), NOW.isoformat()),
                )
                idea = NewIdea(Proposal(author, space_id, "Board games"), round_id, IdeaStatus.NEW, "idea:tg:7")
                adding = asyncio.ensure_future(store.ideas.add(idea, RULES, NOW))
                await asyncio.sleep(0.3)  # it found no idea for the key, stored its own and waits on the key
                holder.execute("COMMIT")
            finally:
                holder.raw.close()
            submitted = await adding
            assert (submitted.idea_id, submitted.duplicate) == (theirs, True)
            assert await value(store, "SELECT COUNT(*) FROM ideas") == 1
