"""Fixtures of the adapter tests that are not already project-wide (tests/conftest.py).

Why here: every tests/adapters/test_discord_*.py module that plays members needs the deployment running
before its first step, and keeping that one fixture in one place keeps the suites from drifting apart.
"""

from __future__ import annotations

import pytest

from tests.adapters.harness import DiscordDeployment


@pytest.fixture
async def running(discord_bot: DiscordDeployment) -> DiscordDeployment:
    await discord_bot.start()
    return discord_bot
