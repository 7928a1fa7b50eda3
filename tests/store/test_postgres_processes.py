"""Four bot processes on one PostgreSQL database: 2,000 members answer and vote, every count stays exact.

Each process runs the real engine with its own store (its own connections, no lock shared with the
others); only the database keeps them honest. Then a moderator accepts the ideas, which queues a message
to each author and every voter, and four processes drain the outbox together: every message goes out
exactly once. Needs ``CROWDPULSE_TEST_POSTGRES_URL`` (skipped without it).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from bot.app import running_engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Reply
from bot.store.records import IdeaStatus
from tests.helpers import answer_tasks
from tests.store.conftest import assert_leaderboards_follow_the_ledger, postgres_schema, postgres_url, settings_for

PROCESSES = 4
MEMBERS_PER_PROCESS = 500
TASKS_EACH = 2
CAFE = SpaceRef("console", "cafe", "Corner Café")
MODERATOR = UserRef("console", "mod", "Moderator", "en")
AUTHORS = [UserRef("console", f"author{i}", f"Author {i}", "en") for i in range(3)]


def _settings(url: str) -> Any:
    # Simulated members tap faster than people: the per-member rate limit would refuse some of them.
    return settings_for(url, console={"moderators": ["mod"]}, limits={"per_second": 1000, "burst": 1000})


async def _members_answer_and_vote(url: str, process: int, idea_ids: list[int]) -> int:
    async with running_engine(_settings(url)) as engine:

        async def member(index: int) -> int:
            user = UserRef("console", f"p{process}m{index}", f"P{process} M{index}", "en")
            answered = await answer_tasks(engine, user, CAFE, TASKS_EACH)
            for idea_id in idea_ids:
                await engine.ideas.vote(await engine.context(user, CAFE), idea_id, True)
            return answered

        answered = 0
        for start in range(0, MEMBERS_PER_PROCESS, 50):  # 50 members at once per process
            answered += sum(await asyncio.gather(*(member(i) for i in range(start, start + 50))))
        return answered


async def _drain(url: str, process: int) -> list[str]:
    delivered: list[str] = []

    async def send(target: str, reply: Reply) -> None:
        delivered.append(target)

    async with running_engine(_settings(url)) as engine:
        drainer = OutboxDrainer(engine, "console", send, Pacer(per_second=1e6), worker=f"proc{process}", batch=50)
        while await drainer.drain_once() or await drainer.queries.pending("console"):
            pass
    return delivered


def answer_and_vote_in_a_process(url: str, process: int, idea_ids: list[int]) -> int:
    return asyncio.run(_members_answer_and_vote(url, process, idea_ids))


def drain_in_a_process(url: str, process: int) -> list[str]:
    return asyncio.run(_drain(url, process))


@pytest.mark.timeout(900)
async def test_four_processes_keep_answers_votes_ledger_and_outbox_exact() -> None:
    with postgres_schema(postgres_url()) as url:
        async with running_engine(_settings(url)) as engine:
            for i, author in enumerate(AUTHORS):
                await engine.ideas.submit(
                    await engine.context(author, CAFE), f"Idea number {i}: {'more ' * i}seating", force=True
                )
            idea_ids = [row[0] for row in await engine.services.store.fetchall("SELECT id FROM ideas ORDER BY id")]
            assert len(idea_ids) == len(AUTHORS)

        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
            answered = await asyncio.gather(
                *(loop.run_in_executor(pool, answer_and_vote_in_a_process, url, p, idea_ids) for p in range(PROCESSES))
            )

        members = PROCESSES * MEMBERS_PER_PROCESS
        async with running_engine(_settings(url)) as engine:
            store = engine.services.store
            assert await store.fetchval("SELECT COUNT(*) FROM users WHERE platform_user_id LIKE 'p%'") == members
            assert await store.fetchval("SELECT COUNT(*) FROM answers") == sum(answered) == members * TASKS_EACH
            assert await store.fetchval("SELECT SUM(answers) FROM task_counts") == sum(answered)
            assert await store.fetchval("SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == sum(answered)
            assert await store.fetchval("SELECT COUNT(*) FROM votes") == members * len(idea_ids)
            assert await store.fetchval("SELECT COUNT(*) FROM vote_events") == members * len(idea_ids)
            votes = await store.fetchall("SELECT votes FROM ideas ORDER BY id")
            assert [row[0] for row in votes] == [members] * len(idea_ids)
            per_upvote_cap = engine.services.settings.ideas.upvote_points_cap
            for author in AUTHORS:
                author_id = await store.members.find_user("console", author.platform_user_id)
                assert author_id is not None
                assert await store.points.balance(author_id) == per_upvote_cap  # paid exactly up to the cap, once
            answer_points = await store.fetchall(
                "SELECT a.user_id, SUM(l.delta) FROM answers a JOIN ledger l ON l.source_key = 'answer:' || a.id"
                " GROUP BY a.user_id"
            )
            assert len(answer_points) == members
            for user_id, points in answer_points:
                assert await store.points.balance(user_id) == points  # voters earn nothing for voting here
            over_cap = await store.fetchval(
                "SELECT COUNT(*) FROM daily_points WHERE earned > ?", (engine.services.settings.points.daily_cap,)
            )
            assert over_cap == 0
            await assert_leaderboards_follow_the_ledger(store)

            for idea_id in idea_ids:
                await engine.ideas.set_status(
                    await engine.context(MODERATOR, CAFE), idea_id, IdeaStatus.ACCEPTED, "thanks"
                )
            queued = await store.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            assert await store.fetchval("SELECT COUNT(*) FROM outbox WHERE target LIKE 'user:%'") == len(idea_ids) * (
                members + 1
            )

        with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
            deliveries = await asyncio.gather(
                *(loop.run_in_executor(pool, drain_in_a_process, url, p) for p in range(PROCESSES))
            )

        delivered = [target for batch in deliveries for target in batch]
        assert len(delivered) == queued
        per_target = Counter(target for target in delivered if target.startswith("user:p"))
        assert len(per_target) == members
        assert set(per_target.values()) == {len(idea_ids)}  # each voter told once per idea
        async with running_engine(_settings(url)) as engine:
            assert await engine.services.store.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
            assert await engine.services.store.fetchval("SELECT COUNT(*) FROM outbox WHERE attempts != 1") == 0
            for author in AUTHORS:
                author_id = await engine.services.store.members.find_user("console", author.platform_user_id)
                bonus = engine.services.settings.ideas.accepted_bonus
                assert (
                    await engine.services.store.points.balance(author_id)
                    == engine.services.settings.ideas.upvote_points_cap + bonus
                )
