"""The bot as a process of its own, aimed at a fake Telegram server: the crash tests SIGKILL it mid-send.

Run as ``python -m tests.reliability.telegram_process DB_PATH BASE_URL LATER_MINUTES``: ``run_telegram`` on
the SQLite file, polling the fake Bot API at ``BASE_URL``, until killed. ``LATER_MINUTES`` moves the
engine's clock forward: a restart that late finds the killed worker's outbox lease run out (the lease is
two minutes), as a real restart after that long would.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.telegram import run_telegram
from bot.app import running_engine
from bot.settings import Settings, load_settings
from tests.adapters.harness import TELEGRAM_TOKEN
from tests.conftest import REPO

EARLY_SUPPORTERS = 2
EARLY_SUPPORTER_BONUS = 20
LAUNCHED_BONUS = 100


def settings_for(db_path: Path, base_url: str = "") -> Settings:
    """The settings parent and child share: the file, the early supporters' share, the fake's address."""
    return load_settings(
        catalog_dir=REPO / "tasks_catalog",
        storage={"path": db_path},
        ideas={
            "early_supporters": EARLY_SUPPORTERS,
            "early_supporter_bonus": EARLY_SUPPORTER_BONUS,
            "launched_bonus": LAUNCHED_BONUS,
            "points_per_upvote": 0,
        },
        telegram={"token": TELEGRAM_TOKEN, "base_url": base_url, "poll_timeout": 1},
    )


async def main(db_path: Path, base_url: str, later: timedelta) -> None:
    settings = settings_for(db_path, base_url)
    async with running_engine(settings, lambda: datetime.now(UTC) + later) as engine:
        await run_telegram(engine, settings, asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], timedelta(minutes=float(sys.argv[3]))))
