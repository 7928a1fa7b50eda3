"""The store contract: every invariant the engine relies on, held by SQLite and by PostgreSQL alike.

Each test runs once per store (``[sqlite]``, ``[postgresql]``) on a real database. The PostgreSQL runs
need a server: ``CROWDPULSE_TEST_POSTGRES_URL=postgresql://user:password@host:5432/database`` (each test
gets a fresh schema in it, dropped afterwards); without it they are skipped, saying so.
Concurrency here is real: PostgreSQL runs units on several connections at once, and the "two
processes" tests open two independent stores on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import make_store, running_engine
from bot.settings import load_settings
from bot.store import migrations
from bot.store.dialects import dialect
from bot.store.effects import enqueue
from bot.store.outbox_sql import OutboxQueries
from bot.store.records import (
    AnswerStatus,
    Award,
    Closing,
    CodeLine,
    IdeaPoints,
    IdeaStatus,
    NewAnswer,
    NewIdea,
    NewRound,
    PointRules,
    ProgressQuery,
    Proposal,
    RedeemRequest,
    RedeemStatus,
    SkipStatus,
    VoteStatus,
)
from tests.conftest import REPO, FakeClock
from tests.helpers import answer_tasks

POSTGRES_URL_ENV = "CROWDPULSE_TEST_POSTGRES_URL"
NO_SERVER = (
    f"PostgreSQL store tests need a server: set {POSTGRES_URL_ENV}=postgresql://user:password@host:5432/db"
    " (.ci/run installs and starts one)"
)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES = PointRules(daily_cap=100, streak_bonus=0, timezone="UTC")


def postgres_url() -> str:
    """The test server's URL, or a skip that says how to provide one."""
    url = os.environ.get(POSTGRES_URL_ENV, "")
    if not url:
        pytest.skip(NO_SERVER)
    return url


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh, empty schema on the test server; yields a URL whose connections use it."""
    from bot.store.postgres import scratch_schema  # psycopg is needed only when a server is given

    with scratch_schema(url, prefix="test") as scratch:
        yield scratch


@contextlib.contextmanager
def storage_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A storage URL for ``kind`` (``sqlite`` or ``postgresql``) on an empty database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        with postgres_schema(postgres_url()) as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with storage_url(request.param, tmp_path) as chosen:
        yield chosen


def settings_for(url: str, **overrides: Any) -> Any:
    return load_settings(catalog_dir=REPO / "tasks_catalog", storage={"url": url}, **overrides)


@pytest.fixture
async def store(url: str) -> AsyncIterator[Any]:
    async with make_store(settings_for(url)) as opened:
        yield opened


@pytest.fixture
async def second_store(url: str, store: Any) -> AsyncIterator[Any]:
    """Another store on the same database, as another process would open it."""
    async with make_store(settings_for(url)) as opened:
        yield opened


# helpers --------------------------------------------------------------------------------------------


async def people(store: Any, count: int, prefix: str = "u") -> list[int]:
    return [await store.members.ensure_user("console", f"{prefix}{i}", f"{prefix}{i}", "en", NOW) for i in range(count)]


async def a_round(store: Any, kind: str = "tasks") -> tuple[int, int]:
    space_id = await store.members.ensure_space("console", "cafe", "Corner Café", False)
    round_id, _ = await store.rounds.open(NewRound(space_id, kind, f"{kind}-subject"), NOW)
    return space_id, round_id


def an_answer(round_id: int, space_id: int, user_id: int, task_id: str = "t1", quota: int | None = None) -> NewAnswer:
    award = Award(user_id, space_id, round_id, 5, "answer", task_id, "", capped=True)
    return NewAnswer(round_id, task_id, user_id, "yes", quota, award)


async def value(store: Any, sql: str, *parameters: Any) -> Any:
    return await store.fetchval(sql, parameters, 0)


async def assert_leaderboards_follow_the_ledger(store: Any) -> None:
    mismatched = await store.fetchall(
        "SELECT u.id FROM users u LEFT JOIN (SELECT user_id, SUM(delta) AS earned FROM ledger"
        " WHERE reason != 'redeem' GROUP BY user_id) l ON l.user_id = u.id"
        " LEFT JOIN scores s ON s.scope = 'all' AND s.user_id = u.id"
        " WHERE COALESCE(l.earned, 0) != COALESCE(s.points, 0)"
    )
    assert mismatched == []
    histogram = await store.fetchall(
        "SELECT s.scope FROM (SELECT scope, COUNT(*) AS members FROM scores GROUP BY scope) s"
        " LEFT JOIN (SELECT scope, SUM(users) AS counted FROM score_counts GROUP BY scope) c ON c.scope = s.scope"
        " WHERE s.members != COALESCE(c.counted, 0)"
    )
    assert histogram == []


# the contract ---------------------------------------------------------------------------------------


def test_contract_both_dialects_ship_the_same_numbered_migrations() -> None:
    sqlite_series = [(version, name) for version, name, _ in migrations.available("sqlite")]
    postgres_series = [(version, name) for version, name, _ in migrations.available("postgresql")]
    assert sqlite_series == postgres_series
    assert sqlite_series, "no migrations found"


async def test_contract_storage_url_chooses_the_store(url: str) -> None:
    store = make_store(settings_for(url))
    assert store.dialect == ("postgresql" if url.startswith("postgresql://") else "sqlite")


async def test_contract_migrations_apply_once_when_stores_start_together(url: str) -> None:
    stores = [make_store(settings_for(url)) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = await stores[0].fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in versions] == [v for v, _, _ in migrations.available(stores[0].dialect)]
    finally:
        for store in stores:
            await store.close()


def _raw_connection(url: str) -> Any:
    """A bare connection to the database behind ``url``, as migrations are given one."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    from bot.store.postgres import connect

    return connect(url)


def test_contract_counters_written_before_sharding_keep_their_sums(url: str) -> None:
    """Migration 0007 splits the hot counters into shards: a community's counts from before it survive."""
    db = _raw_connection(url)
    try:
        migrations.apply(db, upto=6)
        db.execute("INSERT INTO task_counts (round_id, task_id, answers) VALUES (1, 't1', 7), (1, 't2', 3)")
        db.execute("INSERT INTO score_counts (scope, points, users) VALUES ('all', 10, 4), ('all', 20, 1)")
        assert migrations.apply(db) == [v for v, _, _ in migrations.available(dialect(db)) if v > 6]
        db.execute("INSERT INTO task_counts (round_id, task_id, shard, answers) VALUES (1, 't1', 5, 2)")
        counts = db.execute("SELECT task_id, SUM(answers) FROM task_counts GROUP BY task_id ORDER BY 1").fetchall()
        histogram = db.execute("SELECT points, SUM(users), MAX(shard) FROM score_counts GROUP BY 1 ORDER BY 1")
        assert [tuple(row) for row in counts] == [("t1", 9), ("t2", 3)]
        assert [tuple(row) for row in histogram.fetchall()] == [(10, 4, 0), (20, 1, 0)]
    finally:
        (db.raw if hasattr(db, "raw") else db).close()


async def test_contract_rows_answer_by_position_and_by_column_name(store: Any) -> None:
    user_id = (await people(store, 1))[0]
    row = await store.fetchone("SELECT id, display_name FROM users WHERE id = ?", (user_id,))
    assert (row[0], row["display_name"]) == (user_id, "u0")
    assert dict(row) == {"id": user_id, "display_name": "u0"}
    assert await store.fetchval("SELECT SUM(id) FROM users") == user_id  # a sum is an int on both


async def test_contract_meta_values_are_shared_by_processes_and_the_last_write_wins(
    store: Any, second_store: Any
) -> None:
    assert await store.meta_value("discord.commands:1:global") is None
    await store.set_meta_value("discord.commands:1:global", b"first")
    await second_store.set_meta_value("discord.commands:1:global", b"second")
    assert await store.meta_value("discord.commands:1:global") == b"second"


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
    await store.tasks.record_answer(an_answer(round_id, space_id, other, task_id="t2"), RULES, NOW)
    query = ProgressQuery(space_id, user_id, (round_id,), (round_id,), ("t1",))
    result = await store.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW, follow_up=query)
    assert result.progress is not None
    assert result.progress == await store.tasks.progress(query)
    assert result.progress.done == {round_id: {"t1"}}
    assert result.progress.counts == {round_id: {"t1": 1, "t2": 1}}
    assert result.progress.profile == {"t1": "yes"}
    again = await store.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW, follow_up=query)
    assert (again.status, again.progress) == (AnswerStatus.ALREADY_ANSWERED, None)


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
    await store.rounds.close(Closing(round_id, None, "console", (), RULES), "cafe", NOW)
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


async def test_contract_redemption_is_atomic_and_never_overspends(store: Any, second_store: Any) -> None:
    (user_id,) = await people(store, 1)
    space_id = await store.members.ensure_space("console", "cafe", "Corner Café", False)
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
    request = replace(request, space_id=await store.members.ensure_space("console", "cafe", "Café", False))
    outcomes = await asyncio.gather(
        *((store if i % 2 else second_store).rewards.redeem(request, NOW) for i in range(6))
    )
    assert sum(o.status == RedeemStatus.REDEEMED for o in outcomes) == 1
    assert sum(o.status == RedeemStatus.ALREADY_REDEEMED for o in outcomes) == 5
    assert await store.points.balance(user_id) == 90
    assert await value(store, "SELECT stock FROM rewards WHERE id = 'mug'") == 4


async def test_contract_outbox_rows_are_claimed_exactly_once(store: Any, second_store: Any) -> None:
    for i in range(150):
        await store.write(
            lambda db, i=i: enqueue(db, platform="console", target=f"user:{i}", payload={"n": i}, now=NOW)
        )
    claimed: list[int] = []

    async def worker(name: str, queries: OutboxQueries) -> None:
        while rows := await queries.claim("console", name, 7, timedelta(minutes=5), NOW):
            claimed.extend(row.id for row in rows)
            for row in rows:
                await queries.sent(row.id, name, NOW)

    await asyncio.gather(*(worker(f"w{i}", (store if i % 2 else second_store).outbox) for i in range(8)))
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 150
    assert await store.outbox.pending("console") == 0


async def test_contract_an_expired_outbox_lease_is_claimed_again(store: Any) -> None:
    await store.write(lambda db: enqueue(db, platform="console", target="user:1", payload={}, now=NOW))
    outbox = store.outbox
    first = await outbox.claim("console", "dead", 10, timedelta(minutes=1), NOW)
    assert len(first) == 1
    assert await outbox.claim("console", "live", 10, timedelta(minutes=1), NOW) == []
    again = await outbox.claim("console", "live", 10, timedelta(minutes=1), NOW + timedelta(minutes=2))
    assert [(row.id, row.attempts) for row in again] == [(first[0].id, 2)]


async def test_contract_a_round_closes_once(store: Any, second_store: Any) -> None:
    _space_id, round_id = await a_round(store)
    closing = Closing(round_id, None, "console", (), RULES)
    closed = await asyncio.gather(
        *((store if i % 2 else second_store).rounds.close(closing, "cafe", NOW) for i in range(10))
    )
    assert closed.count(True) == 1
    assert await value(store, "SELECT COUNT(*) FROM outbox WHERE dedup_key = ?", f"round-results:{round_id}") == 1
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action = 'round_deadline'") == 1
    assert await store.rounds.close(closing, "cafe", NOW) is False


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
                closing = asyncio.ensure_future(
                    other_process.rounds.close(Closing(round_id, None, "console", (), RULES), "cafe", NOW)
                )
                await asyncio.sleep(0.3)
                assert not closing.done(), "the round closed under an answer in flight"
                holder.execute("COMMIT")
            finally:
                holder.raw.close()
            assert (await answering).status == AnswerStatus.RECORDED
            assert await closing
            late = await store.tasks.record_answer(an_answer(round_id, space_id, user_id, task_id="t2"), RULES, NOW)
            assert late.status == AnswerStatus.ROUND_CLOSED


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


async def test_contract_one_open_round_per_subject(store: Any, second_store: Any) -> None:
    space_id = await store.members.ensure_space("console", "cafe", "Corner Café", False)
    daily = NewRound(space_id, "tasks", "daily")
    opened = await asyncio.gather(*((store if i % 2 else second_store).rounds.open(daily, NOW) for i in range(10)))
    assert sum(created for _, created in opened) == 1
    assert len({round_id for round_id, _ in opened}) == 1


async def test_contract_round_winners_are_paid_once(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store, "ideas")
    author, voter = await people(store, 2)
    idea = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "Night shift"), round_id, IdeaStatus.NEW), RULES, NOW
    )
    await store.ideas.vote(idea.idea_id, voter, True, IdeaPoints(RULES, 0, 0, {}), NOW)
    closing = Closing(round_id, None, "console", (25,), RULES)
    await asyncio.gather(*((store if i % 2 else second_store).rounds.close(closing, "cafe", NOW) for i in range(6)))
    assert await store.points.balance(author) == 25
    standing = await store.points.standing(f"r{round_id}", author)
    assert standing is not None
    assert standing.points == 25


async def test_contract_the_engine_runs_on_the_store(url: str) -> None:
    """The real engine, end to end: members answer tasks; points, leaderboard and balances follow."""
    clock = FakeClock()
    async with running_engine(settings_for(url), clock) as engine:
        from bot.identity import SpaceRef, UserRef

        cafe = SpaceRef("console", "cafe", "Corner Café")
        members = [UserRef("console", f"m{i}", f"Member {i}", "en") for i in range(6)]
        answered = await asyncio.gather(*(answer_tasks(engine, member, cafe, 3) for member in members))
        assert all(count > 0 for count in answered)
        rows = await engine.services.store.fetchall("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM answers")
        assert tuple(rows[0]) == (sum(answered), len(members))
        top = await engine.services.store.points.top("all", 10)
        assert len(top) == len(members)
        for standing in top:
            assert standing.points == await engine.services.store.points.balance(standing.user_id)
        await assert_leaderboards_follow_the_ledger(engine.services.store)


# PostgreSQL only ------------------------------------------------------------------------------------


async def test_postgres_store_with_several_writer_connections_keeps_counts_exact(tmp_path: Path) -> None:
    """Six writer connections in one process: the quota, the daily cap and every count stay exact."""
    from bot.store.postgres import PostgresStore

    with storage_url("postgresql", tmp_path) as url:
        async with PostgresStore(url, writers=6) as store:
            space_id, round_id = await a_round(store)
            users = await people(store, 60)
            results = await asyncio.gather(
                *(store.tasks.record_answer(an_answer(round_id, space_id, u, quota=45), RULES, NOW) for u in users),
                *(
                    store.points.award(Award(users[0], None, None, 15, "x", "", f"cap:{i}", capped=True), RULES, NOW)
                    for i in range(12)
                ),
            )
            recorded = [r for r in results[:60] if r.status == AnswerStatus.RECORDED]
            assert len(recorded) == 45
            assert await value(store, "SELECT SUM(answers) FROM task_counts WHERE round_id = ?", round_id) == 45
            assert await value(store, "SELECT earned FROM daily_points WHERE user_id = ?", users[0]) == RULES.daily_cap
            await assert_leaderboards_follow_the_ledger(store)


async def test_postgres_store_reports_an_unreachable_server_as_unavailable() -> None:
    from bot.store.database import StoreUnavailableError
    from bot.store.postgres import PostgresStore

    store = PostgresStore("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailableError):
        await store.open()
