"""Issue 19's acceptance: one process runs both adapters on one engine; a Telegram group and a Discord
server linked into one community share a round opened on Telegram, answered on both platforms and closed
from Discord, whose results are posted once in each space; a member who linked their Telegram and
Discord accounts is one person there: one answer per task, one line on the leaderboard, one balance."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import (
    ALICE,
    CAROL,
    CHANNEL,
    GUILD,
    JSON,
    MARA,
    DiscordDeployment,
    assert_discord_contract,
    count,
    custom_id,
    discord_deployment,
    next_question,
    running_telegram_bot,
    select_id,
    shown,
    tap,
    texts,
)
from tests.fakes.discord.server import FakeDiscordServer
from tests.fakes.telegram.server import FakeTelegramServer

OPENED = "SELECT id FROM rounds WHERE opened_by IS NOT NULL"  # a private chat's standing round is apart


async def shown_code(tg: FakeTelegramServer, chat_id: int, words: str, pattern: str) -> str:
    """The one-time code the bot showed in ``chat_id`` in the message that says ``words``."""
    await tg.wait_for(lambda: any(words in text for text in texts(tg, chat_id)))
    (message,) = [text for text in texts(tg, chat_id) if words in text]
    found = re.search(pattern, message)
    assert found is not None, message
    return found.group(1)


async def link_the_community(tg: FakeTelegramServer, dc: FakeDiscordServer, admin: JSON, group: JSON) -> None:
    """The group's admin shows a code (privately), the Discord server's moderator joins with it."""
    tg.send_text(admin, tg.private_chat(admin), "/start")
    tg.send_text(admin, group, "/community link")
    code = await shown_code(tg, admin["id"], "Linking code", r"join ([0-9A-Z]{8})")
    await shown(dc, await dc.slash(MARA, GUILD, CHANNEL, "community", {"code": code}, subcommand="join"), "Linked")


async def announced(tg: FakeTelegramServer, dc: FakeDiscordServer, group: JSON) -> JSON:
    """The new round's announcement, awaited in the Telegram group and returned from the Discord channel."""
    await tg.wait_for(lambda: any("New round" in text for text in texts(tg, group["id"])))
    return await dc.wait_for(
        lambda: next((m for m in dc.channel_messages(CHANNEL) if "New round" in m["content"]), None)
    )


async def closed_from_discord(tg: FakeTelegramServer, dc: FakeDiscordServer, group: JSON, *words: str) -> None:
    """Mara closes the round on Discord: one set of results, saying ``words``, in each space."""
    closed = await dc.slash(MARA, GUILD, CHANNEL, "round", subcommand="close")
    await shown(dc, closed, "is closed")
    await tg.wait_for(lambda: bool(tg.photos(group["id"])), timeout=10)
    in_discord = await dc.wait_for(
        lambda: [m["content"] for m in dc.channel_messages(CHANNEL) if "Results" in m["content"]] or None
    )
    in_telegram = [text for text in texts(tg, group["id"]) if "Results" in text]
    assert len(in_discord) == 1 and len(in_telegram) == 1
    for results in (in_discord[0], in_telegram[0]):
        assert all(word in results for word in words), results


async def test_a_round_opened_on_telegram_is_answered_on_both_and_closed_from_discord(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, dc: FakeDiscordServer, running: DiscordDeployment
) -> None:
    admin, member = tg.user(201, "Admin"), tg.user(202, "Member")
    group = tg.group(-1002, "Café regulars")
    tg.set_admins(group["id"], [201])
    async with running_telegram_bot(engine, settings, tg):
        await link_the_community(tg, dc, admin, group)
        listed = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "community", subcommand="show"), "Telegram")
        assert "Café regulars" in listed["content"] and "Corner Café" in listed["content"]

        tg.send_text(admin, group, "/round open coffee")
        announcement = await announced(tg, dc, group)
        tg.send_text(member, group, "/task")
        await tg.wait_until_consumed()
        await tap(tg, member, group["id"], "Espresso")
        question = await next_question(
            dc, await dc.click(ALICE, announcement, custom_id(announcement, "Start")), "What do you order"
        )
        await next_question(dc, await dc.click(ALICE, question, custom_id(question, "Latte")), "Pick up to two")
        assert await count(engine, f"SELECT COUNT(DISTINCT user_id) FROM answers WHERE round_id = ({OPENED})") == 2

        await closed_from_discord(tg, dc, group, "Espresso", "Latte", "2 participants")
        tg.send_text(admin, group, "/round close")
        await tg.wait_until_consumed()
        assert "No round is open here." in texts(tg, group["id"])[-1]  # closed once, from Discord
    assert await count(engine, "SELECT COUNT(*) FROM rounds WHERE opened_by IS NOT NULL") == 1
    assert await count(engine, "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%round_results%'") == 2
    assert_discord_contract(dc)


@contextlib.asynccontextmanager
async def both_platforms_with_global_commands(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, dc: FakeDiscordServer
) -> AsyncIterator[None]:
    """Both adapters on one engine, the slash commands synced to the café's server as the README runs it:
    ``/link`` alone is also global, so ``/link CODE`` can be typed in a direct message, in no server."""
    async with discord_deployment(engine, settings, dc) as deployment:
        await deployment.start()
        async with running_telegram_bot(engine, settings, tg):
            yield


async def test_a_member_linked_on_both_platforms_answers_once_and_has_one_balance(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, dc: FakeDiscordServer
) -> None:
    admin, member, ana = tg.user(201, "Admin"), tg.user(202, "Member"), tg.user(203, "Ana")
    group = tg.group(-1002, "Café regulars")
    tg.set_admins(group["id"], [201])
    async with both_platforms_with_global_commands(engine, settings, tg, dc):
        await link_the_community(tg, dc, admin, group)
        # Ana's Telegram account makes the code (it keeps the wallet), her Discord account ("alice") uses it
        tg.send_text(ana, tg.private_chat(ana), "/link")
        code = await shown_code(tg, ana["id"], "Your linking code", r"/link ([0-9A-Z]{8})")
        await shown(dc, await dc.slash(ALICE, None, None, "link", {"code": code}), "Confirm on your Telegram account")
        await tap(tg, ana, ana["id"], "Link")
        await tg.wait_for(lambda: any("Linked!" in text for text in texts(tg, ana["id"])))

        tg.send_text(admin, group, "/round open coffee")
        announcement = await announced(tg, dc, group)
        # Ana opens the first question on Discord, answers it on Telegram, then taps it on Discord too
        on_discord = await next_question(
            dc, await dc.click(ALICE, announcement, custom_id(announcement, "Start")), "What do you order"
        )
        tg.send_text(member, group, "/task")
        await tg.wait_until_consumed()
        await tap(tg, member, group["id"], "Espresso")
        await tap(tg, ana, group["id"], "Latte")  # the question the group was shown, tapped by Ana
        await shown(dc, await dc.click(ALICE, on_discord, custom_id(on_discord, "Tea")), "You already answered")
        on_discord = await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "task"), "Pick up to two")
        await next_question(dc, await dc.select(ALICE, on_discord, select_id(on_discord), ["0"]), "work from")
        carol = await next_question(
            dc, await dc.click(CAROL, announcement, custom_id(announcement, "Start")), "What do you order"
        )
        await next_question(dc, await dc.click(CAROL, carol, custom_id(carol, "Hot chocolate")), "Pick up to two")
        answers = await engine.services.store.fetchall(
            f"SELECT task_id, value, user_id FROM answers WHERE round_id = ({OPENED}) ORDER BY task_id, value"
        )
        ana_id = await count(engine, "SELECT id FROM users WHERE platform = 'telegram' AND platform_user_id = '203'")
        # Espresso, Latte, Hot chocolate (Ana's Tea refused); Ana's extras from Discord kept under her person
        assert [tuple(row[:2]) for row in answers] == [
            ("drink", "0"),
            ("drink", "1"),
            ("drink", "3"),
            ("extras", "[0]"),
        ]
        assert answers[1][2] == answers[3][2] == ana_id  # her Latte on Telegram, her extras on Discord

        await closed_from_discord(tg, dc, group, "Espresso", "Latte", "Hot chocolate", "3 participants")
        tg.send_text(ana, group, "/top")
        await tg.wait_until_consumed()
        on_telegram = texts(tg, group["id"])[-1]
        on_discord_top = (await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "top"), "Leaderboard"))["content"]
        tg.send_text(ana, tg.private_chat(ana), "/points")
        await tg.wait_until_consumed()
        points_on_discord = (await shown(dc, await dc.slash(ALICE, GUILD, CHANNEL, "points"), "points"))["content"]
    store = engine.services.store
    persons = await store.fetchall(
        "SELECT u.id, u.display_name FROM users u WHERE u.id NOT IN (SELECT account_id FROM account_links)"
    )
    balances = {name: await store.points.balance(person) for person, name in persons}
    assert "alice" not in balances, "Ana's Discord account is not a person of its own"
    assert sum(balances.values()) == await count(engine, "SELECT SUM(delta) FROM ledger")
    balance = balances["Ana"]
    for board in (on_telegram, on_discord_top):
        standings = {name: int(points) for name, points in re.findall(r"\d+\. (\w+): (\d+)", board)}
        assert standings.keys() == {"Ana", "Member", "carol"}, board  # Ana once, by her primary account's name
        assert standings == {name: balances[name] for name in standings}, board
        assert standings["Ana"] > standings["Member"]  # earned on both platforms, into one wallet
    for points in (texts(tg, ana["id"])[-1], points_on_discord):
        assert re.search(rf"You have \W*{balance}\W* points", points), points
    assert_discord_contract(dc)
