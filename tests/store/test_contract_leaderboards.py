"""The store contract for leaderboards: every scope's scores and the score histogram equal what the
ledger says, however the rows were written (migration 0017: the writer keeps them, not triggers).

Answers, double taps, refused answers, retractions, redemptions and failing units all land in the same
group commits here (SQLite) or the same batched transactions (PostgreSQL), from two stores at once as two
processes would; after each mix the leaderboards are recomputed from the ledger and compared, and every
member's rank read from the histogram is compared with a rank counted over the scores themselves.
Merges of linked accounts are checked the same way in ``test_contract_linking.py``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from bot.store import migrations
from bot.store.effects import apply_award
from bot.store.records import (
    AnswerStatus,
    Award,
    Closing,
    CodeLine,
    IdeaPoints,
    IdeaStatus,
    NewIdea,
    Proposal,
    RedeemRequest,
    RedeemStatus,
    VoteStatus,
)
from tests.store.conftest import NOW, RULES, a_round, an_answer, assert_leaderboards_follow_the_ledger, people


class _Refused(Exception):
    """A unit's own failure after it wrote points: its rows, scores and histogram moves must all go."""


async def assert_ranks_follow_the_scores(store: Any, scope: str) -> None:
    """Each member's rank from the histogram is 1 + the members of the scope with strictly more points."""
    scores = [row[1] for row in await store.fetchall("SELECT user_id, points FROM scores WHERE scope = ?", (scope,))]
    for user_id, points in await store.fetchall("SELECT user_id, points FROM scores WHERE scope = ?", (scope,)):
        standing = await store.points.standing(scope, user_id)
        if points <= 0:
            assert standing is None
            continue
        assert standing is not None
        assert standing.rank == 1 + sum(other > points for other in scores)


async def test_contract_leaderboards_follow_the_ledger_through_mixed_batches(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store)
    _, ideas_round = await a_round(store, "ideas")
    members = await people(store, 12)
    author = members[0]
    stores = (store, second_store)
    points = IdeaPoints(RULES, per_upvote=5, upvote_cap=50, bonuses={})
    idea = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "Oat milk"), ideas_round, IdeaStatus.NEW), RULES, NOW
    )
    await store.rewards.add_reward("coffee", "Coffee", 10, None, NOW)
    await store.rewards.import_codes([CodeLine(i, "coffee", f"CODE-{i}") for i in range(20)], NOW)

    def failing_award(user_id: int, number: int) -> Any:
        def unit(db: Any) -> None:
            apply_award(db, Award(user_id, space_id, round_id, 7, "bonus", "", f"doomed:{number}"), RULES, NOW)
            raise _Refused

        return unit

    async def refused(user_id: int, number: int) -> None:
        with pytest.raises(_Refused):
            await stores[number % 2].write(failing_award(user_id, number))

    work: list[Any] = []
    for number, member in enumerate(members):
        mine = stores[number % 2]
        for task in ("t1", "t2", "t3"):  # several answers of one member in one commit
            work.append(mine.tasks.record_answer(an_answer(round_id, space_id, member, task), RULES, NOW))
        work.append(stores[1 - number % 2].tasks.record_answer(an_answer(round_id, space_id, member), RULES, NOW))
        work.append(mine.points.award(Award(member, space_id, None, 4, "bonus", "", f"bonus:{member}"), RULES, NOW))
        work.append(mine.points.award(Award(member, None, None, -2, "correction", "", f"fix:{member}"), RULES, NOW))
        work.append(refused(member, number))
        if member != author:
            work.append(mine.ideas.vote(idea.idea_id, member, True, points, NOW))
    results = await asyncio.gather(*work)
    answers = [result for result in results if hasattr(result, "status") and isinstance(result.status, AnswerStatus)]
    assert sum(result.status == AnswerStatus.RECORDED for result in answers) == 3 * len(members)
    assert sum(result.status == AnswerStatus.ALREADY_ANSWERED for result in answers) == len(members)
    await assert_leaderboards_follow_the_ledger(store)

    # retractions, redemptions, answers after the round closed, more awards: all at once again
    work = [stores[n % 2].ideas.vote(idea.idea_id, member, False, points, NOW) for n, member in enumerate(members[1:6])]
    work += [
        stores[n % 2].rewards.redeem(RedeemRequest(member, space_id, "coffee", f"req:{member}", RULES), NOW)
        for n, member in enumerate(members)
    ]
    work.append(store.rounds.close(Closing(round_id, None, (), RULES), NOW))
    work += [
        stores[n % 2].tasks.record_answer(an_answer(round_id, space_id, m, "t9"), RULES, NOW)
        for n, m in enumerate(members)
    ]
    work += [
        stores[n % 2].points.award(Award(member, space_id, None, 3, "bonus", "", f"late:{member}"), RULES, NOW)
        for n, member in enumerate(members)
    ]
    results = await asyncio.gather(*work)
    assert sum(getattr(result, "status", None) == VoteStatus.RETRACTED for result in results) == 5
    assert any(getattr(result, "status", None) == RedeemStatus.REDEEMED for result in results)
    await assert_leaderboards_follow_the_ledger(store)
    assert await store.fetchval("SELECT COUNT(*) FROM ledger WHERE source_key LIKE 'doomed:%'") == 0
    for scope in ("all", f"s{space_id}", f"r{round_id}"):
        await assert_ranks_follow_the_scores(store, scope)


async def test_contract_a_score_back_at_zero_leaves_the_histogram(store: Any) -> None:
    """Points taken back to nothing: the member keeps a row of 0 points and no bucket; a rank above them
    no longer counts them."""
    first, second = await people(store, 2)
    await store.points.award(Award(first, None, None, 5, "bonus", "", "b:1"), RULES, NOW)
    await store.points.award(Award(second, None, None, 3, "bonus", "", "b:2"), RULES, NOW)
    assert (await store.points.standing("all", second)).rank == 2
    await store.points.award(Award(first, None, None, -5, "correction", "", "c:1"), RULES, NOW)
    assert await store.points.standing("all", first) is None
    assert (await store.points.standing("all", second)).rank == 1
    assert await store.fetchval("SELECT COUNT(*) FROM score_counts WHERE points <= 0 AND users != 0") == 0
    await assert_leaderboards_follow_the_ledger(store)


def test_migration_0017_keeps_the_leaderboards_the_triggers_built(tmp_path: Any) -> None:
    """A database whose scores the triggers of 0006 kept (a member back at 0 points among them) keeps
    exactly its leaderboards through 0017, and what is written afterwards follows the ledger too."""
    path = tmp_path / "before.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        migrations.apply(db, upto=13)
        db.execute(
            "INSERT INTO users (id, platform, platform_user_id, display_name, created_at)"
            " VALUES (1, 'console', 'a', 'A', ''), (2, 'console', 'b', 'B', '')"
        )
        for key, (user_id, delta) in enumerate(((1, 5), (2, 8), (1, -5), (2, 4))):
            db.execute(
                "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
                " VALUES (?, NULL, NULL, '', ?, 'bonus', '', ?, '')",
                (user_id, delta, f"k{key}"),
            )
        assert db.execute("SELECT COUNT(*) FROM score_counts WHERE points = 0 AND users > 0").fetchone()[0] == 1
        migrations.apply(db)
        assert db.execute("SELECT COUNT(*) FROM score_counts WHERE points <= 0").fetchone()[0] == 0
        assert db.execute("SELECT scope, points, users FROM score_counts").fetchall() == [("all", 12, 1)]
        apply_award(db, Award(1, None, None, 12, "bonus", "", "k9"), RULES, NOW)
        assert sorted(db.execute("SELECT scope, points, users FROM score_counts WHERE users != 0").fetchall()) == [
            ("all", 12, 2)
        ]
    finally:
        db.close()
