"""Fixtures of the reliability tests: the flood tests' limiter (see :mod:`tests.reliability.floods`)."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.ratelimit import RateLimiter
from tests.reliability.floods import FLOOD_BURST


@pytest.fixture
def stopped_clock_limits(engine: Engine) -> None:
    """The engine's per-member limiter with ``FLOOD_BURST`` tokens and a clock that never moves."""
    engine.interactions = RateLimiter(engine.services.settings.limits.per_second, FLOOD_BURST, clock=lambda: 0.0)
