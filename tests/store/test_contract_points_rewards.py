"""The store contract for points and rewards: the daily cap, awards once per source key, the
append-only ledger, redemptions that never overspend."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from bot.app import make_store
from bot.store.records import (
    AnswerStatus,
    Award,
    CodeLine,
    IdeaPoints,
    IdeaStatus,
    NewIdea,
    Proposal,
    RedeemRequest,
    RedeemStatus,
    VoteStatus,
)
from tests.store.conftest import (
    NOW,
    RULES,
    a_round,
    an_answer,
    assert_leaderboards_follow_the_ledger,
    people,
    postgres_schema,
    postgres_url,
    settings_for,
    value,
)


async def test_contract_the_daily_cap_holds_across_concurrent_awards(store: Any, second_store: Any) -> None:
    (user_id,) = await people(store, 1)
    awards = [Award(user_id, None, None, 15, "answer", str(i), f"cap:{i}", capped=True) for i in range(20)]
    await asyncio.gather(
        *((store if i % 2 else second_store).points.award(a, RULES, NOW) for i, a in enumerate(awards))
    )
    assert await store.points.balance(user_id) == RULES.daily_cap
    assert await value(store, "SELECT earned FROM daily_points WHERE user_id = ?", user_id) == RULES.daily_cap


async def test_contract_the_daily_cap_holds_when_one_member_answers_many_tasks_at_once(
    store: Any, second_store: Any
) -> None:
    """Answers run at READ COMMITTED on PostgreSQL: the member's lock keeps the cap's read true."""
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)
    answers = [an_answer(round_id, space_id, user_id, task_id=f"t{i}") for i in range(40)]  # 5 points each
    results = await asyncio.gather(
        *((store if i % 2 else second_store).tasks.record_answer(a, RULES, NOW) for i, a in enumerate(answers))
    )
    assert all(result.status == AnswerStatus.RECORDED for result in results)
    assert await store.points.balance(user_id) == RULES.daily_cap
    assert await value(store, "SELECT earned FROM daily_points WHERE user_id = ?", user_id) == RULES.daily_cap
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_an_award_is_applied_once_per_source_key(store: Any, second_store: Any) -> None:
    users = await people(store, 3)
    awards = [Award(user_id, None, None, 3, "bonus", "", f"bonus:{user_id}") for user_id in users]
    results = await asyncio.gather(
        *((store if i % 2 else second_store).points.award(award, RULES, NOW) for i in range(10) for award in awards)
    )
    assert sum(result.points for result in results) == 9
    assert await value(store, "SELECT COUNT(*) FROM ledger") == 3
    for user_id in users:
        assert await store.points.balance(user_id) == 3
        standing = await store.points.standing("all", user_id)
        assert standing is not None
        assert (standing.points, standing.rank) == (3, 1)
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_the_ledger_is_append_only(store: Any) -> None:
    (user_id,) = await people(store, 1)
    await store.points.award(Award(user_id, None, None, 4, "bonus", "", "bonus:1"), RULES, NOW)
    for statement in ("UPDATE ledger SET delta = 100", "DELETE FROM ledger"):
        with pytest.raises(Exception, match="append-only"):
            await store.write(lambda db, sql=statement: db.execute(sql))
    assert await store.points.balance(user_id) == 4


async def test_contract_redemption_is_atomic_and_never_overspends(store: Any, second_store: Any) -> None:
    (user_id,) = await people(store, 1)
    space_id = (await store.members.ensure_space("console", "cafe", "Corner Café", False)).space_id
    rewards = store.rewards
    await rewards.add_reward("coffee", "Coffee", 10, None, NOW)
    await rewards.import_codes([CodeLine(i, "coffee", f"CODE-{i}") for i in range(10)], NOW)
    await store.points.award(Award(user_id, space_id, None, 35, "bonus", "", "bonus:1"), RULES, NOW)
    requests = [RedeemRequest(user_id, space_id, "coffee", f"req:{i}", RULES) for i in range(8)]
    outcomes = await asyncio.gather(
        *((store if i % 2 else second_store).rewards.redeem(r, NOW) for i, r in enumerate(requests))
    )
    redeemed = [o for o in outcomes if o.status == RedeemStatus.REDEEMED]
    assert len(redeemed) == 3
    assert all(o.status == RedeemStatus.NOT_ENOUGH_POINTS for o in outcomes if o not in redeemed)
    assert len({o.code for o in redeemed}) == 3
    assert None not in {o.code for o in redeemed}
    assert await store.points.balance(user_id) == 5
    reward = await rewards.reward("coffee")
    assert reward is not None
    assert (reward.stock, reward.codes_left, reward.redeemed) == (7, 7, 3)
    assert await store.points.standing("all", user_id) is not None  # spending never lowers points earned
    assert (await store.points.standing("all", user_id)).points == 35


async def test_contract_a_retried_redemption_request_redeems_once(store: Any, second_store: Any) -> None:
    (user_id,) = await people(store, 1)
    rewards = store.rewards
    await rewards.add_reward("mug", "Mug", 10, 5, NOW)
    await store.points.award(Award(user_id, None, None, 100, "bonus", "", "bonus:1"), RULES, NOW)
    request = RedeemRequest(user_id, 0, "mug", "req:same", RULES)
    request = replace(request, space_id=(await store.members.ensure_space("console", "cafe", "Café", False)).space_id)
    outcomes = await asyncio.gather(
        *((store if i % 2 else second_store).rewards.redeem(request, NOW) for i in range(6))
    )
    assert sum(o.status == RedeemStatus.REDEEMED for o in outcomes) == 1
    assert sum(o.status == RedeemStatus.ALREADY_REDEEMED for o in outcomes) == 5
    assert await store.points.balance(user_id) == 90
    assert await value(store, "SELECT stock FROM rewards WHERE id = 'mug'") == 4


async def test_postgres_a_redemption_never_spends_points_a_concurrent_retraction_took_back() -> None:
    """Votes run at READ COMMITTED, redemptions SERIALIZABLE, and the server tracks conflicts only among
    serializable transactions. So an award stamps its member's row: a redemption that read the balance
    before a retraction took points back is aborted at that row and run again on the new balance. Here
    the redemption is held between its balance check and its spend by a lock on the reward's codes."""
    from bot.store.postgres import connect

    with postgres_schema(postgres_url()) as url:
        async with make_store(settings_for(url)) as store, make_store(settings_for(url)) as other_process:
            space_id, round_id = await a_round(store, "ideas")
            author, voter = await people(store, 2)
            ideas, points = store.ideas, IdeaPoints(RULES, per_upvote=5, upvote_cap=50, bonuses={})
            idea = await ideas.add(
                NewIdea(Proposal(author, space_id, "Oat milk"), round_id, IdeaStatus.NEW), RULES, NOW
            )
            await store.points.award(Award(author, space_id, None, 5, "bonus", "", "bonus:1"), RULES, NOW)
            assert (await ideas.vote(idea.idea_id, voter, True, points, NOW)).status == VoteStatus.RECORDED
            rewards = store.rewards
            await rewards.add_reward("coffee", "Coffee", 10, None, NOW)
            await rewards.import_codes([CodeLine(1, "coffee", "CODE-1")], NOW)
            assert await store.points.balance(author) == 10
            holder = connect(url)
            try:
                holder.execute("BEGIN")
                holder.execute("SELECT 1 FROM reward_codes FOR UPDATE")
                redeeming = asyncio.ensure_future(
                    rewards.redeem(RedeemRequest(author, space_id, "coffee", "req:1", RULES), NOW)
                )
                await asyncio.sleep(0.3)  # the redemption has seen 10 points and waits for a code
                retracting = other_process.ideas.vote(idea.idea_id, voter, False, points, NOW)
                retracted = await asyncio.wait_for(retracting, 30)  # a guard against waiting forever, not a timing
                assert retracted.status == VoteStatus.RETRACTED
                holder.execute("COMMIT")
            finally:
                holder.raw.close()
            assert (await redeeming).status == RedeemStatus.NOT_ENOUGH_POINTS
            assert await store.points.balance(author) == 5
