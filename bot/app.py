"""The composition root: settings → catalog → store → engine, with symmetric start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot import texts
from bot.catalog import load_catalog
from bot.context import Clock, utc_now
from bot.engine import Engine
from bot.settings import Settings
from bot.store.base import Store
from bot.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def make_store(settings: Settings) -> Store:
    """The store the settings name: a SQLite file by default, PostgreSQL for a ``postgresql://`` URL."""
    storage = settings.storage
    return store_for_url(storage.url or f"sqlite:///{storage.path}", settings)


def store_for_url(url: str, settings: Settings | None = None) -> Store:
    """A store for ``sqlite:///path/to/file.db`` or ``postgresql://user:password@host:port/database``.

    The tuning (SQLite's synchronous, busy timeout and batch size; PostgreSQL's writers) comes from
    ``settings`` when given.
    """
    storage = (settings or Settings()).storage
    if url.startswith(POSTGRES_SCHEMES):
        from bot.store.postgres import PostgresStore  # psycopg is loaded only when PostgreSQL is used

        return PostgresStore(url, writers=storage.writers)
    if not url.startswith("sqlite:///"):
        raise ValueError(
            f"unsupported storage URL {url!r}: use sqlite:///path/to/file.db or postgresql://user@host/database"
        )
    return SqliteStore(
        Path(url.removeprefix("sqlite:///")),
        synchronous=storage.synchronous,
        busy_timeout_ms=storage.busy_timeout_ms,
        max_batch=storage.max_batch,
    )


@asynccontextmanager
async def running_engine(settings: Settings, clock: Clock = utc_now) -> AsyncIterator[Engine]:
    """Load the catalog (refusing a bad one) and the sentences members read, open the store and yield a
    ready engine."""
    catalog = load_catalog(settings.catalog_location.path)
    texts.warm()  # the first member shown a count must not wait for Babel's data
    async with make_store(settings) as store:
        engine = await Engine.create(store, catalog, settings, clock)
        try:
            yield engine
        finally:
            await engine.themes.forget()  # its clusterings in the theme worker (shared by the process's engines)


YOUNG_COLLECTION_THRESHOLD = 10_000  # allocations between collections of the youngest generation


def settle_startup_heap() -> None:
    """Take what start-up built out of the cyclic collector's sight, once start-up is done.

    Modules, the catalog, the settings and the engine live as long as the process; left in the
    collector's generations, every full collection walks them again while members wait. Frozen, a
    collection scans only what requests create (``gc.freeze``: objects freed by reference counting are
    still freed). Measured with the answer benchmark, 1,000 members at once: 8-17 % more answers a
    second and a lower p99 for one member at a time (README, "Performance"). The bot calls it once;
    a test suite that builds hundreds of engines must not, or their cycles would never be collected.

    The youngest generation is then collected every :data:`YOUNG_COLLECTION_THRESHOLD` allocations
    instead of every 700 (CPython 3.11's default): an answer leaves some fifty containers for the
    collector to count, so at 700 it ran every 14 answers, and a full collection (several ms, every
    member in flight waiting) came every thousand answers or so: 15-30 µs of an answer's CPU in all (the
    answer benchmark, 100 members). At 10,000 the collector's share drops about tenfold and no full
    collection came in 4,000 answers; the garbage held meanwhile is a few megabytes at most.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


async def run_deadlines(engine: Engine, stop: asyncio.Event) -> None:
    """Close rounds whose deadline passed: at once (downtime), then every few seconds."""
    while not stop.is_set():
        try:
            await engine.rounds.close_due()
        except Exception:
            log.exception("deadline check failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), engine.services.settings.rounds.deadline_check_seconds)
