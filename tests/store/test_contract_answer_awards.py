"""The store contract for what an answer pays: the daily cap, the streak and its bonus, badges and level-ups,
in the settings' time zone, and the refusals that pay nothing.

SQLite runs the answer as statements in process; PostgreSQL as one server-side function (migration 0022,
:mod:`bot.store.pg_answers`). The same expected figures on both stores say that the two agree.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.settings import BadgeRule
from bot.store.effects import apply_award
from bot.store.records import AnswerStatus, Award, Awarded, Closing, NewAnswer, PointRules
from tests.store.conftest import a_round, assert_leaderboards_follow_the_ledger, people, value

# Cap 70 a day, a bonus of 3 from the second day in a row; in Bucharest (UTC+2 in November), so 21:30 and
# 22:30 UTC fall on two days there though on one in UTC.
RULES = PointRules(
    daily_cap=70,
    streak_bonus=3,
    timezone="Europe/Bucharest",
    badges=(
        BadgeRule(id="streak_2", title_key="badge.streak_7", counter="streak", at_least=2),
        BadgeRule(id="first_answer", title_key="badge.first_answer", counter="answers", at_least=1),
        BadgeRule(id="answers_3", title_key="badge.answers_10", counter="answers", at_least=3),
        BadgeRule(id="first_idea", title_key="badge.first_idea", counter="ideas", at_least=1),
    ),
)
LATE_EVENING = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 23:30 on the 23rd in Bucharest
JUST_AFTER_MIDNIGHT = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 00:30 on the 24th there


def worth_30(round_id: int, space_id: int, user_id: int, task_id: str) -> NewAnswer:
    award = Award(user_id, space_id, round_id, 30, "answer", task_id, "", capped=True)
    return NewAnswer(round_id, task_id, user_id, "yes", None, award, typed=False, space_id=space_id)


async def test_contract_an_answer_pays_the_cap_the_streak_its_badges_and_levels(store: Any) -> None:
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)

    async def answer(task_id: str, now: datetime) -> Any:
        return await store.tasks.record_answer(worth_30(round_id, space_id, user_id, task_id), RULES, now)

    first, second, third = [await answer(task, LATE_EVENING) for task in ("t1", "t2", "t3")]
    assert first.awarded == Awarded(30, 1, 0, False, ("first_answer",), 0)
    assert second.awarded == Awarded(30, 1, 0, False, (), 2)  # 60 points: level 2 from 50
    assert third.awarded == Awarded(10, 1, 0, True, ("answers_3",), 0)  # 70 a day at most
    next_day = await answer("t4", JUST_AFTER_MIDNIGHT)
    assert next_day.awarded == Awarded(33, 2, 3, False, ("streak_2",), 0)
    again = await answer("t4", JUST_AFTER_MIDNIGHT)
    assert (again.status, again.awarded) == (AnswerStatus.ALREADY_ANSWERED, None)

    assert await store.points.balance(user_id) == 103
    ledger = await store.fetchall("SELECT delta, reason, detail, source_key FROM ledger ORDER BY id")
    answer_ids = [result.answer_id for result in (first, second, third, next_day)]
    assert [tuple(row) for row in ledger] == [
        (30, "answer", "t1", f"answer:{answer_ids[0]}"),
        (30, "answer", "t2", f"answer:{answer_ids[1]}"),
        (10, "answer", "t3", f"answer:{answer_ids[2]}"),
        (30, "answer", "t4", f"answer:{answer_ids[3]}"),
        (3, "streak", "2", f"streak:{user_id}:2026-11-24"),
    ]
    days = await store.fetchall("SELECT day, earned FROM daily_points ORDER BY day")
    assert [tuple(row) for row in days] == [("2026-11-23", 70), ("2026-11-24", 30)]
    streak = await store.fetchall("SELECT last_day, length, best FROM streaks")
    assert [tuple(row) for row in streak] == [("2026-11-24", 2, 2)]
    assert await value(store, "SELECT value FROM user_counters WHERE user_id = ? AND counter = 'answers'", user_id) == 4
    assert await value(store, "SELECT COUNT(*) FROM user_badges") == 3
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_a_refused_answer_writes_nothing(store: Any) -> None:
    space_id, round_id = await a_round(store)
    banned, member, late = await people(store, 3)
    await store.members.set_ban(space_id, banned, member, True, LATE_EVENING)
    refused = await store.tasks.record_answer(worth_30(round_id, space_id, banned, "t1"), RULES, LATE_EVENING)
    assert refused.status == AnswerStatus.BANNED
    # Answers waiting together share a transaction: a refusal among them leaves the others recorded.
    together = await asyncio.gather(
        *(store.tasks.record_answer(worth_30(round_id, space_id, member, "t1"), RULES, LATE_EVENING) for _ in range(5))
    )
    assert sorted(result.status for result in together) == [AnswerStatus.ALREADY_ANSWERED] * 4 + [AnswerStatus.RECORDED]
    await store.rounds.close(Closing(round_id, None, (), RULES), LATE_EVENING)
    closed = await store.tasks.record_answer(worth_30(round_id, space_id, late, "t1"), RULES, LATE_EVENING)
    assert closed.status == AnswerStatus.ROUND_CLOSED
    assert await value(store, "SELECT COUNT(*) FROM answers") == 1
    assert await value(store, "SELECT COUNT(*) FROM ledger") == 1
    assert await value(store, "SELECT COUNT(*) FROM user_counters WHERE user_id <> ?", member) == 0
    assert await value(store, "SELECT COUNT(*) FROM daily_points WHERE user_id <> ?", member) == 0
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_a_typed_answer_settles_the_awaited_input_even_when_repeated(store: Any) -> None:
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)
    typed = NewAnswer(round_id, "t1", user_id, "tea", None, worth_30(round_id, space_id, user_id, "t1").award)
    for expected in (AnswerStatus.RECORDED, AnswerStatus.ALREADY_ANSWERED):
        await store.tasks.expect_input(user_id, space_id, "token", round_id, "t1", LATE_EVENING)
        assert (await store.tasks.record_answer(typed, RULES, LATE_EVENING)).status == expected
        assert await store.tasks.expected_input(user_id, space_id) is None
    assert await value(store, "SELECT COUNT(*) FROM ledger") == 1


async def test_contract_answers_sharing_a_commit_pay_as_if_one_after_another(store: Any) -> None:
    """A member's answers and another award waiting together share one transaction (SQLite's group commit
    leaves the answers' counters, day, streak and scores to its end): each still sees the others' points
    toward the cap, the count toward badges and the score toward levels."""
    space_id, round_id = await a_round(store)
    member, other = await people(store, 2)
    yesterday = await store.tasks.record_answer(worth_30(round_id, space_id, member, "t0"), RULES, LATE_EVENING)
    assert yesterday.awarded == Awarded(30, 1, 0, False, ("first_answer",), 0)
    capped_bonus = Award(member, space_id, None, 30, "bonus", "", "bonus:1", capped=True)

    def doomed(db: Any) -> None:  # fails after its award: the batch runs again, each unit apart
        apply_award(db, Award(member, space_id, round_id, 7, "bonus", "", "doomed"), RULES, JUST_AFTER_MIDNIGHT)
        raise LookupError

    async def refused() -> None:
        with pytest.raises(LookupError):
            await store.write(doomed)

    results = await asyncio.gather(
        *(
            store.tasks.record_answer(worth_30(round_id, space_id, member, task), RULES, JUST_AFTER_MIDNIGHT)
            for task in ("t1", "t2")
        ),
        store.points.award(capped_bonus, RULES, JUST_AFTER_MIDNIGHT),
        store.tasks.record_answer(worth_30(round_id, space_id, member, "t3"), RULES, JUST_AFTER_MIDNIGHT),
        store.tasks.record_answer(worth_30(round_id, space_id, other, "t1"), RULES, JUST_AFTER_MIDNIGHT),
    )
    await asyncio.gather(  # the same again with a failing unit among them, for another member
        store.tasks.record_answer(worth_30(round_id, space_id, other, "t2"), RULES, JUST_AFTER_MIDNIGHT),
        refused(),
        store.tasks.record_answer(worth_30(round_id, space_id, other, "t3"), RULES, JUST_AFTER_MIDNIGHT),
    )
    paid = [result.awarded for result in results[:2] + results[3:4]] + [results[2]]
    assert sum(awarded.points for awarded in paid) == 70 + 3  # the day's cap, and the streak's bonus once
    assert sorted(awarded.streak_bonus for awarded in paid) == [0, 0, 0, 3]
    assert sorted(badge for awarded in paid for badge in awarded.badges) == ["answers_3", "streak_2"]
    assert sorted(awarded.level_up for awarded in paid) == [0, 0, 0, 2]  # 30 + 73 points: level 2 from 50, once
    assert results[4].awarded == Awarded(30, 1, 0, False, ("first_answer",), 0)
    days = await store.fetchall("SELECT day, earned FROM daily_points WHERE user_id = ? ORDER BY day", (member,))
    assert [tuple(row) for row in days] == [("2026-11-23", 30), ("2026-11-24", 70)]
    streak = await store.fetchall("SELECT last_day, length, best FROM streaks WHERE user_id = ?", (member,))
    assert [tuple(row) for row in streak] == [("2026-11-24", 2, 2)]
    assert await value(store, "SELECT value FROM user_counters WHERE user_id = ? AND counter = 'answers'", member) == 4
    assert await store.points.balance(member) == 30 + 73
    assert await value(store, "SELECT value FROM user_counters WHERE user_id = ? AND counter = 'answers'", other) == 3
    assert await value(store, "SELECT earned FROM daily_points WHERE user_id = ?", other) == 70
    assert await value(store, "SELECT COUNT(*) FROM ledger WHERE source_key = 'doomed'") == 0
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_a_badge_already_held_is_not_handed_out_again(store: Any) -> None:
    """A member may hold a badge before its count reaches it (an account merged into theirs brought it):
    the answer that reaches the threshold announces nothing, alone or sharing a commit."""
    space_id, round_id = await a_round(store)
    member, other = await people(store, 2)
    await store.write(
        lambda db: db.execute(
            "INSERT INTO user_badges (user_id, badge, earned_at) VALUES (?, 'first_answer', '2026-11-01'), "
            "(?, 'first_answer', '2026-11-01')",
            (member, other),
        )
    )
    alone = await store.tasks.record_answer(worth_30(round_id, space_id, member, "t1"), RULES, LATE_EVENING)
    together = await asyncio.gather(
        *(
            store.tasks.record_answer(worth_30(round_id, space_id, other, task), RULES, LATE_EVENING)
            for task in ("t1", "t2", "t3")
        )
    )
    assert alone.awarded == Awarded(30, 1, 0, False, (), 0)
    assert sorted(badge for result in together if result.awarded for badge in result.awarded.badges) == ["answers_3"]
    badges = await store.fetchall("SELECT user_id, badge, earned_at FROM user_badges ORDER BY user_id, badge")
    assert [(row[0], row[1], row[2][:10]) for row in badges] == [
        (member, "first_answer", "2026-11-01"),  # kept as it was
        (other, "answers_3", "2026-11-23"),
        (other, "first_answer", "2026-11-01"),
    ]


async def test_contract_one_members_answers_through_two_processes_pay_as_if_one_after_another(
    store: Any, second_store: Any
) -> None:
    """A member answering through two bot processes at once: each process sends its answers together (on
    PostgreSQL one transaction per process, READ COMMITTED, on several connections), yet the cap, the
    streak and its bonus, the count's badges and the level come out as if the answers came one after
    another. What an answer decides on (the day's points, the streak, the count, the badges held, the
    score) is read under the member's lock, which the other process's answers wait for."""
    space_id, round_id = await a_round(store)
    (member,) = await people(store, 1)
    yesterday = await store.tasks.record_answer(worth_30(round_id, space_id, member, "t0"), RULES, LATE_EVENING)
    assert yesterday.awarded == Awarded(30, 1, 0, False, ("first_answer",), 0)
    results = await asyncio.gather(
        *(
            (store if i % 2 else second_store).tasks.record_answer(
                worth_30(round_id, space_id, member, f"t{i}"), RULES, JUST_AFTER_MIDNIGHT
            )
            for i in range(1, 9)
        )
    )
    paid = [result.awarded for result in results if result.awarded is not None]
    assert [result.status for result in results] == [AnswerStatus.RECORDED] * 8
    assert sorted(awarded.points for awarded in paid) == [0] * 5 + [10, 30, 33]  # the cap; the bonus once
    assert sorted(awarded.streak_bonus for awarded in paid) == [0] * 7 + [3]
    assert [awarded.streak_days for awarded in paid] == [2] * 8
    assert sum(awarded.capped for awarded in paid) == 6
    assert sorted(badge for awarded in paid for badge in awarded.badges) == ["answers_3", "streak_2"]
    assert sorted(awarded.level_up for awarded in paid) == [0] * 7 + [2]
    assert await value(store, "SELECT earned FROM daily_points WHERE user_id = ? AND day = '2026-11-24'", member) == 70
    streak = await store.fetchall("SELECT last_day, length, best FROM streaks WHERE user_id = ?", (member,))
    assert [tuple(row) for row in streak] == [("2026-11-24", 2, 2)]
    assert await value(store, "SELECT value FROM user_counters WHERE user_id = ? AND counter = 'answers'", member) == 9
    assert await value(store, "SELECT COUNT(*) FROM user_badges WHERE user_id = ?", member) == 3
    assert await store.points.balance(member) == 30 + 73
    await assert_leaderboards_follow_the_ledger(store)
