"""Issue 19's acceptance: one process runs both adapters on one engine; a Telegram group and a Discord
server linked into one community share a round opened on Telegram, answered on both platforms and closed
from Discord, whose results are posted once in each space."""

from __future__ import annotations

import re

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import (
    ALICE,
    CHANNEL,
    GUILD,
    MARA,
    DiscordDeployment,
    assert_discord_contract,
    count,
    custom_id,
    next_question,
    running_telegram_bot,
    shown,
    tap,
    texts,
)
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer


async def test_a_round_opened_on_telegram_is_answered_on_both_and_closed_from_discord(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    admin, member = tg.user(201, "Admin"), tg.user(202, "Member")
    group, private = tg.group(-1002, "Café regulars"), tg.private_chat(admin)
    tg.set_admins(group["id"], [201])
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(admin, private, "/start")
        tg.send_text(admin, group, "/community link")
        await tg.wait_for(lambda: any("Linking code" in text for text in texts(tg, private["id"])))
        (shown_code,) = [text for text in texts(tg, private["id"]) if "Linking code" in text]
        code = re.search(r"join ([0-9A-Z]{8})", shown_code).group(1)  # type: ignore[union-attr]

        joined = await dc.slash(MARA, GUILD, CHANNEL, "community", {"code": code}, subcommand="join")
        await shown(dc, joined, "Linked")
        listed = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "community", subcommand="show"), "Telegram")
        assert "Café regulars" in listed["content"] and "Corner Café" in listed["content"]

        tg.send_text(admin, group, "/round open coffee")
        await tg.wait_for(lambda: any("New round" in text for text in texts(tg, group["id"])))
        announcement = await dc.wait_for(
            lambda: next((m for m in dc.channel_messages(CHANNEL) if "New round" in m["content"]), None)
        )
        tg.send_text(member, group, "/task")
        await tg.wait_until_consumed()
        await tap(tg, member, group["id"], "Espresso")
        question = await next_question(
            dc, await dc.click(ALICE, announcement, custom_id(announcement, "Start")), "What do you order"
        )
        await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Latte")), "Pick up to two")
        # one round (the admin's /start in private opened that chat's standing round, apart)
        opened = "SELECT id FROM rounds WHERE opened_by IS NOT NULL"
        assert await count(engine, f"SELECT COUNT(DISTINCT user_id) FROM answers WHERE round_id = ({opened})") == 2

        closed = await dc.slash(MARA, GUILD, CHANNEL, "round", subcommand="close")
        assert "is closed" in (await shown(dc, closed, "is closed"))["content"]
        await tg.wait_for(lambda: bool(tg.photos(group["id"])), timeout=10)
        in_discord = await dc.wait_for(
            lambda: [m for m in dc.channel_messages(CHANNEL) if "Results" in m["content"]] or None
        )
        in_telegram = [text for text in texts(tg, group["id"]) if "Results" in text]
        assert len(in_discord) == 1 and len(in_telegram) == 1
        for results in (in_discord[0]["content"], in_telegram[0]):
            assert "Espresso" in results and "Latte" in results and "2 participants" in results
        tg.send_text(admin, group, "/round close")
        await tg.wait_until_consumed()
        assert "No round is open here." in texts(tg, group["id"])[-1]  # closed once, from Discord
    assert await count(engine, "SELECT COUNT(*) FROM rounds WHERE opened_by IS NOT NULL") == 1
    assert await count(engine, "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%round_results%'") == 2
    assert_discord_contract(dc)
