"""The engine as the benchmarks run it: built-in settings only, the shipped catalog, a fresh SQLite file.

A developer's ``settings.toml`` or ``CROWDPULSE_*`` variables (a Postgres URL, a daily cap of 0, another
catalog) would change what is measured, so every benchmark process starts from the defaults.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from bot.app import running_engine, settle_startup_heap
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "tasks_catalog"
PLATFORM = "console"  # engine-level benchmarks act as console users: moderators come from the defaults
MODERATOR = "mod"


def isolate_environment() -> None:
    """Forget ``CROWDPULSE_*`` variables and point the settings file at nothing (children inherit it)."""
    for name in [name for name in os.environ if name.startswith("CROWDPULSE_")]:
        del os.environ[name]
    os.environ["CROWDPULSE_SETTINGS_FILE"] = os.devnull
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # python-telegram-bot's future behaviour, no warning


def bench_settings(database: Path | None, **overrides: Any) -> Settings:
    """Default settings on the SQLite file ``database`` (or the ``storage`` override's URL); ``overrides``
    as for :func:`bot.settings.load_settings`."""
    storage = ({"path": database} if database else {}) | overrides.pop("storage", {})
    return load_settings(catalog_dir=CATALOG, storage=storage, **overrides)


@asynccontextmanager
async def engine_on(database: Path, **overrides: Any) -> AsyncIterator[Engine]:
    """A running engine (store open, writer started) on ``database``, closed on exit."""
    async with running_engine(bench_settings(database, **overrides)) as engine:
        settle_startup_heap()  # as `crowdpulse run` does once start-up is done
        yield engine


def person(number: int, prefix: str = "u") -> UserRef:
    """A console member; callers keep numbers unique within a run, so each one is new to the engine."""
    return UserRef(PLATFORM, f"{prefix}{number}", f"Member {number}", "en")


def moderator() -> UserRef:
    return UserRef(PLATFORM, MODERATOR, "Moderator", "en")


def space(name: str) -> SpaceRef:
    return SpaceRef(PLATFORM, name, name.title(), False)


@contextmanager
def replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner.name`` is ``value`` inside the block (a benchmark's instrument), restored on the way out."""
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)
