"""The store contract, the database itself: migrations, storage URLs, rows, shared meta values, the
engine end to end on each store, and PostgreSQL's own connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.app import make_store, running_engine
from bot.store import migrations
from bot.store.dialects import dialect
from bot.store.reads import for_reports
from bot.store.records import AnswerStatus, Award
from tests.conftest import FakeClock
from tests.helpers import answer_tasks
from tests.store.conftest import (
    NOW,
    RULES,
    a_round,
    an_answer,
    assert_leaderboards_follow_the_ledger,
    people,
    settings_for,
    storage_url,
    value,
)


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


async def test_contract_a_reports_long_read_holds_up_no_members_read(store: Any) -> None:
    """A dashboard aggregate over a large round keeps a reader busy; a member's quick read asked while it
    runs is answered before it ends (on one shared reader it waited for the aggregate), and reports' reads
    run side by side."""
    finished: list[str] = []
    long_read = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT COUNT(*) FROM n"
    )

    async def read(name: str, sql: str) -> Any:
        value = await store.fetchval(sql)
        finished.append(name)
        return value

    with for_reports():
        aggregate = asyncio.create_task(read("aggregate", long_read))
        await asyncio.sleep(0)  # the aggregate has taken its reader
        assert await read("report", "SELECT 2") == 2
    assert await read("member", "SELECT 1") == 1
    assert await aggregate == 3_000_000
    assert finished == ["report", "member", "aggregate"]


async def test_contract_meta_values_are_shared_by_processes_and_the_last_write_wins(
    store: Any, second_store: Any
) -> None:
    assert await store.meta_value("discord.commands:1:global") is None
    await store.set_meta_value("discord.commands:1:global", b"first")
    await second_store.set_meta_value("discord.commands:1:global", b"second")
    assert await store.meta_value("discord.commands:1:global") == b"second"


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


async def test_postgres_write_units_reusing_cursors_read_their_own_rows(tmp_path: Path) -> None:
    """Batched units send the same statement twice before reading either, batch after batch: each
    cursor, new or reused from an earlier unit, gives its own statement's row; a caller that gave up
    waiting leaves the others' results alone."""
    from bot.store.dialects import read_committed
    from bot.store.postgres import PostgresStore

    def unit(number: int) -> Any:
        def run(db: Any) -> tuple[int, int]:
            first = db.execute("SELECT CAST(? AS BIGINT) AS v", (number,))
            second = db.execute("SELECT CAST(? AS BIGINT) AS v", (-number,))
            return int(second.fetchone()["v"]), int(first.fetchone()[0])

        return read_committed(run)

    with storage_url("postgresql", tmp_path) as url:
        async with PostgresStore(url, writers=2) as store:
            for start in (0, 100):
                calls = [asyncio.ensure_future(store.write(unit(n))) for n in range(start, start + 100)]
                calls[7].cancel()
                results = await asyncio.gather(*calls, return_exceptions=True)
                assert isinstance(results[7], asyncio.CancelledError)
                expected = [(-n, n) for n in range(start, start + 100)]
                assert results[:7] + results[8:] == expected[:7] + expected[8:]
