"""Fixtures of the fake Discord's own tests: the fake with its guild, and a bare client connected to it.

Why here: every tests/fakes/test_fake_discord_*.py module needs the same fake world and client; they
override the project-wide ``dc`` (tests/conftest.py) with the ids the bare client syncs its commands for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from .discord.server import FakeDiscordServer
from .discord_clients import ALICE, APP_ID, BOB, BOT_ID, CHANNEL, GUILD, TOKEN, Bot, connected


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscordServer]:
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN) as server:
        server.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        server.member(GUILD, ALICE, "alice", permissions=discord.Permissions(manage_guild=True).value)
        server.user(BOB, "bob", dms_closed=True)
        yield server


@pytest.fixture
async def bot(dc: FakeDiscordServer) -> AsyncIterator[Bot]:
    """A connected client."""
    client = Bot()
    async with connected(dc, client):
        yield client
