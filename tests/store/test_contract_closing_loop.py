"""The store contract for closing the loop: a round's close queues one private summary per participant
(none for a quiet member, none twice however many closes race), and a launch pays the idea's author and
its earliest supporters once, with one message each, whatever is retried."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.store.records import Closing, IdeaPoints, IdeaStatus, NewIdea, Proposal, StatusChange
from tests.store.conftest import NOW, RULES, a_round, an_answer, people, value

LAUNCH_POINTS = IdeaPoints(
    RULES,
    per_upvote=0,
    upvote_cap=0,
    bonuses={IdeaStatus.LAUNCHED: 100},
    early_supporters=2,
    supporter_bonus=20,
)


async def test_contract_a_close_queues_one_summary_per_participant_once(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store)
    ana, bob, quiet, outsider = await people(store, 4)
    for user_id in (ana, bob, quiet):
        for task in ("t1", "t2"):
            await store.tasks.record_answer(an_answer(round_id, space_id, user_id, task), RULES, NOW)
    assert await store.members.set_quiet(quiet, None) is True  # /quiet switches it on
    closing = Closing(round_id, None, (), RULES)
    closed = await asyncio.gather(*((store if i % 2 else second_store).rounds.close(closing, NOW) for i in range(8)))
    assert closed.count(True) == 1
    assert await store.rounds.close(closing, NOW) is False  # a retried close queues nothing more
    rows = await store.fetchall(
        "SELECT target, payload, dedup_key FROM outbox WHERE dedup_key LIKE ? ORDER BY dedup_key",
        (f"round-summary:{round_id}:%",),
    )
    assert [row[2] for row in rows] == sorted(f"round-summary:{round_id}:{user_id}" for user_id in (ana, bob))
    assert {row[0] for row in rows} == {"user:u0", "user:u1"}
    assert json.loads(rows[0][1]) == {"render": "round_summary", "round_id": round_id, "language": "en"}
    assert outsider not in {int(row[2].rsplit(":", 1)[1]) for row in rows}


async def test_contract_a_close_queues_the_summaries_of_more_participants_than_it_reads_at_once(
    store: Any, monkeypatch: Any
) -> None:
    """The participants are read a batch at a time while the summaries are written: every one is queued."""
    monkeypatch.setattr("bot.store.rounds_sql.SUMMARY_BATCH", 2)
    space_id, round_id = await a_round(store)
    members = await people(store, 5)
    for user_id in members:
        await store.tasks.record_answer(an_answer(round_id, space_id, user_id, "t1"), RULES, NOW)
    assert await store.rounds.close(Closing(round_id, None, (), RULES), NOW) is True
    keys = await store.fetchall("SELECT dedup_key FROM outbox WHERE dedup_key LIKE ?", (f"round-summary:{round_id}:%",))
    assert sorted(row[0] for row in keys) == sorted(f"round-summary:{round_id}:{user_id}" for user_id in members)


async def test_contract_quiet_is_set_switched_and_kept(store: Any) -> None:
    (ana,) = await people(store, 1)
    assert await store.members.set_quiet(ana, True) is True
    assert await store.members.set_quiet(ana, True) is True  # on stays on
    assert await store.members.set_quiet(ana, None) is False
    assert await store.members.set_quiet(ana, False) is False


async def test_contract_a_launch_pays_the_author_and_the_earliest_supporters_once(
    store: Any, second_store: Any
) -> None:
    space_id, round_id = await a_round(store, "ideas")
    author, moderator, *voters = await people(store, 5)
    submitted = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "Oat milk at no extra cost"), round_id, IdeaStatus.NEW), RULES, NOW
    )
    idea_id = submitted.idea_id
    for minute, voter in enumerate(voters):  # voters[0] first, voters[2] last
        await store.ideas.vote(idea_id, voter, True, LAUNCH_POINTS, NOW + timedelta(minutes=minute))

    def payload(recipient: Any) -> dict[str, Any]:
        return {"text": f"to {recipient.user_id}: +{recipient.reward}"}

    launch = StatusChange(idea_id, space_id, moderator, IdeaStatus.LAUNCHED, "status", compose=payload)
    results = await asyncio.gather(
        *((store if i % 2 else second_store).ideas.change_status(launch, LAUNCH_POINTS, NOW) for i in range(6))
    )
    assert sum(result.outcome == "changed" for result in results) == 1
    # Back to accepted and launched again with a new note: nothing more is paid, nobody is told twice.
    accepted = replace(launch, status=IdeaStatus.ACCEPTED, compose=None)
    await store.ideas.change_status(accepted, LAUNCH_POINTS, NOW)
    await store.ideas.change_status(replace(launch, note="for real"), LAUNCH_POINTS, NOW)
    assert await store.points.balance(author) == 100
    assert [await store.points.balance(voter) for voter in voters] == [20, 20, 0]
    supporter_rows = await value(store, "SELECT COUNT(*) FROM ledger WHERE reason = 'idea_supporter'")
    assert supporter_rows == 2
    balances = sum([await store.points.balance(user_id) for user_id in (author, moderator, *voters)])
    assert await value(store, "SELECT SUM(delta) FROM ledger") == balances
    messages = await store.fetchall(
        "SELECT payload FROM outbox WHERE dedup_key LIKE ? ORDER BY id", (f"status:{idea_id}:launched:%",)
    )
    assert sorted(json.loads(row[0])["text"] for row in messages) == sorted(
        [f"to {author}: +100", f"to {voters[0]}: +20", f"to {voters[1]}: +20", f"to {voters[2]}: +0"]
    )
