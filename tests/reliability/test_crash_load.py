"""SIGKILL under a mixed load, restart, redelivery: nothing acknowledged is lost, nothing happens twice.

A subprocess (:mod:`tests.reliability.load_writer`) runs a scripted load through the engine and prints
each action the engine acknowledged. The test kills it at a seeded random line, starts a new engine on
the same file and delivers the whole plan once more, as a platform redelivers the updates it was not
sure the bot processed. Then it checks that every acknowledged action is there exactly once, that the
whole plan is now applied exactly once, that points, leaderboards, stock and codes add up, and that the
outbox delivers each of its messages exactly once.

Three seeds run by default; ``CROWDPULSE_TEST_CRASH_SEEDS=20`` runs twenty.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import running_engine
from bot.commands import dispatch
from bot.features.rewards import add_reward
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Reply
from bot.store.records import CodeLine
from tests.conftest import REPO
from tests.reliability.invariants import database_violations
from tests.reliability.load_writer import (
    IDEA_SPACES,
    MEMBERS,
    REWARDS,
    Action,
    perform,
    person,
    place,
    plan,
    settings_for,
    tasks_round,
)

SEEDS = range(1, 1 + int(os.environ.get("CROWDPULSE_TEST_CRASH_SEEDS", "3")))


async def prepare(db_path: Path) -> None:
    """The operator's part before the load: rewards, one of them with one-time codes."""
    async with running_engine(settings_for(db_path)) as engine:
        queries = engine.services.store.rewards
        for reward, (cost, codes) in REWARDS.items():
            await add_reward(queries, reward, reward.title(), cost, None)
            if codes:
                lines = [CodeLine(n, reward, f"{reward.upper()}-{n:03d}") for n in range(1, codes + 1)]
                await queries.import_codes(lines, datetime.now(UTC))


async def load_until_killed(db_path: Path, seed: int, kill_after: int) -> set[str]:
    """Run the load in a subprocess, SIGKILL it after ``kill_after`` acknowledgements; return them all."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.reliability.load_writer",
        str(db_path),
        str(seed),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < kill_after:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode().strip()
            assert line, "the load stopped before it was killed"
            if line == "idle":
                break
            acknowledged.append(line)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    acknowledged += (await process.stdout.read()).decode().splitlines()  # printed before the kill landed
    return {line for line in acknowledged if line and line != "idle"}


async def restart_and_redeliver(db_path: Path, seed: int) -> tuple[int, int, list[str]]:
    """A new engine on the same file gets the whole plan again, then drains the outbox.

    Returns (messages pending before the drain, messages sent, targets of a second drain). Every action
    is sent again, ``/round open`` included: its update key names the round it opened, so the same
    message after the round closed opens nothing new.
    """
    sent: list[str] = []

    async def record(target: str, reply: Reply) -> None:
        sent.append(target)

    async with running_engine(settings_for(db_path)) as engine:
        round_id = await tasks_round(engine)
        for action in plan(seed):
            await perform(engine, round_id, action)
        drainer = OutboxDrainer(engine, "console", record, Pacer(per_second=1e6))
        pending = await drainer.queries.pending("console")
        while await drainer.drain_once():
            pass
        delivered = len(sent)
        await drainer.drain_once()
        return pending, delivered, sent[delivered:]


def user_id(db: sqlite3.Connection, who: str) -> int:
    return int(db.execute("SELECT id FROM users WHERE platform_user_id = ?", (who,)).fetchone()[0])


def times_applied(db: sqlite3.Connection, action: Action) -> int:
    """How many times the database holds the effect of ``action`` (exactly 1 is the only right answer)."""
    if action.kind == "start":
        key = f"welcome:{user_id(db, action.who)}"
        return int(db.execute("SELECT COUNT(*) FROM ledger WHERE source_key = ?", (key,)).fetchone()[0])
    if action.kind == "answer":
        index = int(action.what.split(":")[0])
        task = TASK_IDS[index]
        return int(
            db.execute(
                "SELECT COUNT(*) FROM answers a JOIN rounds r ON r.id = a.round_id JOIN spaces s ON s.id = r.space_id"
                " WHERE s.external_id = 'load' AND a.user_id = ? AND a.task_id = ?",
                (user_id(db, action.who), task),
            ).fetchone()[0]
        )
    if action.kind == "idea":
        return int(
            db.execute(
                "SELECT COUNT(*) FROM processed_updates p JOIN ideas i ON i.id = CAST(p.result AS INTEGER)"
                " WHERE p.update_key = ? AND i.author_id = ?",
                (f"idea:{action.key}", user_id(db, action.who)),
            ).fetchone()[0]
        )
    if action.kind == "vote":
        return int(
            db.execute(
                "SELECT COUNT(*) FROM vote_events e JOIN processed_updates p ON CAST(p.result AS INTEGER) = e.idea_id"
                " WHERE p.update_key = ? AND e.user_id = ? AND e.kind = 'up'",
                (f"idea:{action.what}", user_id(db, action.who)),
            ).fetchone()[0]
        )
    if action.kind == "redeem":
        request = f"{user_id(db, action.who)}:{action.key}"
        return int(db.execute("SELECT COUNT(*) FROM redemptions WHERE request_key = ?", (request,)).fetchone()[0])
    status = "open" if action.kind == "open" else "closed"
    return int(
        db.execute(
            "SELECT COUNT(*) FROM rounds r JOIN spaces s ON s.id = r.space_id"
            " WHERE s.external_id = ? AND r.subject = 'winter-menu' AND (? = 'open' OR r.status = ?)",
            (action.where, status, status),
        ).fetchone()[0]
    )


TASK_IDS = ("drink", "tea-type", "extras", "wifi", "service", "recommend", "pastry")


def kill_point(seed: int) -> int:
    """After how many acknowledgements to kill: seeded, in the early, middle or late part of the load
    by turns (seeds 1, 2, 3 cover all three: just after the start, mid-load, around the rounds closing)."""
    low = 25 + (seed - 1) % 3 * 65
    return random.Random(seed).randint(low, low + 64)


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_crash_under_load_loses_no_acknowledged_action_and_redelivery_applies_nothing_twice(
    tmp_path: Path, seed: int
) -> None:
    db_path = tmp_path / "load.db"
    await prepare(db_path)
    actions = plan(seed)
    kill_after = kill_point(seed)
    acknowledged = await load_until_killed(db_path, seed, kill_after)
    by_line = {action.line: action for action in actions}
    assert acknowledged <= set(by_line), acknowledged - set(by_line)

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        lost = [line for line in sorted(acknowledged) if times_applied(db, by_line[line]) != 1]
        assert lost == [], "acknowledged before the crash, but not in the database exactly once"
        assert database_violations(db) == []

    pending, delivered, again = await restart_and_redeliver(db_path, seed)

    with sqlite3.connect(db_path) as db:
        assert database_violations(db) == []
        counts = Counter(times_applied(db, action) for action in actions)
        assert set(counts) <= {0, 1}, f"applied twice: {counts}"
        wrong = [
            action.line
            for action in actions
            if action.kind in ("start", "answer", "idea") and times_applied(db, action) != 1
        ]
        assert wrong == [], "after redelivery, every start, answer and idea is there exactly once"
        assert [a.line for a in actions if a.line in acknowledged and times_applied(db, a) != 1] == []
        for space in IDEA_SPACES:
            rounds = db.execute(
                "SELECT COUNT(*), SUM(r.status = 'closed') FROM rounds r JOIN spaces s ON s.id = r.space_id"
                " WHERE s.external_id = ? AND r.subject = 'winter-menu'",
                (space.external_id,),
            ).fetchone()
            assert tuple(rounds) == (1, 1), f"{space.external_id}: one round, opened and closed once"

        redeemed = dict(db.execute("SELECT reward_id, COUNT(*) FROM redemptions GROUP BY reward_id").fetchall())
        codes = REWARDS["mug"][1]
        stock = db.execute("SELECT stock FROM rewards WHERE id = 'mug'").fetchone()[0]
        assert stock + redeemed.get("mug", 0) == codes
        handed = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT code), COUNT(DISTINCT redemption_id) FROM reward_codes"
            " WHERE redeemed_by IS NOT NULL"
        ).fetchone()
        assert tuple(handed) == (redeemed.get("mug", 0),) * 3, "each code handed out once, one per redemption"

        duplicates = db.execute(
            "SELECT dedup_key FROM outbox WHERE dedup_key IS NOT NULL GROUP BY dedup_key HAVING COUNT(*) > 1"
        ).fetchall()
        assert duplicates == []
        unsent = db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
        total = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert (pending, delivered, unsent) == (total, total, 0), "every queued message sent once, none left"
    assert again == [], "a second drain sends nothing again"
    assert total == 2 * len(IDEA_SPACES), "an announcement and the results of each round"

    async with running_engine(settings_for(db_path)) as engine:
        with sqlite3.connect(db_path) as db:
            for member in MEMBERS:
                ledger = db.execute(
                    "SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE user_id = ?",
                    (user_id(db, member.platform_user_id),),
                ).fetchone()[0]
                assert await engine.points.balance(await engine.context(member, place("load"))) == ledger >= 0


async def test_a_redelivered_round_open_after_its_close_opens_nothing(tmp_path: Path) -> None:
    async with running_engine(settings_for(tmp_path / "rounds.db")) as engine:
        moderator, space = person("mod"), IDEA_SPACES[0]
        for text, key in (("/round open winter-menu", "u1"), ("/round close", "u2"), ("/round open winter-menu", "u1")):
            await dispatch(engine, moderator, space, text, key)
        rounds = await engine.services.store.fetchval("SELECT COUNT(*) FROM rounds", (), 0)
    assert rounds == 1
