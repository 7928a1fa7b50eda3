"""What the flood tests of both platforms share: the flood, the ledger, the log's verdict.

A flood is judged alike on Telegram (``test_telegram_floods``) and Discord (``test_discord_floods``).
The engine's limiter runs on a clock that never moves (the ``stopped_clock_limits`` fixture), so the
whole flood falls into one instant of it and exactly ``FLOOD_BURST`` actions per member are let through
and one "slow down" is due, whatever the machine's speed; the ledger does not move; the log stays short
and holds no traceback.
"""

from __future__ import annotations

import logging

import pytest

from bot.engine import Engine
from tests.adapters.harness import count

FLOOD = 300
FLOOD_BURST = 4  # actions the engine lets through before it refuses (the default is 15: a longer drain)
SLOW_DOWN = "slow down"
LOG_LINES_PER_FLOOD = 100  # INFO and above, for 300 updates: a flood must not flood the log


async def ledger(engine: Engine) -> tuple[int, int]:
    """The ledger's rows and their sum: a flood of reads must change neither."""
    rows = await count(engine, "SELECT COUNT(*) FROM ledger")
    return rows, await count(engine, "SELECT COALESCE(SUM(delta), 0) FROM ledger")


def calm_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Assert the flood left a short log without a traceback; its warnings, for a closer look."""
    logged = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert len(logged) < LOG_LINES_PER_FLOOD, [record.getMessage() for record in logged]
    assert not [record for record in caplog.records if record.exc_info], "no traceback for a flood"
    return [record.getMessage() for record in logged if record.levelno == logging.WARNING]
