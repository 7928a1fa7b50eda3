"""Shared fixtures: a real engine on a real SQLite file in a temporary folder, and people to play."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import SETTINGS_FILE_ENV, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent

# --- hypothesis profiles (tests/reliability) -----------------------------------------------------
# "ci" (the default) keeps the fuzzers quick; HYPOTHESIS_PROFILE=long explores far longer sessions.
# No deadline: a step may render a chart or wait on a group commit. Large fixed texts are on purpose.
_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
hypothesis_settings.register_profile(
    "ci", max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=_FUZZ_HEALTH
)
hypothesis_settings.register_profile(
    "long", max_examples=500, stateful_step_count=100, deadline=None, suppress_health_check=_FUZZ_HEALTH
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# --- end of hypothesis profiles ------------------------------------------------------------------


class FakeClock:
    """A clock the test moves by hand (day boundaries, deadlines)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def _defaults_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests start from the built-in defaults, not from whatever settings.toml the checkout holds."""
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(tmp_path / "no-settings.toml"))
    for name in list(os.environ):
        if name.startswith("CROWDPULSE_") and name != "CROWDPULSE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": tmp_path / "crowdpulse.db"})


@pytest.fixture
async def engine(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    async with running_engine(settings, clock) as ready:
        yield ready


@pytest.fixture
def person() -> Callable[..., UserRef]:
    def make(name: str = "Ana", language: str = "en", platform: str = "console") -> UserRef:
        return UserRef(platform, name.lower(), name, language)

    return make


@pytest.fixture
def cafe() -> SpaceRef:
    return SpaceRef("console", "cafe", "Corner Café")
