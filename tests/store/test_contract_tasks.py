"""The store contract for tasks: one answer per member and task, skips, exact counts and quotas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store.records import AnswerStatus, Closing, ProgressQuery, SkipStatus
from tests.store.conftest import NOW, RULES, a_round, an_answer, assert_leaderboards_follow_the_ledger, people, value


async def test_contract_one_answer_per_user_per_task_however_many_arrive_at_once(store: Any) -> None:
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)
    results = await asyncio.gather(
        *(store.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW) for _ in range(20))
    )
    statuses = sorted(result.status for result in results)
    assert statuses.count(AnswerStatus.RECORDED) == 1
    assert statuses.count(AnswerStatus.ALREADY_ANSWERED) == 19
    assert await value(store, "SELECT COUNT(*) FROM answers") == 1
    assert await value(store, "SELECT SUM(answers) FROM task_counts WHERE round_id = ?", round_id) == 1
    assert await store.points.balance(user_id) == 5
    assert await value(store, "SELECT value FROM user_counters WHERE user_id = ?", user_id) == 1


async def test_contract_an_answer_brings_back_the_progress_a_read_would_give(store: Any) -> None:
    space_id, round_id = await a_round(store)
    user_id, other = await people(store, 2)
    await store.tasks.record_answer(an_answer(round_id, space_id, other, task_id="t2", quota=9), RULES, NOW)
    query = ProgressQuery(space_id, user_id, (round_id,), ((round_id, "t1"), (round_id, "t2")), ("t1",))
    mine = an_answer(round_id, space_id, user_id, quota=9)
    result = await store.tasks.record_answer(mine, RULES, NOW, follow_up=query)
    assert result.progress is not None
    assert result.progress == await store.tasks.progress(query)
    assert result.progress.done == {round_id: {"t1"}}
    assert result.progress.counts == {round_id: {"t1": 1, "t2": 1}}
    assert result.progress.profile == {"t1": "yes"}
    again = await store.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW, follow_up=query)
    assert (again.status, again.progress) == (AnswerStatus.ALREADY_ANSWERED, None)


async def test_contract_answers_sharing_a_commit_each_bring_back_the_progress_after_them(store: Any) -> None:
    """On SQLite the progress of answers of one group commit is read with each answer's gate, before its
    insert (the unit adds its own answer): each one still sees the answers committed with it before it."""
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)
    quota_tasks = tuple((round_id, task) for task in ("t1", "t2", "t3"))
    query = ProgressQuery(space_id, user_id, (round_id,), quota_tasks, ("t1", "t2"))
    results = await asyncio.gather(
        *(
            store.tasks.record_answer(
                an_answer(round_id, space_id, user_id, task_id=task, quota=9), RULES, NOW, follow_up=query
            )
            for task in ("t1", "t2", "t3")
        )
    )
    last = max(results, key=lambda result: result.answer_id or 0).progress
    assert last == await store.tasks.progress(query)
    assert last is not None
    assert last.done == {round_id: {"t1", "t2", "t3"}}
    assert last.counts == {round_id: {"t1": 1, "t2": 1, "t3": 1}}
    assert last.profile == {"t1": "yes", "t2": "yes"}
    assert sorted(len(result.progress.done[round_id]) for result in results if result.progress) == [1, 2, 3]


async def test_contract_a_skip_is_recorded_once_and_never_asked_again(store: Any, second_store: Any) -> None:
    """Skips race like double taps: one is recorded, the rest find it; no answer, no points; the
    member's progress has the task done, and the database refuses a second row for it outright."""
    space_id, round_id = await a_round(store)
    (user_id,) = await people(store, 1)
    skipped = await asyncio.gather(
        *((store if i % 2 else second_store).tasks.skip(round_id, "t1", user_id, NOW) for i in range(10))
    )
    assert skipped.count(SkipStatus.SKIPPED) == 1
    assert skipped.count(SkipStatus.ALREADY_SKIPPED) == 9
    assert await value(store, "SELECT COUNT(*) FROM skips") == 1
    assert await value(store, "SELECT COUNT(*) FROM answers") + await value(store, "SELECT COUNT(*) FROM ledger") == 0
    progress = await store.tasks.progress(ProgressQuery(space_id, user_id, (round_id,), (), ()))
    assert progress.done == {round_id: {"t1"}}
    with pytest.raises(Exception, match=r"(?i)unique"):
        await store.write(
            lambda db: db.execute(
                "INSERT INTO skips (round_id, user_id, task_id, created_at) VALUES (?, ?, 't1', ?)",
                (round_id, user_id, NOW.isoformat()),
            )
        )


async def test_contract_a_skip_stands_only_until_an_answer_and_only_in_an_open_round(store: Any) -> None:
    space_id, round_id = await a_round(store)
    ana, bob, cleo = await people(store, 3)
    await store.tasks.record_answer(an_answer(round_id, space_id, ana), RULES, NOW)
    assert await store.tasks.skip(round_id, "t1", ana, NOW) == SkipStatus.ALREADY_ANSWERED
    for member in (bob, cleo):
        assert await store.tasks.skip(round_id, "t1", member, NOW) == SkipStatus.SKIPPED
    await store.tasks.record_answer(an_answer(round_id, space_id, cleo), RULES, NOW)  # she changed her mind
    assert await store.rounds.skip_counts(round_id) == {"t1": 1}
    assert [row["user_id"] for row in await store.rounds.skip_rows(round_id)] == [bob]
    await store.rounds.close(Closing(round_id, None, (), RULES), NOW)
    assert await store.tasks.skip(round_id, "t2", bob, NOW) == SkipStatus.ROUND_CLOSED


async def test_contract_task_counts_are_exact_under_concurrent_answers(store: Any, second_store: Any) -> None:
    """Exact sums; on PostgreSQL each writer connection also counts on a row of its own (its shard), so
    two writers never update one counter row."""
    space_id, round_id = await a_round(store)
    users = await people(store, 40)
    await asyncio.gather(
        *(
            (store if i % 2 else second_store).tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW)
            for i, user_id in enumerate(users)
        )
    )
    counted = "SELECT SUM(answers) FROM task_counts WHERE round_id = ? AND task_id = 't1'"
    assert await value(store, counted, round_id) == 40
    shards = await value(store, "SELECT COUNT(DISTINCT shard) FROM task_counts")
    if store.dialect == "postgresql":  # a shard per writer connection that answered, up to 4 per store
        assert 2 <= shards <= 8
    else:
        assert shards == 1
    assert await value(store, "SELECT COUNT(*) FROM answers") == 40
    assert await value(store, "SELECT SUM(delta) FROM ledger") == 200
    await assert_leaderboards_follow_the_ledger(store)


async def test_contract_a_task_quota_is_never_overshot(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store)
    users = await people(store, 30)
    results = await asyncio.gather(
        *(
            (store if i % 2 else second_store).tasks.record_answer(
                an_answer(round_id, space_id, user_id, quota=7), RULES, NOW
            )
            for i, user_id in enumerate(users)
        )
    )
    assert sum(result.status == AnswerStatus.RECORDED for result in results) == 7
    assert await value(store, "SELECT COUNT(*) FROM answers") == 7


async def test_contract_answers_counted_at_the_commit_are_counted_exactly_once(store: Any) -> None:
    """Answers to tasks without a quota are counted once per group commit: the many answers (and
    repeats) of one commit still add up to exactly the answers recorded."""
    space_id, round_id = await a_round(store)
    members = await people(store, 30)

    def answering(user_id: int, task_id: str) -> Any:
        query = ProgressQuery(space_id, user_id, (round_id,), (), ())
        return store.tasks.record_answer(an_answer(round_id, space_id, user_id, task_id), RULES, NOW, query)

    results = await asyncio.gather(
        *(answering(user_id, task_id) for user_id in members for task_id in ("t1", "t2", "t1"))
    )
    statuses = [result.status for result in results]
    assert statuses.count(AnswerStatus.RECORDED) == 60
    assert statuses.count(AnswerStatus.ALREADY_ANSWERED) == 30
    counted = "SELECT task_id, SUM(answers) FROM task_counts WHERE round_id = ? GROUP BY task_id ORDER BY task_id"
    assert [tuple(row) for row in await store.fetchall(counted, (round_id,))] == [("t1", 30), ("t2", 30)]
    assert all(result.progress is not None for result in results if result.status == AnswerStatus.RECORDED)


async def test_contract_an_answers_progress_counts_the_quota_answers_before_it_in_its_commit(store: Any) -> None:
    """A progress read counts the tasks with a quota, and only them: their answers count at once, so an
    answer's progress counts its own and those its transaction recorded before it (on PostgreSQL, those of
    its whole call); the answers to a task without a quota beside them are counted at the commit."""
    space_id, round_id = await a_round(store)
    members = await people(store, 24)

    def answering(user_id: int, task_id: str, quota: int | None) -> Any:
        query = ProgressQuery(space_id, user_id, (round_id,), ((round_id, "t2"),), ())
        answer = an_answer(round_id, space_id, user_id, task_id, quota=quota)
        return store.tasks.record_answer(answer, RULES, NOW, query)

    results = await asyncio.gather(
        *(answering(user_id, "t1", None) for user_id in members),
        *(answering(user_id, "t2", 5) for user_id in members),
    )
    free, limited = results[: len(members)], results[len(members) :]
    assert all(result.status == AnswerStatus.RECORDED for result in free)
    assert sum(result.status == AnswerStatus.RECORDED for result in limited) == 5
    for result in free:
        assert result.progress is not None
        assert "t1" not in result.progress.counts[round_id]
        assert result.progress.counts[round_id].get("t2", 0) <= 5
    seen = [result.progress.counts[round_id]["t2"] for result in limited if result.progress is not None]
    assert len(seen) == 5 and all(1 <= count <= 5 for count in seen) and max(seen) == 5
    counted = "SELECT task_id, SUM(answers) FROM task_counts WHERE round_id = ? GROUP BY task_id ORDER BY task_id"
    assert [tuple(row) for row in await store.fetchall(counted, (round_id,))] == [("t1", 24), ("t2", 5)]


async def test_contract_answers_arriving_together_are_each_decided_as_if_alone(store: Any) -> None:
    """One group commit mixing every outcome (PostgreSQL sends it as one call per wave of distinct
    members): each answer gets the status it would get alone, and only the recorded ones count or pay."""
    space_id, round_id = await a_round(store)
    closed_round = (await a_round(store, kind="ideas"))[1]
    assert await store.rounds.close(Closing(closed_round, None, (), RULES), NOW)
    ana, ben, cleo, dan, eve, moderator = await people(store, 6)
    assert await store.members.set_ban(space_id, eve, moderator, True, NOW)
    answers = [
        an_answer(round_id, space_id, ana, "t1"),
        an_answer(round_id, space_id, ana, "t2"),  # a second answer of hers: a second wave
        an_answer(round_id, space_id, ben, "t1"),
        an_answer(round_id, space_id, ben, "t1"),  # the same tap twice
        an_answer(closed_round, space_id, cleo, "t1"),
        an_answer(round_id, space_id, eve, "t1"),  # banned
        *(an_answer(round_id, space_id, member, "q", quota=2) for member in (ana, cleo, dan)),
    ]
    results = await asyncio.gather(*(store.tasks.record_answer(answer, RULES, NOW) for answer in answers))
    statuses = [result.status for result in results]
    assert statuses[:2] == [AnswerStatus.RECORDED, AnswerStatus.RECORDED]
    assert sorted(statuses[2:4]) == sorted([AnswerStatus.RECORDED, AnswerStatus.ALREADY_ANSWERED])
    assert statuses[4:6] == [AnswerStatus.ROUND_CLOSED, AnswerStatus.BANNED]
    assert sorted(statuses[6:]) == sorted([AnswerStatus.RECORDED] * 2 + [AnswerStatus.QUOTA_FULL])
    recorded = [answer for answer, status in zip(answers, statuses, strict=True) if status == AnswerStatus.RECORDED]
    assert await value(store, "SELECT COUNT(*) FROM answers") == len(recorded) == 5
    for task in ("t1", "t2", "q"):
        expected = sum(answer.task_id == task for answer in recorded)
        assert await value(store, "SELECT SUM(answers) FROM task_counts WHERE task_id = ?", task) == expected
    for member in (ana, ben, cleo, dan, eve):
        mine = sum(answer.user_id == member for answer in recorded)
        assert await store.points.balance(member) == 5 * mine
        assert await value(store, "SELECT value FROM user_counters WHERE user_id = ?", member) == mine
    answer_ids = {result.answer_id for result in results if result.status == AnswerStatus.RECORDED}
    assert answer_ids == {row[0] for row in await store.fetchall("SELECT id FROM answers")}
    await assert_leaderboards_follow_the_ledger(store)
