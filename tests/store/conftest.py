"""The store contract's databases and helpers: every invariant the engine relies on, held by SQLite and by
PostgreSQL alike (the ``tests/store/test_contract_*.py`` modules, one per feature).

Each contract test asks for ``url`` (or ``store``, ``second_store``) and so runs once per store
(``[sqlite]``, ``[postgresql]``) on a real database. The PostgreSQL runs need a server:
``CROWDPULSE_TEST_POSTGRES_URL=postgresql://user:password@host:5432/database`` (each test gets a fresh
schema in it, dropped afterwards); without it they are skipped, saying so. Concurrency here is real:
PostgreSQL runs units on several connections at once, and the "two processes" tests open two
independent stores on the same database. Other suites (the doctor, the demo, copying a store, the
Telegram adapter's webhooks) open their databases with the same helpers.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import make_store
from bot.settings import load_settings
from bot.store.records import Award, NewAnswer, NewRound, PointRules
from bot.store.scores import scopes
from tests.conftest import REPO

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
    """An empty database of each kind in turn: the one fixture that runs the contract on both stores."""
    with storage_url(request.param, tmp_path) as chosen:
        yield chosen


def settings_for(url: str, **overrides: Any) -> Any:
    """The built-in defaults (and ``overrides``) on the database at ``url``."""
    return load_settings(catalog_dir=REPO / "tasks_catalog", storage={"url": url}, **overrides)


@pytest.fixture
async def store(url: str) -> AsyncIterator[Any]:
    """The store on ``url``'s database, opened (migrated) and closed afterwards."""
    async with make_store(settings_for(url)) as opened:
        yield opened


@pytest.fixture
async def second_store(url: str, store: Any) -> AsyncIterator[Any]:
    """Another store on the same database, as another process would open it."""
    async with make_store(settings_for(url)) as opened:
        yield opened


# helpers --------------------------------------------------------------------------------------------


async def people(store: Any, count: int, prefix: str = "u") -> list[int]:
    """``count`` new console members; their user ids."""
    return [await store.members.ensure_user("console", f"{prefix}{i}", f"{prefix}{i}", "en", NOW) for i in range(count)]


async def a_round(store: Any, kind: str = "tasks") -> tuple[int, int]:
    """An open round of ``kind`` in the café; the café's and the round's ids."""
    space_id = (await store.members.ensure_space("console", "cafe", "Corner Café", False)).space_id
    round_id, _ = await store.rounds.open(NewRound(space_id, kind, f"{kind}-subject"), NOW)
    return space_id, round_id


def an_answer(round_id: int, space_id: int, user_id: int, task_id: str = "t1", quota: int | None = None) -> NewAnswer:
    """A member's "yes" to a task, worth 5 points under the daily cap."""
    award = Award(user_id, space_id, round_id, 5, "answer", task_id, "", capped=True)
    return NewAnswer(round_id, task_id, user_id, "yes", quota, award)


async def value(store: Any, sql: str, *parameters: Any) -> Any:
    """The first column of the first row (0 when there is none or it is NULL), for counts and sums."""
    return await store.fetchval(sql, parameters, 0)


async def assert_leaderboards_follow_the_ledger(store: Any) -> None:
    """Every leaderboard (every scope: everyone, space, week, round) holds exactly what the ledger earned
    each member there (spending aside), and the histogram counts exactly the members above zero per score.

    Computed afresh from the ledger's rows, so it holds whatever wrote them: answers in one group commit,
    awards, retractions, merges of linked accounts, redemptions.
    """
    expected: Counter[tuple[str, int]] = Counter()
    for user_id, space_id, round_id, week, delta, reason in await store.fetchall(
        "SELECT user_id, space_id, round_id, week, delta, reason FROM ledger"
    ):
        if reason == "redeem":
            continue
        for scope in scopes(space_id, round_id, week):
            expected[(scope, user_id)] += delta
    scores = {(row[0], row[1]): row[2] for row in await store.fetchall("SELECT scope, user_id, points FROM scores")}
    assert {key: points for key, points in scores.items() if points} == {k: v for k, v in expected.items() if v}
    histogram = {
        (row[0], row[1]): row[2]
        for row in await store.fetchall("SELECT scope, points, SUM(users) FROM score_counts GROUP BY scope, points")
        if row[2]
    }
    assert histogram == dict(Counter((scope, points) for (scope, _), points in scores.items() if points > 0))
