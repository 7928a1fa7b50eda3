"""The store contract for ideas judged in pairs: one judgement per member and unordered pair, whatever
races; nothing counted for an idea that left the pool; the pair index's incremental reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store.records import Award, IdeaStatus, JudgeStatus, LinkStatus, NewIdea, NewJudgement, Proposal
from tests.store.conftest import NOW, RULES, a_round, people, value
from tests.store.test_contract_linking import _claimed, _conserved


async def three_ideas(store: Any, space_id: int, authors: list[int]) -> list[int]:
    ideas = []
    for number, author in enumerate(authors):
        proposal = Proposal(author, space_id, f"Idea number {number}")
        ideas.append((await store.ideas.add(NewIdea(proposal, None, IdeaStatus.NEW), RULES, NOW)).idea_id)
    return ideas


def judging(space_id: int, user_id: int, first: int, second: int, winner: int | None) -> NewJudgement:
    award = Award(user_id, space_id, None, 2, "judgement", f"{first}:{second}", "", capped=True)
    return NewJudgement(space_id, user_id, first, second, winner, None, award)


async def test_contract_one_judgement_per_member_and_pair_when_two_processes_race(
    store: Any, second_store: Any
) -> None:
    space_id, _ = await a_round(store)
    *authors, judge = await people(store, 4)
    a, b, _ = await three_ideas(store, space_id, authors)
    taps = [
        (store if n % 2 else second_store).pairs.record(
            judging(space_id, judge, *((a, b) if n % 3 else (b, a)), a if n % 4 else b), RULES, NOW
        )
        for n in range(12)
    ]
    results = await asyncio.gather(*taps)
    assert sorted(result.status for result in results).count(JudgeStatus.RECORDED) == 1
    assert sum(result.status == JudgeStatus.ALREADY_JUDGED for result in results) == 11
    assert await value(store, "SELECT COUNT(*) FROM idea_judgements") == 1
    assert await value(store, "SELECT SUM(delta) FROM ledger WHERE reason = 'judgement'") == 2


async def test_contract_a_pair_with_a_hidden_idea_or_ones_own_counts_nothing(store: Any) -> None:
    space_id, _ = await a_round(store)
    *authors, judge = await people(store, 4)
    a, b, c = await three_ideas(store, space_id, authors)
    await store.write(lambda db: db.execute("UPDATE ideas SET status = 'hidden' WHERE id = ?", (c,)))
    assert (await store.pairs.record(judging(space_id, judge, a, c, a), RULES, NOW)).status == JudgeStatus.GONE
    assert (await store.pairs.record(judging(space_id, authors[0], a, b, a), RULES, NOW)).status == (
        JudgeStatus.NOT_A_PAIR
    )
    assert (await store.pairs.record(judging(space_id, judge, a, a, a), RULES, NOW)).status == JudgeStatus.NOT_A_PAIR
    assert (await store.pairs.record(judging(space_id, judge, a, b, c), RULES, NOW)).status == JudgeStatus.NOT_A_PAIR
    assert await value(store, "SELECT COUNT(*) FROM idea_judgements") == 0
    assert await value(store, "SELECT COUNT(*) FROM ledger WHERE reason = 'judgement'") == 0


async def test_contract_the_database_refuses_a_second_row_for_one_pair(store: Any) -> None:
    """The constraint itself, beneath the unit: a member's pair is stored once (low < high)."""
    space_id, _ = await a_round(store)
    *authors, judge = await people(store, 4)
    a, b, _ = await three_ideas(store, space_id, authors)
    insert = (
        "INSERT INTO idea_judgements (space_id, user_id, low_id, high_id, winner_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'x')"
    )
    await store.write(lambda db: db.execute(insert, (space_id, judge, a, b, a)))
    for low, high in ((a, b), (b, a)):  # the same pair again; the pair written the wrong way round
        with pytest.raises(Exception, match=r"(?i)unique|constraint|check"):  # each driver's integrity error
            await store.write(lambda db, low=low, high=high: db.execute(insert, (space_id, judge, low, high, None)))
    assert await value(store, "SELECT COUNT(*) FROM idea_judgements") == 1


async def test_contract_the_pool_reads_changes_and_new_judgements_incrementally(store: Any) -> None:
    space_id, _ = await a_round(store)
    *authors, judge = await people(store, 4)
    a, b, c = await three_ideas(store, space_id, authors)
    first = await store.pairs.changes(space_id, "", 0, judge)
    assert [(idea.id, idea.listed) for idea in first.ideas] == [(a, True), (b, True), (c, True)]
    assert first.judgements == [] and first.judged == set()
    await store.pairs.record(judging(space_id, judge, a, b, b), RULES, NOW)
    (judged,) = (await store.pairs.changes(space_id, "", 0)).judgements
    assert (judged.low, judged.high, judged.winner) == (min(a, b), max(a, b), b)
    assert (await store.pairs.changes(space_id, "", judged.id)).judgements == []
    assert (await store.pairs.changes(space_id, "", judged.id, judge)).judged == {(min(a, b), max(a, b))}
    assert (await store.pairs.changes(space_id + 1, "", judged.id, judge)).judged == set()  # another space's
    later = "2026-11-23T11:00:00.000000+00:00"
    await store.write(
        lambda db: db.execute("UPDATE ideas SET status = 'declined', status_at = ? WHERE id = ?", (later, c))
    )
    changed = (await store.pairs.changes(space_id, later, judged.id)).ideas
    assert [(idea.id, idea.listed) for idea in changed] == [(c, False)]


async def test_contract_linking_two_accounts_keeps_one_judgement_per_pair_and_none_of_ones_own_ideas(
    store: Any,
) -> None:
    space_id, _ = await a_round(store)
    ana, ana_too, bob, cid = await people(store, 4)
    a, b, c = await three_ideas(store, space_id, [bob, cid, ana])  # c is Ana's own idea
    for judge in (ana, ana_too):  # both accounts judged a against b; the second also judged Ana's idea c
        await store.pairs.record(judging(space_id, judge, a, b, a), RULES, NOW)
    await store.pairs.record(judging(space_id, ana_too, a, c, c), RULES, NOW)
    before = await _conserved(store)
    code_id = await _claimed(store, ana, ana_too)
    assert (await store.links.confirm(code_id, ana, NOW)).status is LinkStatus.LINKED
    rows = await store.fetchall("SELECT user_id, low_id, high_id FROM idea_judgements")
    assert [tuple(row) for row in rows] == [(ana, min(a, b), max(a, b))]
    assert await _conserved(store) == before - 4  # two judgements retired, 2 points each taken back
    assert (await store.pairs.record(judging(space_id, ana, b, a, b), RULES, NOW)).status is JudgeStatus.ALREADY_JUDGED
