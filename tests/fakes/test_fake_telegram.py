"""Proves the fake Telegram server against the real python-telegram-bot library (no mocks).

Every test drives an unmodified PTB ``Application`` (or its ``Bot``) over HTTP, so a passing test
means PTB encodes its requests the way the fake decodes them, de-serialises the fake's replies,
and maps the fake's error replies to the same exceptions as the real Bot API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.adapters.harness import TELEGRAM_TOKEN

from .telegram.limits import CHAT_BURST
from .telegram.server import FakeTelegramServer
from .telegram.world import ANONYMOUS_ADMIN_ID

TOKEN = TELEGRAM_TOKEN  # the ``tg`` fixture's (tests/conftest.py)
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def build_app(tg: FakeTelegramServer, token: str = TOKEN) -> Application:  # type: ignore[type-arg]
    return ApplicationBuilder().token(token).base_url(tg.base_url).base_file_url(tg.base_file_url).build()


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run ``app`` the way the bot runs in production (long polling) and stop it cleanly."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def recorder(seen: list[Update]) -> Callback:
    """A handler that only records the updates it is given."""

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    return record


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built here so the test needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_command_round_trip(tg: FakeTelegramServer) -> None:
    async def hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        assert update.effective_user is not None
        name = update.effective_user.first_name
        await update.effective_message.reply_html(f"<b>Hi</b> {name} &amp; co", do_quote=True)

    app = build_app(tg)
    app.add_handler(CommandHandler("hello", hello))
    ana = tg.user(5, first_name="Ana")
    chat = tg.private_chat(ana)
    async with polling(app):
        tg.send_text(ana, chat, f"/hello@{tg.bot_user['username']} there")
        tg.send_text(ana, chat, "/hello@some_other_bot")  # PTB ignores commands for other bots
        await tg.wait_until_consumed()

    [reply] = tg.messages(chat["id"])
    assert reply["text"] == "Hi Ana & co"
    assert reply["html"] == "<b>Hi</b> Ana &amp; co"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert reply["reply_to_message"]["message_id"] == 1
    assert tg.errors == []


async def test_inline_keyboard_click_is_answered_once(tg: FakeTelegramServer) -> None:
    second_answers: list[str] = []

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="vote:yes")]])
        await update.effective_message.reply_text("Vote?", reply_markup=keyboard)

    async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Counted")
        try:
            await query.answer("Counted again")
        except BadRequest as error:
            second_answers.append(error.message)
        await query.edit_message_text(f"Thanks, you chose {query.data}")

    app = build_app(tg)
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(vote))
    ana = tg.user(5)
    async with polling(app):
        tg.send_text(ana, tg.private_chat(ana), "/menu")
        await tg.wait_until_consumed()
        [prompt] = tg.messages(5)
        click = tg.click(ana, prompt, "vote:yes")
        await tg.wait_until_consumed()

    assert [(a.query_id, a.text) for a in tg.callback_answers] == [(click["callback_query"]["id"], "Counted")]
    assert len(second_answers) == 1
    assert "query is too old" in second_answers[0].lower()
    [edited] = tg.messages(5)
    assert edited["text"] == "Thanks, you chose vote:yes"
    assert "reply_markup" not in edited  # editMessageText without markup drops the keyboard
    with pytest.raises(ValueError, match="no button"):
        tg.click(ana, edited, "vote:yes")


async def test_callback_data_is_limited_to_64_utf8_bytes(tg: FakeTelegramServer) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data=data)]])

    tg.user(5)
    async with build_app(tg) as app:
        await app.bot.send_message(5, "fits", reply_markup=keyboard("é" * 32))  # 64 bytes
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await app.bot.send_message(5, "too big", reply_markup=keyboard("x" * 65))
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await app.bot.send_message(5, "33 chars, 66 bytes", reply_markup=keyboard("é" * 33))
    assert tg.errors[-1].description == "Bad Request: BUTTON_DATA_INVALID"
    assert len(tg.messages(5)) == 1


async def test_text_length_is_measured_after_html_parsing(tg: FakeTelegramServer) -> None:
    tg.user(5)
    async with build_app(tg) as app:
        await app.bot.send_message(5, "a" * 4096)
        await app.bot.send_message(5, f"<b>{'a' * 4096}</b>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await app.bot.send_message(5, "a" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await app.bot.send_message(5, "&amp;" * 4097, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await app.bot.send_message(5, "<b> </b>", parse_mode=ParseMode.HTML)
    assert [len(m["text"]) for m in tg.messages(5)] == [4096, 4096]


@pytest.mark.parametrize(
    "html",
    [
        "<div>block</div>",
        "1 < 2",
        "2 > 1",
        "fish & chips",
        "<b><i>crossed</b></i>",
        "<b>never closed",
        "stray</b>",
        "<span>no class</span>",
        "&nbsp;",
    ],
)
async def test_bad_html_is_refused(tg: FakeTelegramServer, html: str) -> None:
    tg.user(5)
    async with build_app(tg) as app:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await app.bot.send_message(5, html, parse_mode=ParseMode.HTML)
    assert tg.messages(5) == []


async def test_supported_html_becomes_entities_ptb_understands(tg: FakeTelegramServer) -> None:
    html = (
        '<a href="https://example.org/?a=1&amp;b=2">link</a> <tg-spoiler>secret</tg-spoiler> '
        '<span class="tg-spoiler">x</span> <pre><code class="language-python">print(1)</code></pre> 👍&#33;'
    )
    tg.user(5)
    async with build_app(tg) as app:
        sent = await app.bot.send_message(5, html, parse_mode=ParseMode.HTML)
    assert sent.text == "link secret x print(1) 👍!"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("text_link", 0, 4),
        ("spoiler", 5, 6),
        ("spoiler", 12, 1),
        ("pre", 14, 8),
    ]
    assert sent.entities[0].url == "https://example.org/?a=1&b=2"
    assert sent.entities[3].language == "python"


async def test_user_who_never_started_the_bot_is_forbidden(tg: FakeTelegramServer) -> None:
    bob = tg.user(7, first_name="Bob", started=False)
    async with build_app(tg) as app:
        with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
            await app.bot.send_message(7, "Hello?")
        tg.send_text(bob, tg.private_chat(bob), "/start")
        await app.bot.send_message(7, "Welcome!")
    assert [m["text"] for m in tg.messages(7)] == ["Welcome!"]
    assert tg.errors[0].error_code == 403


async def test_flood_control_answers_429_with_retry_after() -> None:
    # Half-length windows: short enough for a fast test, long enough that a loaded machine still
    # sends the burst before a slot refills.
    async with FakeTelegramServer(token=TOKEN, flood_limits=True, time_scale=0.5) as tg:
        tg.user(5)
        async with build_app(tg) as app:
            for number in range(CHAT_BURST):
                await app.bot.send_message(5, f"burst {number}")
            with pytest.raises(RetryAfter) as caught:
                await app.bot.send_message(5, "one too many")
            assert caught.value.retry_after == dt.timedelta(seconds=1)
            [flood] = tg.flood_errors
            assert flood.retry_after == 1
            assert 0 < flood.wait <= 0.5
            await asyncio.sleep(flood.wait)
            await app.bot.send_message(5, "after the scaled window")
    assert tg.errors[-1].description == "Too Many Requests: retry after 1"
    assert len(tg.messages(5)) == CHAT_BURST + 1


async def test_redelivered_update_is_handled_again(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []

    def bot_process() -> Application:  # type: ignore[type-arg]
        app = build_app(tg)
        app.add_handler(CommandHandler("ping", recorder(seen)))
        return app

    ana = tg.user(5)
    update = tg.send_text(ana, tg.private_chat(ana), "/ping")
    async with polling(bot_process()):
        await tg.wait_for(lambda: len(seen) == 1)
    # The bot "crashed" before its offset reached Telegram: the restarted bot gets the update again.
    tg.redeliver(update)
    async with polling(bot_process()):
        await tg.wait_for(lambda: len(seen) == 2)
        await tg.wait_until_consumed()
    assert [u.update_id for u in seen] == [update["update_id"]] * 2


async def test_offset_confirms_updates(tg: FakeTelegramServer) -> None:
    ana = tg.user(5)
    first = tg.send_text(ana, tg.private_chat(ana), "one")["update_id"]
    second = tg.send_text(ana, tg.private_chat(ana), "two")["update_id"]
    async with build_app(tg) as app:
        assert [u.update_id for u in await app.bot.get_updates()] == [first, second]
        assert [u.update_id for u in await app.bot.get_updates()] == [first, second]  # unconfirmed
        assert [u.update_id for u in await app.bot.get_updates(offset=first + 1)] == [second]
        assert [u.update_id for u in await app.bot.get_updates()] == [second]  # first is forgotten
        assert await app.bot.get_updates(offset=second + 1) == ()
        assert await app.bot.get_updates() == ()


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegramServer) -> None:
    ana = tg.user(5)
    async with build_app(tg) as app:
        poll = asyncio.create_task(app.bot.get_updates(timeout=dt.timedelta(seconds=5)))
        await asyncio.sleep(0.05)
        queued_at = time.monotonic()
        tg.send_text(ana, tg.private_chat(ana), "hi")
        updates = await asyncio.wait_for(poll, timeout=1)
        assert time.monotonic() - queued_at < 0.5
        assert updates[0].message is not None
        assert updates[0].message.text == "hi"


async def test_second_bot_instance_terminates_the_long_poll_with_conflict(tg: FakeTelegramServer) -> None:
    async with build_app(tg) as first_instance, build_app(tg) as second_instance:
        poll = asyncio.create_task(first_instance.bot.get_updates(timeout=dt.timedelta(seconds=5)))
        await asyncio.sleep(0.05)
        assert await second_instance.bot.get_updates() == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await poll


async def test_photo_upload_is_recorded_with_its_bytes(tg: FakeTelegramServer) -> None:
    png = tiny_png()
    tg.user(5)
    async with build_app(tg) as app:
        sent = await app.bot.send_photo(5, png, caption="<i>chart</i>", parse_mode=ParseMode.HTML)
        downloaded = await (await app.bot.get_file(sent.photo[-1].file_id)).download_as_bytearray()
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await app.bot.send_photo(5, sent.photo[-1].file_id, caption="c" * 1025)
        with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
            await app.bot.send_photo(5, b"not an image")
        await app.bot.send_photo(5, sent.photo[-1].file_id)  # re-send by file_id
        await app.bot.send_document(5, b"a,b\n1,2\n", filename="votes.csv")

    [photo, resent] = tg.photos(5)
    assert photo.data == png
    assert resent == photo
    assert bytes(downloaded) == png
    assert (sent.photo[-1].width, sent.photo[-1].height) == (1, 1)
    assert sent.caption == "chart"
    assert tg.messages(5)[0]["html"] == "<i>chart</i>"
    [document] = tg.documents(5)
    assert (document.filename, document.data) == ("votes.csv", b"a,b\n1,2\n")


async def test_edit_rules(tg: FakeTelegramServer) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    tg.user(5)
    async with build_app(tg) as app:
        sent = await app.bot.send_message(5, "Hello", reply_markup=keyboard)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await app.bot.edit_message_text("Hello", 5, sent.message_id, reply_markup=keyboard)
        await app.bot.edit_message_reply_markup(5, sent.message_id)  # removing the keyboard is a change
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await app.bot.edit_message_text("Hi", 5, 999)
        await app.bot.delete_message(5, sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await app.bot.edit_message_text("Hi", 5, sent.message_id)
    [message] = tg.messages(5)
    assert message["deleted"]
    assert "reply_markup" not in message
    assert "edit_date" in message


async def test_group_admins_and_anonymous_admin(tg: FakeTelegramServer) -> None:
    owner, ana, bob = tg.user(1, "Olga"), tg.user(5, "Ana"), tg.user(7, "Bob")
    group = tg.group(-1001234567890, "Café")
    tg.set_admins(group["id"], [ana["id"]], creator_id=owner["id"])
    update = tg.send_text_as_anonymous_admin(group, "/announce")
    async with build_app(tg) as app:
        statuses = [(await app.bot.get_chat_member(group["id"], u["id"])).status for u in (owner, ana, bob)]
        admins = await app.bot.get_chat_administrators(group["id"])
        [received] = await app.bot.get_updates()
        chat = await app.bot.get_chat(group["id"])
    assert statuses == ["creator", "administrator", "member"]
    assert [a.user.id for a in admins] == [owner["id"], ana["id"]]
    assert chat.type == "supergroup"
    assert chat.title == "Café"
    message = received.message
    assert message is not None
    assert received.update_id == update["update_id"]
    assert message.from_user is not None
    assert message.from_user.id == ANONYMOUS_ADMIN_ID
    assert message.sender_chat is not None
    assert message.sender_chat.id == group["id"]


async def test_commands_and_polls_are_validated(tg: FakeTelegramServer) -> None:
    tg.user(5)
    async with build_app(tg) as app:
        await app.bot.set_my_commands([("start", "Begin"), ("ideas", "Share an idea")], language_code="es")
        assert [c.command for c in await app.bot.get_my_commands(language_code="es")] == ["start", "ideas"]
        assert await app.bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await app.bot.set_my_commands([("Start", "Capital letters are not allowed")])
        with pytest.raises(BadRequest, match=r"(?i)at least 2"):
            await app.bot.send_poll(5, "Lunch?", ["Pizza"])
        with pytest.raises(BadRequest, match=r"(?i)more than 12"):
            await app.bot.send_poll(5, "Lunch?", [str(n) for n in range(13)])
        poll = await app.bot.send_poll(5, "Lunch?", ["Pizza", "Sushi"], is_anonymous=False)
    assert poll.poll is not None
    assert [o.text for o in poll.poll.options] == ["Pizza", "Sushi"]
    assert poll.poll.is_anonymous is False


async def test_fault_injection(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []
    ana = tg.user(5)
    app = build_app(tg)
    app.add_handler(CommandHandler("ping", recorder(seen)))
    async with polling(app):
        tg.fail_next("sendMessage", status=502, description="Bad Gateway")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await app.bot.send_message(5, "lost")
        tg.fail_next("sendMessage", status=429, description="Too Many Requests: retry after 3", retry_after=3)
        with pytest.raises(RetryAfter):
            await app.bot.send_message(5, "throttled")
        tg.delay_next("sendMessage", 0.2)
        started = time.monotonic()
        await app.bot.send_message(5, "slow")
        assert time.monotonic() - started >= 0.2
        await tg.wait_for(tg.drop_long_poll)  # retried until a long poll is pending to be cut
        # PTB logs the dropped connection, backs off for a second and polls again.
        tg.send_text(ana, tg.private_chat(ana), "/ping")
        await tg.wait_for(lambda: len(seen) == 1, timeout=3)
    assert [m["text"] for m in tg.messages(5)] == ["slow"]


async def test_unknown_token_is_refused(tg: FakeTelegramServer) -> None:
    # Entering the Bot (not the Application) so PTB closes its HTTP client on the failure:
    # Application.shutdown() skips everything when initialize() did not complete.
    with pytest.raises(InvalidToken):
        async with build_app(tg, token="999:WRONG").bot:
            pass  # pragma: no cover - entering fails: initialize() calls getMe
    assert tg.errors[0].error_code == 401


async def test_webhook_rejects_a_wrong_secret(tg: FakeTelegramServer) -> None:
    pytest.importorskip("tornado", reason="PTB's webhook server needs python-telegram-bot[webhooks]")
    seen: list[Update] = []
    ana = tg.user(5)
    port = free_port()
    app = build_app(tg)
    app.add_handler(CommandHandler("ping", recorder(seen)))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            secret_token="s3cret",
            webhook_url=f"http://127.0.0.1:{port}/hook",
        )
        try:
            update = tg.send_text(ana, tg.private_chat(ana), "/ping")
            assert await tg.push_webhook(update, secret_token="wrong") == 403
            assert await tg.push_webhook(update, secret_token=None) == 403
            assert await tg.push_webhook(update) == 200
            await tg.wait_for(lambda: len(seen) == 1)
        finally:
            await app.updater.stop()
            await app.stop()
    assert seen[0].update_id == update["update_id"]
    assert tg.calls_to("setWebhook")[0]["secret_token"] == "s3cret"
