"""The composition root: settings → catalog → store → engine, with symmetric start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.catalog import load_catalog
from bot.engine import Clock, Engine, utc_now
from bot.settings import Settings
from bot.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


def make_store(settings: Settings) -> SqliteStore:
    """The store the settings name (SQLite file by default)."""
    storage = settings.storage
    if storage.url and not storage.url.startswith("sqlite:///"):
        raise ValueError(f"unsupported storage URL {storage.url!r}: this version stores data in SQLite only")
    path = storage.url.removeprefix("sqlite:///") if storage.url else storage.path
    return SqliteStore(
        Path(path),
        synchronous=storage.synchronous,
        busy_timeout_ms=storage.busy_timeout_ms,
        max_batch=storage.max_batch,
    )


@asynccontextmanager
async def running_engine(settings: Settings, clock: Clock = utc_now) -> AsyncIterator[Engine]:
    """Load the catalog (refusing a bad one), open the store and yield a ready engine."""
    catalog = load_catalog(settings.catalog_dir)
    async with make_store(settings) as store:
        yield await Engine.create(store, catalog, settings, clock)


async def run_deadlines(engine: Engine, stop: asyncio.Event) -> None:
    """Close rounds whose deadline passed: at once (downtime), then every few seconds."""
    while not stop.is_set():
        try:
            await engine.rounds.close_due()
        except Exception:
            log.exception("deadline check failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), engine.settings.rounds.deadline_check_seconds)
