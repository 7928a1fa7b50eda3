"""The store contract for rounds: one open round per subject, closed once, winners paid once, no answer
after the close."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import make_store
from bot.store.records import (
    AnswerStatus,
    AttentionChecks,
    Award,
    Closing,
    IdeaPoints,
    IdeaStatus,
    NewAnswer,
    NewIdea,
    NewRound,
    Proposal,
)
from tests.store.conftest import (
    NOW,
    RULES,
    a_round,
    an_answer,
    people,
    postgres_schema,
    postgres_url,
    settings_for,
    value,
)


async def test_contract_one_open_round_per_subject(store: Any, second_store: Any) -> None:
    space_id = (await store.members.ensure_space("console", "cafe", "Corner Café", False)).space_id
    daily = NewRound(space_id, "tasks", "daily")
    opened = await asyncio.gather(*((store if i % 2 else second_store).rounds.open(daily, NOW) for i in range(10)))
    assert sum(created for _, created in opened) == 1
    assert len({round_id for round_id, _ in opened}) == 1


async def test_contract_a_round_closes_once(store: Any, second_store: Any) -> None:
    _space_id, round_id = await a_round(store)
    closing = Closing(round_id, None, (), RULES)
    closed = await asyncio.gather(*((store if i % 2 else second_store).rounds.close(closing, NOW) for i in range(10)))
    assert closed.count(True) == 1
    assert await value(store, "SELECT COUNT(*) FROM outbox WHERE dedup_key = ?", f"round-results:{round_id}") == 1
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action = 'round_deadline'") == 1
    assert await store.rounds.close(closing, NOW) is False


async def test_postgres_closing_a_round_waits_for_an_answer_in_flight() -> None:
    """Answers run at READ COMMITTED on PostgreSQL and share-lock their round: a close that comes while an
    answer is being written waits for it, so no answer lands in a round after it closed (and results read
    after the close hold every answer). Here the answer is held mid-way by a lock on its member's row."""
    from bot.store.postgres import connect

    with postgres_schema(postgres_url()) as url:
        async with make_store(settings_for(url)) as store, make_store(settings_for(url)) as other_process:
            space_id, round_id = await a_round(store)
            (user_id,) = await people(store, 1)
            holder = connect(url)
            try:
                holder.execute("BEGIN")
                holder.execute("SELECT 1 FROM users WHERE id = ? FOR UPDATE", (user_id,))
                answering = asyncio.ensure_future(
                    store.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW)
                )
                await asyncio.sleep(0.3)  # the answer has read the round open and waits for the member
                closing = asyncio.ensure_future(other_process.rounds.close(Closing(round_id, None, (), RULES), NOW))
                await asyncio.sleep(0.3)
                assert not closing.done(), "the round closed under an answer in flight"
                holder.execute("COMMIT")
            finally:
                holder.raw.close()
            assert (await answering).status == AnswerStatus.RECORDED
            assert await closing
            late = await store.tasks.record_answer(an_answer(round_id, space_id, user_id, task_id="t2"), RULES, NOW)
            assert late.status == AnswerStatus.ROUND_CLOSED


async def test_contract_round_winners_are_paid_once(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store, "ideas")
    author, voter = await people(store, 2)
    idea = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "Night shift"), round_id, IdeaStatus.NEW), RULES, NOW
    )
    await store.ideas.vote(idea.idea_id, voter, True, IdeaPoints(RULES, 0, 0, {}), NOW)
    closing = Closing(round_id, None, (25,), RULES)
    await asyncio.gather(*((store if i % 2 else second_store).rounds.close(closing, NOW) for i in range(6)))
    assert await store.points.balance(author) == 25
    standing = await store.points.standing(f"r{round_id}", author)
    assert standing is not None
    assert standing.points == 25


async def test_contract_members_who_miss_two_attention_checks_are_left_out_of_the_tallies(store: Any) -> None:
    """c1 passes with option 1 and c2 with "no": Ana passes both, Bob misses one, Cleo misses both and
    Dan misses the same check only (one miss, however it is counted). Only Cleo is left out: of counts,
    participants, skips and samples; the export rows still hold her answers, flagged."""
    space_id, round_id = await a_round(store)
    ana, bob, cleo, dan = await people(store, 4)
    checks = AttentionChecks((("c1", "1"), ("c2", '"no"')), failures=2)
    given = {
        ana: {"c1": "1", "c2": '"no"', "t1": '"yes"'},
        bob: {"c1": "2", "c2": '"no"', "t1": '"yes"'},
        cleo: {"c1": "0", "c2": '{"other": "meh"}', "t1": '"no"'},
        dan: {"c1": "0", "t1": '{"other": "fine"}'},
    }
    for member, values in given.items():
        for task_id, stored in values.items():
            award = Award(member, space_id, round_id, 5, "answer", task_id, "", capped=True)
            await store.tasks.record_answer(NewAnswer(round_id, task_id, member, stored, None, award), RULES, NOW)
    for member in (bob, cleo):
        await store.tasks.skip(round_id, "t2", member, NOW)

    assert await store.rounds.left_out(round_id, checks) == 1
    assert await store.rounds.participants(round_id, checks) == 3
    assert await store.rounds.participants(round_id) == 4, "without checks every member counts"
    counts = await store.rounds.answer_counts(round_id, ["c1", "c2", "t1"], checks=checks)
    assert sorted(counts["t1"]) == [('"yes"', 2), ('{"other": "fine"}', 1)]
    assert sorted(counts["c1"]) == [("0", 1), ("1", 1), ("2", 1)]
    assert await store.rounds.skip_counts(round_id, checks) == {"t2": 1}
    assert await store.rounds.latest_texts(round_id, "c2", True, 5, checks) == []
    assert await store.rounds.latest_texts(round_id, "t1", True, 5, checks) == ['{"other": "fine"}']
    exported = await store.rounds.export_rows(round_id, checks)
    assert len(exported) == 11
    assert {row["user_id"] for row in exported if row["excluded"]} == {cleo}
    assert sum(1 for row in exported if row["excluded"]) == 3
    assert {row["user_id"]: bool(row["excluded"]) for row in await store.rounds.skip_rows(round_id, checks)} == {
        bob: False,
        cleo: True,
    }
    assert not any(row["excluded"] for row in await store.rounds.export_rows(round_id))
    assert await store.rounds.left_out(round_id, AttentionChecks((("c1", "1"),), failures=2)) == 0
    await store.rounds.close(Closing(round_id, None, (), RULES, checks), NOW)
    audited = await store.fetchall("SELECT moderator_id, target FROM audit WHERE action = 'attention_exclusion'")
    assert [(row[0], row[1]) for row in audited] == [(None, str(cleo))], "one row per left-out member, at the close"


async def test_contract_scale_answers_come_a_page_of_whole_members_at_a_time(store: Any) -> None:
    """Screening reads the scale answers in pages of whole members: a page that would cut a member's
    answers in two ends before them, the next starts with them, and the pages hold every answer once."""
    space_id, round_id = await a_round(store)
    members = await people(store, 3)
    for member in members:
        for task_id in ("s1", "s2", "other"):
            await store.tasks.record_answer(an_answer(round_id, space_id, member, task_id), RULES, NOW)
    pages, after = [], 0
    while page := await store.rounds.answers_to(round_id, ["s1", "s2"], after, limit=3):
        pages.append(page)
        after = page[-1][0]
    assert [[(member, task) for member, task, _ in page] for page in pages] == [
        [(member, "s1"), (member, "s2")] for member in members
    ], "three rows would hold the second member's first answer only: each page ends with a whole member"
    assert await store.rounds.answers_to(round_id, []) == []
