"""Proves the fake Discord's interactions against the real discord.py library (no mocks): slash commands
with typed options, buttons, selects, modals and autocomplete, answered once, in time, or deferred.
"""

from __future__ import annotations

import os

import discord
import pytest

from .discord.protocol import EPHEMERAL, LOADING
from .discord.records import NEVER_ACKNOWLEDGED
from .discord.server import FakeDiscordServer
from .discord_clients import (
    ALICE,
    APP_ID,
    BOT_ID,
    CHANNEL,
    GUILD,
    GUILD_COMMANDS,
    TOKEN,
    Bot,
    Mute,
    channel_of,
    connected,
)


async def test_client_connects_and_syncs_guild_commands(dc: FakeDiscordServer, bot: Bot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    assert guild.name == "Pulse HQ"
    assert guild.me.guild_permissions.send_messages
    assert channel_of(bot).name == "general"
    assert dc.identify_count == 1
    assert dc.intents == discord.Intents.default().value
    paths = [(c.method, c.path) for c in dc.calls]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert ("PUT", f"/applications/{APP_ID}/guilds/{GUILD}/commands") in paths
    assert {c["name"] for c in dc.commands(GUILD)} == GUILD_COMMANDS
    assert [c["name"] for c in dc.commands()] == ["whoami"]


async def test_slash_command_options_are_typed_from_the_synced_schema(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "hi", "times": 3})
    answer = await handle.response()
    assert answer["type"] == 4
    assert answer["data"]["content"] == "hi hi hi"
    assert handle.acked_within is not None
    assert handle.acked_within < 3
    assert [m["content"] for m in dc.channel_messages(CHANNEL)] == ["hi hi hi"]
    with pytest.raises(ValueError, match="required options missing"):
        await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"times": 2})


async def test_member_permissions_reach_the_interaction(dc: FakeDiscordServer, bot: Bot) -> None:
    await (await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "perm"})).response()
    interaction = bot.seen[-1]
    assert isinstance(interaction.user, discord.Member)
    assert interaction.permissions.manage_guild
    assert interaction.user.guild_permissions.manage_guild
    assert not interaction.user.guild_permissions.administrator
    assert interaction.app_permissions.send_messages


async def test_global_command_in_a_guild_and_in_a_dm(dc: FakeDiscordServer, bot: Bot) -> None:
    in_guild = await dc.slash(ALICE, GUILD, CHANNEL, "whoami")
    assert (await in_guild.response())["data"]["content"] == "alice in Pulse HQ"
    in_dm = await dc.slash(ALICE, None, None, "whoami")
    assert (await in_dm.response())["data"]["content"] == "alice in a DM"
    assert in_dm.original is not None
    assert dc.dm_messages(ALICE) == [in_dm.original]


async def test_button_reply_and_persistent_dynamic_item_click(dc: FakeDiscordServer, bot: Bot) -> None:
    poll = await dc.slash(ALICE, GUILD, CHANNEL, "poll")
    assert (await poll.response())["type"] == 4
    message = poll.original
    assert message is not None
    assert message["components"][0]["components"][1]["custom_id"] == "vote:2"

    click = await dc.click(ALICE, message, "vote:2")
    answer = await click.response()
    assert answer["type"] == 4
    assert answer["data"]["content"] == "voted 2"
    assert click.ephemeral
    assert not poll.ephemeral
    assert dc.channel_messages(CHANNEL) == [message]  # the ephemeral reply is hidden by default
    assert dc.channel_messages(CHANNEL, include_ephemeral=True)[-1]["flags"] & EPHEMERAL


async def test_second_response_is_refused_with_40060(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "once"})
    await handle.response()
    # A second worker answering the same interaction: discord.py's own guard cannot see it, Discord can.
    duplicate = discord.Interaction(data=handle.payload, state=bot._connection)  # type: ignore[arg-type]
    with pytest.raises(discord.HTTPException) as refused:
        await duplicate.response.send_message("twice")
    assert refused.value.status == 400
    assert refused.value.code == 40060
    assert refused.value.text == "Interaction has already been acknowledged."


async def test_late_response_is_unknown_interaction(dc: FakeDiscordServer, bot: Bot) -> None:
    dc.time_scale, bot.delay = 0.05, 0.3  # the 3 s window becomes 0.15 s
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "slow")
    failure = await dc.wait_for(lambda: bot.failures and bot.failures[0])
    assert isinstance(failure, discord.NotFound)
    assert failure.code == 10062
    assert handle.callback is None
    assert dc.errors[-1].code == 10062
    assert dc.unacknowledged == [handle]
    dc.expect_unacknowledged(handle)  # on purpose: the session's check (tests/conftest.py) lets it be
    assert dc.unacknowledged == []


async def test_an_interaction_left_unanswered_is_noted_for_the_session_check() -> None:
    """Unanswered within the window or by the end of the test, an interaction is noted as the fake closes;
    tests/conftest.py fails the session for each one noted."""
    before = len(NEVER_ACKNOWLEDGED)
    async with FakeDiscordServer(app_id=APP_ID, bot_user_id=BOT_ID, token=TOKEN) as dc:
        dc.guild(GUILD, "Pulse HQ", channels=[(CHANNEL, "general")])
        dc.member(GUILD, ALICE, "alice")
        client = Bot()
        async with connected(dc, client):
            message = await channel_of(client).send("a button whose callback answers nothing", view=Mute())
            ignored = await dc.click(ALICE, message.id, "mute")
            await (await dc.slash(ALICE, GUILD, CHANNEL, "echo", {"word": "hi"})).response()  # after the click
        assert dc.unacknowledged == [ignored]
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    try:
        assert NEVER_ACKNOWLEDGED[before:] == [f"{test}: {ignored!r}"]
    finally:
        del NEVER_ACKNOWLEDGED[before:]  # noted as it should be; the session goes on clean


async def test_deferred_reply_is_completed_by_the_first_followup(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.slash(ALICE, GUILD, CHANNEL, "think")
    assert (await handle.response())["type"] == 5
    await dc.wait_for(lambda: handle.followups)
    original = handle.original
    assert original is not None
    assert original["content"] == "done"
    assert not original["flags"] & LOADING
    assert [(m["content"], bool(m["flags"] & EPHEMERAL)) for m in handle.followups] == [("and more", True)]
    assert dc.attachment_bytes(handle.followups[0]) == {"x.txt": b"x"}  # multipart follow-up


async def test_modal_is_shown_and_submitted(dc: FakeDiscordServer, bot: Bot) -> None:
    shown = await dc.slash(ALICE, GUILD, CHANNEL, "feedback")
    modal = (await shown.response())["data"]
    assert modal["title"] == "Feedback"
    assert [c["type"] for c in modal["components"]] == [18, 18]

    submitted = await dc.submit_modal(ALICE, GUILD, CHANNEL, modal["custom_id"], {"idea": "tea", "mood": ["happy"]})
    answer = await submitted.response()
    assert answer["data"]["content"] == "idea=tea mood=['happy']"
    with pytest.raises(LookupError):  # a modal can be submitted once
        await dc.submit_modal(ALICE, GUILD, CHANNEL, modal["custom_id"], {"idea": "again"})


async def test_select_values_update_the_message(dc: FakeDiscordServer, bot: Bot) -> None:
    shown = await dc.slash(ALICE, GUILD, CHANNEL, "pick")
    await shown.response()
    assert shown.original is not None
    with pytest.raises(ValueError, match=r"takes 1\.\.2 values"):
        await dc.select(ALICE, shown.original, "pick", ["a", "b", "c"])

    picked = await dc.select(ALICE, shown.original, "pick", ["a", "c"])
    assert (await picked.response())["type"] == 7
    assert picked.original is shown.original
    assert shown.original["content"] == "picked a,c"
    assert shown.original["components"] == []


async def test_autocomplete_choices(dc: FakeDiscordServer, bot: Bot) -> None:
    handle = await dc.autocomplete(ALICE, GUILD, CHANNEL, "fruit", focused="name", options={"name": "ap"})
    answer = await handle.response()
    assert answer["type"] == 8
    assert [c["value"] for c in answer["data"]["choices"]] == ["apple", "apricot"]
