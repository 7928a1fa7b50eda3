"""``crowdpulse copy-store`` moves a community's whole history into an empty store, and proves it did.

A SQLite database filled by the real engine (answers, streaks, ideas merged into a later idea, votes,
a redemption with its code, outbox messages) is copied into PostgreSQL (and, without a server, into
another SQLite file); the command itself compares every table's count, the ledger total and every
member's balance, and the copy then works as a store: new rows take fresh ids, the leaderboard reads
the same.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from bot.app import running_engine, store_for_url
from bot.identity import SpaceRef, UserRef
from bot.store import copy, migrations
from bot.store.copy import TargetNotEmptyError, copy_store
from bot.store.records import (
    Award,
    ChangeOutcome,
    CodeLine,
    IdeaPoints,
    IdeaStatus,
    NewIdea,
    Proposal,
    RedeemRequest,
    RedeemStatus,
    StatusChange,
)
from tests.conftest import FakeClock
from tests.helpers import answer_tasks
from tests.store.conftest import settings_for, storage_url


async def crowdpulse(*argv: str) -> int:
    """The ``crowdpulse`` command, run as from a terminal (it starts its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with storage_url(request.param, tmp_path / "target") as url:
        yield url


async def a_busy_community(url: str) -> None:
    """Two days of a small community, through the real engine where it matters."""
    clock = FakeClock()
    async with running_engine(settings_for(url), clock) as engine:
        cafe = SpaceRef("console", "cafe", "Corner Café")
        members = [UserRef("console", f"m{i}", f"Member {i}", "en") for i in range(5)]
        for member in members:
            await answer_tasks(engine, member, cafe, 3)
        clock.advance(days=1)
        for member in members[:3]:
            await answer_tasks(engine, member, cafe, 2)  # streaks, a second day of daily points
        store = engine.services.store
        ideas = store.ideas
        ids = [await store.members.find_user("console", member.platform_user_id) for member in members]
        space_id = (await store.members.ensure_space("console", "cafe", "Corner Café", False)).space_id
        first = await ideas.add(
            NewIdea(Proposal(ids[0], space_id, "Oat milk"), None, IdeaStatus.NEW), engine.services.rules, clock()
        )
        later = await ideas.add(
            NewIdea(Proposal(ids[1], space_id, "Plant milks"), None, IdeaStatus.NEW), engine.services.rules, clock()
        )
        points = IdeaPoints(engine.services.rules, per_upvote=1, upvote_cap=10, bonuses={})
        for voter in ids[2:]:
            await ideas.vote(first.idea_id, voter, True, points, clock())
        change = StatusChange(first.idea_id, space_id, ids[1], IdeaStatus.MERGED, "status", merged_into=later.idea_id)
        merged = await ideas.change_status(change, points, clock())  # merged into a LATER idea
        assert merged.outcome == ChangeOutcome.CHANGED
        rewards = store.rewards
        await rewards.add_reward("coffee", "Coffee", 5, None, clock())
        await rewards.import_codes([CodeLine(1, "coffee", "C-1"), CodeLine(2, "coffee", "C-2")], clock())
        await store.points.award(
            Award(ids[0], space_id, None, 20, "bonus", "", "bonus:gift"), engine.services.rules, clock()
        )
        outcome = await rewards.redeem(
            RedeemRequest(ids[0], space_id, "coffee", "req:1", engine.services.rules), clock()
        )
        assert outcome.status == RedeemStatus.REDEEMED


async def test_copy_store_moves_everything_and_checks_counts_and_ledger_sums(
    tmp_path: Path, target_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    await a_busy_community(source_url)

    assert await crowdpulse("copy-store", "--from", source_url, "--to", target_url) == 0
    printed = capsys.readouterr().out
    assert "identical in source and target" in printed
    assert "answers: " in printed

    async with store_for_url(source_url) as source, store_for_url(target_url) as target:
        for sql in (
            "SELECT id, user_id, delta, reason, source_key FROM ledger ORDER BY id",
            "SELECT scope, user_id, points FROM scores ORDER BY scope, user_id",
            "SELECT id, status, merged_into, votes FROM ideas ORDER BY id",
            "SELECT code, redeemed_by FROM reward_codes ORDER BY id",
            "SELECT id, dedup_key FROM outbox ORDER BY id",
        ):
            assert [tuple(r) for r in await target.fetchall(sql)] == [tuple(r) for r in await source.fetchall(sql)]
        assert [s.points for s in await target.points.top("all", 10)] == [
            s.points for s in await source.points.top("all", 10)
        ]
        highest = await target.fetchval("SELECT MAX(id) FROM users")
        newcomer = await target.members.ensure_user("console", "newcomer", "New", "en", FakeClock()())
        assert newcomer > highest  # ids continue after the copied ones


async def test_copy_store_streams_in_small_batches_and_a_failure_half_way_leaves_the_target_empty(
    tmp_path: Path, target_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows pass between the two stores' threads a few batches at a time (memory stays bounded); the
    target is written in one transaction, so a copy stopped half-way leaves nothing behind."""
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    await a_busy_community(source_url)
    monkeypatch.setattr(copy, "BATCH", 3)
    monkeypatch.setattr(copy, "IN_FLIGHT", 2)
    start_table = copy._start_table

    def failing_at_ideas(db: Any, tables: list[str], table: str, columns: list[str]) -> tuple[str, list[int]]:
        if table == "ideas":
            raise copy.CopyMismatchError("stopped half-way on purpose")
        return start_table(db, tables, table, columns)

    async with store_for_url(source_url) as source, store_for_url(target_url) as target:
        monkeypatch.setattr(copy, "_start_table", failing_at_ideas)
        with pytest.raises(copy.CopyMismatchError, match="half-way"):
            await copy_store(source, target)
        assert await target.fetchval("SELECT COUNT(*) FROM users") == 0
        assert await target.fetchval("SELECT COUNT(*) FROM ledger") == 0
        monkeypatch.setattr(copy, "_start_table", start_table)
        report = await copy_store(source, target)
        assert report.rows["answers"] == await source.fetchval("SELECT COUNT(*) FROM answers") > copy.BATCH


async def test_copy_store_refuses_a_target_that_holds_data(tmp_path: Path, target_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    await a_busy_community(source_url)
    async with store_for_url(target_url) as target:
        await target.members.ensure_user("console", "someone", "Someone", "en", FakeClock()())
        before = await target.fetchval("SELECT COUNT(*) FROM users")
    async with store_for_url(source_url) as source, store_for_url(target_url) as target:
        with pytest.raises(TargetNotEmptyError):
            await copy_store(source, target)
        assert await target.fetchval("SELECT COUNT(*) FROM users") == before
    assert await crowdpulse("copy-store", "--from", source_url, "--to", target_url) == 1


def test_migrate_brings_an_empty_database_to_the_latest_version(
    target_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--url", target_url]) == 0
    latest = migrations.available()[-1][0]
    assert f"schema at version {latest}" in capsys.readouterr().out
    assert main(["migrate", "--url", target_url]) == 0  # a second run finds nothing to do
