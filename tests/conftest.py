"""Shared fixtures: a real engine on a real SQLite file in a temporary folder, people to play, and the fake
Telegram and Discord servers the adapters (and the fakes' own proofs) run against.

discord.py imports the standard library's deprecated ``audioop``; ``pyproject.toml``'s ``filterwarnings``
ignores that one warning (it applies while test modules are imported too), so no module needs its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.settings import SETTINGS_FILE_ENV, Settings, load_settings
from tests.adapters.harness import (
    ALICE,
    BOB,
    CAROL,
    DAN,
    GUILD,
    MANAGE_SERVER,
    MARA,
    MODERATOR_ROLE,
    TELEGRAM_TOKEN,
    DiscordDeployment,
    discord_deployment,
    fake_discord,
)
from tests.fakes.discord.records import NEVER_ACKNOWLEDGED
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer

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
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
hypothesis_settings.load_profile(PROFILE)

# pytest-timeout's limit per test follows the profile: pyproject's 120 s suits "ci", but the long
# profile's stateful fuzzer runs up to 500 sessions of 100 steps. Two long runs on 2 busy cores took 178 s
# and 277 s for the whole fuzzer (3.6 and 5.5 ms a step); the budget allows 20 ms a step: 1,000 s.
FUZZ_STEP_SECONDS = 0.02


def profile_timeout(profile: str, configured: float) -> float:
    """Seconds per test for ``profile``: ``configured`` (pyproject), or what the profile's longest
    stateful run may need when that is more."""
    chosen = hypothesis_settings.get_profile(profile)
    return max(configured, chosen.max_examples * chosen.stateful_step_count * FUZZ_STEP_SECONDS)


def _raised_timeout(config: pytest.Config) -> float | None:
    """The profile's timeout when it exceeds pyproject's and nobody chose one (``--timeout``,
    ``PYTEST_TIMEOUT``); else None."""
    configured = float(config.getini("timeout") or 0)
    if not configured or config.getoption("timeout") is not None or os.environ.get("PYTEST_TIMEOUT"):
        return None
    limit = profile_timeout(PROFILE, configured)
    return limit if limit > configured else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    limit = _raised_timeout(config)
    if limit is not None:
        for item in items:
            if item.get_closest_marker("timeout") is None:  # a test's own limit stays its own
                item.add_marker(pytest.mark.timeout(limit))


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    limit = _raised_timeout(config)
    return [f"hypothesis profile {PROFILE}: {limit:.0f} s per test (pytest-timeout)"] if limit else []


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
def _defaults_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the built-in defaults, not from whatever settings.toml the checkout holds."""
    for name in list(os.environ):
        if name.startswith("CROWDPULSE_") and name != "CROWDPULSE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv(SETTINGS_FILE_ENV, os.devnull)  # after the loop, which would forget it


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


# --- the fake platforms --------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _ptb_timedelta() -> Iterator[None]:
    """Durations as ``timedelta``, as the bot opts in when it starts (:func:`adapters.telegram.run_telegram`):
    otherwise python-telegram-bot 22 warns (an error here) whenever a ``RetryAfter`` is built, also in the
    fake's own tests and in tests that build the adapter without running it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PTB_TIMEDELTA", "true")
        yield


@pytest.fixture(scope="session", autouse=True)
def _every_discord_interaction_acknowledged() -> Iterator[None]:
    """No interaction of the whole session was left unanswered: on Discord its member would see "This
    interaction failed". Each fake Discord notes its own as it closes (:data:`NEVER_ACKNOWLEDGED`)."""
    yield
    assert NEVER_ACKNOWLEDGED == [], "interactions never acknowledged:\n" + "\n".join(NEVER_ACKNOWLEDGED)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TELEGRAM_TOKEN) as server:
        yield server


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscordServer]:
    """The fake Discord's "Corner Café" with its cast: a moderator by permission (Mara), one by role (Dan),
    members Alice and Carol, and Bob, whose direct messages are closed."""
    async with fake_discord() as server:
        server.role(GUILD, MODERATOR_ROLE, "CrowdPulse Moderator")
        server.member(GUILD, MARA, "mara", permissions=MANAGE_SERVER)
        server.member(GUILD, DAN, "dan", roles=[MODERATOR_ROLE])
        server.member(GUILD, ALICE, "alice")
        server.user(BOB, "bob", dms_closed=True)
        server.member(GUILD, BOB)
        server.member(GUILD, CAROL, "carol")
        yield server


@pytest.fixture
async def discord_bot(engine: Engine, settings: Settings, dc: FakeDiscordServer) -> AsyncIterator[DiscordDeployment]:
    """CrowdPulse connected to the fake, not yet started; discord.py's endpoints are restored afterwards."""
    async with discord_deployment(engine, settings, dc) as deployment:
        yield deployment
