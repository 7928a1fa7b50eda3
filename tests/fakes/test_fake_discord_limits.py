"""Proves the fake Discord's limits against the real discord.py library (no mocks): payload and component
limits, command schemas, closed DMs, attachments, injected faults and a channel's own flood limits.
"""

from __future__ import annotations

import io

import discord
import pytest
from discord.http import MultipartParameters

from .discord.limits import FloodLimits
from .discord.server import FakeDiscordServer
from .discord_clients import (
    ALICE,
    APP_ID,
    BOB,
    BOT_ID,
    CHANNEL,
    GUILD,
    GUILD_COMMANDS,
    TOKEN,
    Bot,
    channel_of,
    connected,
)


async def test_payload_limits_raise_http_exception(dc: FakeDiscordServer, bot: Bot) -> None:
    channel = channel_of(bot)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400
    assert too_long.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in too_long.value.text
    with pytest.raises(discord.HTTPException, match=r"embeds\.0\.description"):
        await channel.send(embed=discord.Embed(description="y" * 4097))
    assert dc.channel_messages(CHANNEL) == []


async def test_component_limits_are_enforced(dc: FakeDiscordServer, bot: Bot) -> None:
    """discord.py's View refuses most layouts client-side; a raw payload reaches the server checks."""
    select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}
    crowded = {"type": 1, "components": [select, {"type": 2, "style": 1, "label": "b", "custom_id": "b"}]}
    long_id = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "x" * 101}]}
    payload = {"content": "c", "components": [crowded, long_id]}
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.send_message(CHANNEL, params=MultipartParameters(payload, None, None))
    assert "In components.0.components: The specified component exceeds the maximum width" in refused.value.text
    assert "In components.1.components.0.custom_id: Must be between 1 and 100" in refused.value.text


async def test_command_schema_is_validated(dc: FakeDiscordServer, bot: Bot) -> None:
    commands = [
        {"name": "Bad Name", "description": "x", "type": 1},
        {"name": "ok", "description": "", "type": 1},
    ]
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.bulk_upsert_guild_commands(APP_ID, GUILD, commands)
    assert refused.value.code == 50035
    assert "In 0.name: Command name is invalid" in refused.value.text
    assert "In 1.description: Must be between 1 and 100 in length." in refused.value.text
    assert {c["name"] for c in dc.commands(GUILD)} == GUILD_COMMANDS  # the previous sync is untouched


async def test_attachments_are_stored(dc: FakeDiscordServer, bot: Bot) -> None:
    message = await channel_of(bot).send("report", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "report.csv"))
    assert message.attachments[0].filename == "report.csv"
    assert dc.attachment_bytes(message.id) == {"report.csv": b"a,b\n1,2\n"}
    assert await message.attachments[0].read() == b"a,b\n1,2\n"
    reply = await dc.slash(ALICE, GUILD, CHANNEL, "report")  # multipart interaction callback
    assert (await reply.response())["data"]["attachments"] == [{"id": 0, "filename": "r.csv"}]
    assert reply.original is not None
    assert dc.attachment_bytes(reply.original) == {"r.csv": b"1,2"}


async def test_files_arrive_as_sent_whatever_their_names_and_bytes(dc: FakeDiscordServer, bot: Bot) -> None:
    """The form is read as discord.py writes it: names quoted with escapes, any bytes, files in order."""
    odd, data = 'we"ird\\ näme.csv', b'--\r\n"\\\x00\xff\r\n'
    files = [discord.File(io.BytesIO(data), odd), discord.File(io.BytesIO(b""), "empty.txt")]
    message = await channel_of(bot).send("two", files=files)
    assert [attachment.filename for attachment in message.attachments] == [odd, "empty.txt"]
    assert dc.attachment_bytes(message.id) == {odd: data, "empty.txt": b""}


async def test_dm_to_user_with_closed_dms_is_forbidden(dc: FakeDiscordServer, bot: Bot) -> None:
    bob = await bot.fetch_user(BOB)
    with pytest.raises(discord.Forbidden) as refused:
        await bob.send("hello")
    assert refused.value.code == 50007
    alice = await bot.fetch_user(ALICE)
    await alice.send("hello alice")
    assert [m["content"] for m in dc.dm_messages(ALICE)] == ["hello alice"]


async def test_injected_429_is_retried_transparently(dc: FakeDiscordServer, bot: Bot) -> None:
    dc.fail_next("POST", rf"/channels/{CHANNEL}/messages", status=429, retry_after=0.05)
    message = await channel_of(bot).send("after a rate limit")
    assert message.content == "after a rate limit"
    posts = [c for c in dc.calls if c.method == "POST" and c.path == f"/channels/{CHANNEL}/messages"]
    assert len(posts) == 2
    assert [(e.status, e.injected) for e in dc.errors] == [(429, True)]


async def test_a_channels_own_limits_give_shared_429s_that_discord_py_waits_out() -> None:
    """Beyond a channel's messages (or follow-ups) per window, a 429 scoped ``shared``; discord.py waits
    and sends again, so every message arrives, the refused one after the window."""
    limits = FloodLimits(channel_messages=(2, 0.2), channel_followups=(1, 0.2))
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN, flood_limits=limits) as server:
        server.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        server.member(GUILD, ALICE, "alice")
        client = Bot()
        async with connected(server, client):
            for word in ("one", "two", "three"):
                await channel_of(client).send(word)
            handle = await server.slash(ALICE, GUILD, CHANNEL, "think")  # a deferral, then two follow-ups
            await server.wait_for(lambda: handle.followups)
    assert [m["content"] for m in server.channel_messages(CHANNEL)][:3] == ["one", "two", "three"]
    assert [m["content"] for m in [handle.original, *handle.followups] if m] == ["done", "and more"]
    assert [(e.path.split("/")[1], e.channel_id) for e in server.flood_errors] == [
        ("channels", CHANNEL),
        ("webhooks", CHANNEL),
    ]
    refused = [e for e in server.errors if e.status == 429]
    assert len(refused) == 2 and not any(e.injected for e in refused)
