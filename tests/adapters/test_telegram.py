"""The Telegram adapter end to end: python-telegram-bot, unmodified, against the fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.telegram import TelegramAdapter
from bot.app import running_engine
from bot.engine import Engine
from bot.features.rewards import add_reward, import_codes
from bot.replies import Image, Reply, escape
from bot.settings import Settings
from tests.adapters.harness import (
    JSON,
    TELEGRAM_TOKEN,
    aim_at_fake_telegram,
    count,
    data_of,
    last_with_buttons,
    running_telegram_bot,
    tap,
    texts,
    wait_for_question,
)
from tests.conftest import REPO
from tests.fakes.telegram.server import FakeTelegramServer
from tests.store.conftest import settings_for, storage_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until_listening(port: int) -> None:
    """PTB registers the webhook while its web server is still starting: wait until it accepts."""
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listens on port {port}")


@pytest.fixture
async def bot(engine: Engine, settings: Settings, tg: FakeTelegramServer) -> AsyncIterator[None]:
    async with running_telegram_bot(engine, settings, tg):
        yield


async def test_a_member_taps_through_the_whole_campaign_in_a_private_chat(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(101, "Ana", language_code="en")
    chat = tg.private_chat(ana)
    tg.send_text(ana, chat, "/start")
    await tg.wait_until_consumed()
    assert any("Welcome bonus" in text for text in texts(tg, chat["id"]))
    await tap(tg, ana, chat["id"], "Tea")
    assert any("Which tea" in text for text in texts(tg, chat["id"]))
    question = tg.messages(chat["id"])[-2]
    assert "Recorded: Tea" in question["text"] and not question.get("reply_markup", {}).get("inline_keyboard")
    await tap(tg, ana, chat["id"], "Herbal")
    await tap(tg, ana, chat["id"], "Oat milk")
    toggled = last_with_buttons(tg, chat["id"])
    assert "☑ Oat milk" in data_labels(toggled)
    await tap(tg, ana, chat["id"], "Extra shot")
    await tap(tg, ana, chat["id"], "Submit (2)")
    await tap(tg, ana, chat["id"], "Other")
    prompt = tg.messages(chat["id"])[-1]
    tg.send_text(ana, chat, "Only on rainy Fridays", reply_to_message_id=prompt["message_id"])
    await tg.wait_until_consumed()
    await tap(tg, ana, chat["id"], "5★")
    await tap(tg, ana, chat["id"], "9")
    assert tg.photos(chat["id"]), "the label-this-image task arrives as a photo"
    await tap(tg, ana, chat["id"], "Croissant")
    tg.send_text(ana, chat, "Please <b>more</b> seats & plugs")
    await tg.wait_until_consumed()
    assert any("all caught up" in text for text in texts(tg, chat["id"]))
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 8
    assert await count(engine, "SELECT COUNT(*) FROM answers WHERE value LIKE '%<b>more</b> seats & plugs%'") == 1
    assert len(tg.callback_answers) == 9, "every tap is answered once, so no spinner is left turning"


async def test_in_a_burst_of_taps_no_follow_up_goes_before_the_answers_of_earlier_taps(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    """Telegram gives up on a callback answer after a few seconds: each tap's edited question and next
    question wait for the answers of the taps before it, which would otherwise queue behind them."""
    members = [tg.user(1300 + n, f"Member {n}") for n in range(20)]
    questions = []
    for member in members:
        chat = tg.private_chat(member)
        tg.send_text(member, chat, "/task")
        await tg.wait_until_consumed()
        questions.append((member, await wait_for_question(tg, chat["id"])))
    first_tap = len(tg.calls)
    for member, question in questions:
        tg.click(member, question, data_of(question, "Latte"))
    await tg.wait_for(lambda: len(tg.messages(questions[-1][1]["chat"]["id"])) == 2)
    await tg.wait_until_consumed()
    calls = [call for call in tg.calls[first_tap:] if call.method != "getUpdates"]
    tapped = {member["id"]: number for number, (member, _) in enumerate(questions)}
    queries = sorted(int(c.params["callback_query_id"]) for c in calls if c.method == "answerCallbackQuery")
    answered = {  # tap number (query ids rise in the order of the taps) -> position of its answer
        queries.index(int(call.params["callback_query_id"])): position
        for position, call in enumerate(calls)
        if call.method == "answerCallbackQuery"
    }
    follow_ups = [(p, c) for p, c in enumerate(calls) if c.method in ("editMessageText", "sendMessage")]
    assert len(answered) == 20 and len(follow_ups) == 40
    for position, call in follow_ups:
        assert all(answered[earlier] < position for earlier in range(tapped[int(call.params["chat_id"])]))
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 20


def data_labels(message: JSON) -> str:
    return " ".join(button["text"] for row in message["reply_markup"]["inline_keyboard"] for button in row)


async def test_forged_callback_data_is_refused_and_records_nothing(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(102, "Ana")
    chat = tg.private_chat(ana)
    tg.send_text(ana, chat, "/task")
    await tg.wait_until_consumed()
    question = last_with_buttons(tg, chat["id"])
    genuine = data_of(question, "Latte")
    forged = genuine.rsplit(".", 1)[0] + ".AAAAAAAA"
    question["reply_markup"]["inline_keyboard"][0][0]["callback_data"] = forged
    tg.chat_messages[chat["id"]][question["message_id"]]["reply_markup"] = question["reply_markup"]  # a tampered client
    tg.click(ana, question, forged)
    await tg.wait_until_consumed()
    answer = tg.callback_answers[-1]
    assert answer.show_alert and "expired" in (answer.text or "")
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 0


async def test_a_double_tap_records_one_answer(engine: Engine, tg: FakeTelegramServer, bot: None) -> None:
    ana = tg.user(103, "Ana")
    group = tg.group(-1001, "Café regulars")
    tg.send_text(ana, group, "/task")
    await tg.wait_until_consumed()
    question = last_with_buttons(tg, group["id"])
    tg.click(ana, question, data_of(question, "Latte"))
    tg.click(ana, question, data_of(question, "Latte"))
    await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    assert await count(engine, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 1
    toasts = sorted(answer.text or "" for answer in tg.callback_answers)
    assert toasts[0].startswith("You already answered") and toasts[1] == "✅ Latte, +5"


async def test_only_chat_admins_close_rounds_and_results_arrive_as_text_and_chart(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    admin, member = tg.user(201, "Admin"), tg.user(202, "Member")
    group = tg.group(-1002, "Café regulars")
    tg.set_admins(group["id"], [201])
    tg.send_text(admin, group, "/round open coffee")
    await tg.wait_for(lambda: any("New round" in text for text in texts(tg, group["id"])))
    tg.send_text(member, group, "/task")
    await tg.wait_until_consumed()
    await tap(tg, member, group["id"], "Espresso")
    tg.send_text(member, group, "/round close")
    await tg.wait_until_consumed()
    assert any("Only moderators" in text for text in texts(tg, group["id"]))
    assert (await engine.services.store.rounds.round(1)).is_open  # type: ignore[union-attr]
    tg.send_text(admin, group, "/round close")
    await tg.wait_for(lambda: bool(tg.photos(group["id"])), timeout=10)
    results = [text for text in texts(tg, group["id"]) if "Results" in text]
    assert results and "Espresso" in results[-1]
    assert tg.photos(group["id"])[-1].data.startswith(b"\x89PNG")  # type: ignore[union-attr]


async def test_an_anonymous_admin_is_recognised_for_its_own_group_only(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    group = tg.group(-1003, "Café regulars")
    tg.send_text_as_anonymous_admin(group, "/round open coffee")
    await tg.wait_until_consumed()
    assert any("is open" in text for text in texts(tg, group["id"]))


async def test_flood_429_is_waited_out_and_the_reply_still_arrives(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(104, "Ana")
    chat = tg.private_chat(ana)
    tg.fail_next("sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1)
    tg.send_text(ana, chat, "/help")
    await tg.wait_for(lambda: any("What you can do" in text for text in texts(tg, chat["id"])), timeout=10)
    assert [error.error_code for error in tg.errors].count(429) == 1


async def test_a_redelivered_update_after_a_restart_is_processed_once(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    ana = tg.user(105, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(ana, chat, "/task")
        await tg.wait_until_consumed()
        question = last_with_buttons(tg, chat["id"])
        update = tg.click(ana, question, data_of(question, "Latte"))
        await tg.wait_until_consumed()
    tg.redeliver(update)
    async with running_telegram_bot(engine, settings, tg):
        await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 1
    assert await count(engine, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 1


async def test_commands_are_registered_with_moderator_commands_for_admins_only(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    registered = tg.calls_to("setMyCommands")
    default = next(
        call for call in registered if call.get("scope", {}).get("type") == "default" and not call.get("language_code")
    )
    admins = next(
        call
        for call in registered
        if call.get("scope", {}).get("type") == "all_chat_administrators" and not call.get("language_code")
    )
    names = {command["command"] for command in default["commands"]}
    assert {"start", "task", "points", "top"} <= names and "round" not in names
    assert "round" in {command["command"] for command in admins["commands"]}
    assert any(call.get("language_code") == "ro" for call in registered)


async def test_webhook_mode_serves_updates_and_rejects_a_wrong_secret(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    port = free_port()
    settings.telegram.mode = "webhook"
    settings.telegram.webhook_listen = "127.0.0.1"
    settings.telegram.webhook_port = port
    settings.telegram.webhook_url = f"http://127.0.0.1:{port}/telegram"
    settings.telegram.webhook_secret = SecretStr("s3cret-webhook-token")
    ana = tg.user(106, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        await until_listening(port)
        assert tg.calls_to("setWebhook")[-1]["secret_token"] == "s3cret-webhook-token"
        update = tg.send_text(ana, chat, "/help")
        assert await tg.push_webhook(update, secret_token="forged") == 403
        assert await tg.push_webhook(update, secret_token=None) == 403
        assert not any("What you can do" in text for text in texts(tg, chat["id"]))
        assert await tg.push_webhook(update) == 200
        await tg.wait_for(lambda: any("What you can do" in text for text in texts(tg, chat["id"])))


async def test_an_idea_meets_its_near_duplicate_and_fifty_members_vote_once_each(
    engine: Engine, tg: FakeTelegramServer, bot: None
) -> None:
    group = tg.group(-1004, "Café regulars")
    author, latecomer = tg.user(301, "Ana"), tg.user(302, "Dev")
    tg.send_text(author, group, "/idea More power outlets for laptops near the window")
    await tg.wait_until_consumed()
    tg.send_text(latecomer, group, "/idea Please add more power sockets for laptops by the windows")
    await tg.wait_until_consumed()
    prompt = last_with_buttons(tg, latecomer["id"])  # the suggestion is for Dev alone: a private message
    assert "Similar ideas already exist" in prompt["text"]
    tg.click(latecomer, prompt, data_of(prompt, "#1"))
    await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM ideas") == 1
    tg.send_text(author, group, "/idea 1")
    await tg.wait_until_consumed()
    page = last_with_buttons(tg, group["id"])
    upvote = data_of(page, "Upvote")
    voters = [tg.user(400 + number, f"Voter{number}") for number in range(50)]
    for voter in voters:
        tg.click(voter, page, upvote)
    tg.click(voters[0], page, upvote)  # a double tap
    await tg.wait_until_consumed(timeout=20)
    await tg.wait_for(lambda: len(tg.callback_answers) >= 52, timeout=20)
    assert await count(engine, "SELECT votes FROM ideas WHERE id = 1") == 51  # 50 voters and Dev
    assert await count(engine, "SELECT COUNT(*) FROM votes WHERE idea_id = 1") == 51
    assert len(tg.callback_answers) == 52, "every tap got its toast"


async def test_a_redeemed_code_goes_by_private_message_never_to_the_group(
    engine: Engine, tg: FakeTelegramServer, bot: None, tmp_path: Path
) -> None:
    await add_reward(engine.rewards.queries, "coffee", "Free coffee", 5, None)
    codes = tmp_path / "codes.csv"
    codes.write_text("reward_id,code\ncoffee,CAFE-TG-1\ncoffee,CAFE-TG-2\n", encoding="utf-8")
    await import_codes(engine.rewards.queries, codes)
    group = tg.group(-1005, "Café regulars")
    ana = tg.user(501, "Ana")
    shy = tg.user(502, "Shy", started=False)
    for member in (ana, shy):
        tg.send_text(member, group, "/task")
        await tg.wait_until_consumed()
        await tap(tg, member, group["id"], "Espresso")
    tg.send_text(shy, group, "/redeem coffee")
    await tg.wait_until_consumed()
    assert any("can't write to you first" in text for text in texts(tg, group["id"]))
    tg.send_text(shy, tg.private_chat(shy), "/start")
    await tg.wait_until_consumed()
    tg.send_text(shy, tg.private_chat(shy), "/me")
    await tg.wait_until_consumed()
    assert any("CAFE-TG-1" in text for text in texts(tg, shy["id"])), "the undelivered code waits in /me"
    tg.send_text(ana, group, "/redeem coffee")
    await tg.wait_until_consumed()
    assert any("CAFE-TG-2" in text for text in texts(tg, ana["id"]))
    assert not any("CAFE-TG" in text for text in texts(tg, group["id"]))
    assert any("sent you a private message" in text for text in texts(tg, group["id"]))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_two_webhook_workers_on_one_database_process_an_update_the_balancer_retried_once(
    kind: str, tmp_path: Path, tg: FakeTelegramServer
) -> None:
    """Behind a load balancer any worker may get any update, and a retry may go to the other one:
    the shared database, not either process, makes each effect happen once."""
    ana = tg.user(311, "Ana")
    chat = tg.private_chat(ana)
    ports = [free_port(), free_port()]
    workers = [f"http://127.0.0.1:{port}/telegram" for port in ports]
    with storage_url(kind, tmp_path) as url:
        async with running_engine(settings_for(url)) as first, running_engine(settings_for(url)) as second:
            for engine, port in zip((first, second), ports, strict=True):
                webhook = engine.services.settings.telegram
                webhook.mode, webhook.webhook_listen, webhook.webhook_port = "webhook", "127.0.0.1", port
                webhook.webhook_url = workers[0]  # the balancer's address; each worker listens on its own port
                webhook.webhook_secret = SecretStr("shared-webhook-secret")
            async with (
                running_telegram_bot(first, first.services.settings, tg),
                running_telegram_bot(second, second.services.settings, tg),
            ):
                for port in ports:
                    await until_listening(port)
                assert await tg.push_webhook(tg.send_text(ana, chat, "/task"), url=workers[1]) == 200
                await tg.wait_for(lambda: any(m.get("reply_markup") for m in tg.messages(chat["id"])))
                question = last_with_buttons(tg, chat["id"])
                tapped = tg.click(ana, question, data_of(question, "Latte"))
                idea = tg.send_text(ana, chat, "/idea Board games on Thursday nights")
                pushes = [tg.push_webhook(update, url=worker) for update in (tapped, idea) for worker in workers]
                assert await asyncio.gather(*pushes) == [200, 200, 200, 200]
                # Both workers tell Ana the idea's number (one saved it, the other found it saved); on
                # PostgreSQL the losing insert may have spent a sequence value, so the number is not always 1.
                await tg.wait_for(lambda: len(re.findall(r"saved as #\d+", "\n".join(texts(tg, chat["id"])))) == 2)
                assert len(set(re.findall(r"saved as #(\d+)", "\n".join(texts(tg, chat["id"]))))) == 1
            assert await count(first, "SELECT COUNT(*) FROM answers") == 1
            assert await count(second, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == 1
            assert await count(first, "SELECT COUNT(*) FROM ideas") == 1


async def test_a_redelivered_idea_message_stores_one_idea(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    ana = tg.user(601, "Ana")
    chat = tg.private_chat(ana)
    async with running_telegram_bot(engine, settings, tg):
        update = tg.send_text(ana, chat, "/idea A quiet corner with no music before nine")
        await tg.wait_until_consumed()
    tg.redeliver(update)
    async with running_telegram_bot(engine, settings, tg):
        await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM ideas") == 1
    assert sum("#1" in text for text in texts(tg, chat["id"])) == 2, "the repeat is answered with the same idea"


async def test_each_update_is_logged_once_with_outcome_and_latency_and_nothing_secret(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    ana = tg.user(701, "Ana")
    chat = tg.private_chat(ana)
    secret_text = "my private opinion about the barista"
    with caplog.at_level(logging.DEBUG):
        async with running_telegram_bot(engine, settings, tg):
            tg.send_text(ana, chat, "/task")
            await tg.wait_until_consumed()
            await tap(tg, ana, chat["id"], "Latte")
            tg.send_text(ana, chat, secret_text)
            await tg.wait_until_consumed()
    handled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("platform=telegram update=")]
    assert len(handled) == 2, handled  # the command and the tap; chatter nobody asked for is not ours
    assert all("outcome=" in line and "latency_ms=" in line for line in handled)
    for record in caplog.records:
        assert TELEGRAM_TOKEN not in record.getMessage() and TELEGRAM_TOKEN.split(":")[1] not in record.getMessage()
        if record.levelno >= logging.INFO:
            assert secret_text not in record.getMessage()


async def test_a_long_reply_is_split_within_telegram_limits_and_nothing_is_lost(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    aim_at_fake_telegram(settings, tg)
    ana = tg.user(801, "Ana")
    chat = tg.private_chat(ana)
    lines = [f"<b>{number}.</b> {escape('<idea> & more ' * 12)}" for number in range(120)]
    adapter = TelegramAdapter(engine, settings)
    async with adapter.application:
        photo = Image(path=str(REPO / "tasks_catalog" / "images" / "pastry.png"))
        await adapter.send(chat["id"], Reply("\n".join(lines), image=photo), in_group=False)
    sent = tg.messages(chat["id"])
    assert len(sent) > 3 and all(len(m.get("text") or m.get("caption") or "") <= 4096 for m in sent)
    received = "\n".join(m.get("text") or "" for m in sent)
    assert all(f"{number}. " in received for number in range(120)) and "<idea> & more" in received
    assert not tg.errors


async def test_a_member_who_skips_the_first_question_is_caught_up_after_the_rest_and_results_count_it(
    engine: Engine, settings: Settings, tg: FakeTelegramServer, bot: None
) -> None:
    ana = tg.user(104, "Ana", language_code="en")
    settings.telegram.moderators.append("104")  # she runs this community too, so /results is hers to see
    settings.chat.follow_up = "keep"  # each answered question stays in the chat, with what she did below it
    chat = tg.private_chat(ana)
    tg.send_text(ana, chat, "/start")
    await tg.wait_until_consumed()
    await tap(tg, ana, chat["id"], "Skip")
    assert any(text.endswith("What do you order most often?\nSkipped.") for text in texts(tg, chat["id"]))
    await tap(tg, ana, chat["id"], "Oat milk")
    await tap(tg, ana, chat["id"], "Submit (1)")
    for label in ("Yes", "5★", "9", "Croissant"):
        await tap(tg, ana, chat["id"], label)
    tg.send_text(ana, chat, "More plugs by the window")
    await tg.wait_until_consumed()
    tg.send_text(ana, chat, "/task")
    await tg.wait_until_consumed()
    assert "all caught up" in texts(tg, chat["id"])[-1]
    assert not any("What do you order" in text for text in texts(tg, chat["id"])[2:]), "never asked again"
    tg.send_text(ana, chat, "/results")
    skip_rate = "⏭ Skipped: 1 (100% of those asked)"
    await tg.wait_for(lambda: any(skip_rate in text for text in texts(tg, chat["id"])), timeout=10)
    assert await count(engine, "SELECT COUNT(*) FROM skips WHERE task_id = 'drink'") == 1
    assert await count(engine, "SELECT COUNT(*) FROM answers") == 6
