"""The Telegram adapter: python-telegram-bot in front of the engine.

It only speaks Telegram: an update becomes a ``UserRef``/``SpaceRef`` and one engine call; a ``Reply``
becomes messages with inline keyboards (callback data = the engine's signed action token), a photo, a
document or a ForceReply prompt (:mod:`adapters.telegram_rendering`). Rules, texts and storage stay in
the engine.

Toasts are cut to 200 characters (a longer refusal is also sent as a message), and everything said
unasked goes through the outbox, paced at Telegram's flood limits.

A handler never waits for Telegram's flood control. It answers a tap's callback query itself (that is
not a chat message, and Telegram wants it within seconds) and hands every message and edit to the
chat's queue (:mod:`adapters.send_queue`), whose worker keeps group chats under 20 messages a minute,
waits out a 429's ``retry_after`` and resumes with the refused request, so a reply is never lost to
flood control and a flooded chat never holds up anyone else's updates. A flood's repeated "slow down"
is a ``quiet`` reply: nothing is sent for it at all. PTB's ``AIORateLimiter`` is not used: on a 429
it pauses *every* request of the bot until the wait is over, and logs a traceback per give-up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Hashable
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeDefault,
    CallbackQuery,
    Chat,
    Message,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters import send_queue
from adapters.answer_order import AnswerOrder
from adapters.log_repeats import folding_repeats
from adapters.send_queue import Request, SendQueue
from adapters.telegram_http import GatedRequest
from adapters.telegram_rendering import (
    Delivery,
    PhotoIds,
    edit_requests,
    message_requests,
    replaces_question,
    replacing_requests,
    retry_seconds,
    send_now,
)
from bot.commands import COMMANDS, dispatch
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import DeliveryFailed, DeliveryRetry, OutboxDrainer, Pacer
from bot.replies import Button, Outcome, Reply, to_plain
from bot.settings import Settings
from bot.texts import Markup, available_languages, t

log = logging.getLogger(__name__)

PLATFORM = "telegram"
TOAST_LIMIT = 200
ANONYMOUS_ADMIN_ID = 1087968824  # GroupAnonymousBot: an admin posting as the group
ADMIN_CACHE_SECONDS = 60.0
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
CONCURRENT_UPDATES = 256  # updates handled at once
CONNECTION_POOL = 8  # keep-alive connections to the Bot API; more requests wait at the gate (adapters/telegram_http.py)
POLL_CONNECTIONS = 1  # getUpdates: one long poll at a time
GROUP_MESSAGES_PER_MINUTE = 20
SEND_GRACE = 5.0  # seconds pending sends get to go out when the bot stops
APOLOGY: Hashable = "apology"  # coalescing key: one "something went wrong" waiting per chat is enough


def user_ref(user: User, chat: Chat | None = None, sender_chat: Chat | None = None) -> UserRef:
    """The engine's identity for a Telegram user; an anonymous admin is the group itself."""
    if user.id == ANONYMOUS_ADMIN_ID and chat is not None and sender_chat is not None and sender_chat.id == chat.id:
        return UserRef(PLATFORM, f"anon{chat.id}", chat.title or "Admin", None)
    name = user.full_name or user.username or str(user.id)
    return UserRef(PLATFORM, str(user.id), name, user.language_code)


def space_ref(chat: Chat) -> SpaceRef:
    return SpaceRef(PLATFORM, str(chat.id), chat.title or chat.full_name or "", chat.type == Chat.PRIVATE)


class TelegramAdapter:
    """Handlers and rendering for one bot; holds the engine, decides nothing about rules."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        # Request URLs hold the bot token: httpx logs them at INFO, python-telegram-bot at DEBUG.
        for chatty, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING), ("telegram", logging.INFO)):
            logging.getLogger(chatty).setLevel(level)
        self._admins: dict[tuple[int, int], tuple[float, bool]] = {}
        self._answer_order = AnswerOrder()  # a burst's callback answers before its follow-ups
        self.bot_username = settings.telegram.bot_username
        self._languages = frozenset(available_languages())  # a folder listing: once, not on every update
        self.sends: SendQueue[int] = SendQueue(PLATFORM)  # messages and edits, one worker per busy chat
        self.photo_ids = PhotoIds()  # catalog photo path -> Telegram's file_id, once uploaded
        # Only groups are paced ahead (replies to members are not broadcasts); a private chat's ~1/s is
        # met by waiting out the 429 in its own queue, which holds up no one else.
        self._group_pace = Pacer(math.inf, group_per_minute=GROUP_MESSAGES_PER_MINUTE)
        engine.moderation.register_check(PLATFORM, self.is_chat_admin)
        self.application = self._build()

    def _build(self) -> Application[Any, Any, Any, Any, Any, Any]:
        telegram = self.settings.telegram
        assert telegram.token is not None
        application = (
            ApplicationBuilder()
            .token(telegram.token.get_secret_value())
            .base_url(telegram.base_url)
            .base_file_url(telegram.base_file_url)
            .concurrent_updates(CONCURRENT_UPDATES)
            .request(GatedRequest(CONNECTION_POOL))
            .get_updates_request(GatedRequest(POLL_CONNECTIONS))
            .build()
        )
        application.add_handler(MessageHandler(filters.COMMAND, self.on_command))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        application.add_handler(CallbackQueryHandler(self.on_callback))
        application.add_error_handler(self.on_error)
        return application

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    # moderators ---------------------------------------------------------------------------------

    async def is_chat_admin(self, user: UserRef, space: SpaceRef) -> bool:
        """Chat administrators moderate their chat (``getChatMember``, cached for a minute).

        An anonymous admin writes as the group itself (``sender_chat``); that identity moderates only
        the group it speaks for.
        """
        if user.platform_user_id == f"anon{space.external_id}":
            return True
        if space.is_private or not user.platform_user_id.isdigit():
            return False
        key = (int(space.external_id), int(user.platform_user_id))
        cached = self._admins.get(key)
        if cached is not None and time.monotonic() - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            member = await self.bot.get_chat_member(key[0], key[1])
            is_admin = member.status in ADMIN_STATUSES
        except (BadRequest, Forbidden):
            is_admin = False
        self._admins[key] = (time.monotonic(), is_admin)
        return is_admin

    # handlers -----------------------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or message.from_user is None:
            return
        started = time.perf_counter()
        user = user_ref(message.from_user, message.chat, message.sender_chat)
        reply = await dispatch(self.engine, user, space_ref(message.chat), message.text, f"tg:{update.update_id}")
        if reply is None:
            if message.chat.type != Chat.PRIVATE:
                return  # another bot's command in a group
            reply = await dispatch(self.engine, user, space_ref(message.chat), "/help")
            assert reply is not None
        self.deliver(message.chat, message.from_user, reply, reply_to=message)
        self._log(update, "command", reply, started)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or message.from_user is None:
            return
        started = time.perf_counter()
        user = user_ref(message.from_user, message.chat, message.sender_chat)
        reply = await self.engine.text_message(user, space_ref(message.chat), message.text)
        if reply is None:
            return
        self.deliver(message.chat, message.from_user, reply, reply_to=message)
        self._log(update, "text", reply, started)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        started = time.perf_counter()
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message is not None else None
        space = space_ref(chat) if chat is not None else SpaceRef(PLATFORM, str(query.from_user.id), "", True)
        user = user_ref(query.from_user)
        turn = self._answer_order.arrived()
        try:
            reply = await self.engine.act(user, space, query.data or "")
            await self._answer_query(query, reply)
        finally:
            turn.answered()
        if message is not None and chat is not None and not reply.quiet:
            await turn.after_earlier()
            self._after_tap(message, query.from_user, reply)
        self._log(update, "callback", reply, started)

    async def _answer_query(self, query: CallbackQuery, reply: Reply) -> None:
        """Answer first (the spinner stops) with a toast; a refusal is an alert the user must close.

        A quiet refusal (a flood's repeats) is answered too, as Telegram requires, but with no text.
        """
        toast = to_plain(reply.notice or reply.text) if reply.outcome != Outcome.INFO or reply.notice else ""
        if reply.quiet:
            toast = ""
        if len(toast) > TOAST_LIMIT:
            toast = toast[: TOAST_LIMIT - 1] + "…"  # the whole text follows as a message
        try:
            await query.answer(toast, show_alert=reply.is_refusal and bool(toast))
        except BadRequest as error:  # too old: the tap was long ago or answered elsewhere
            log.info("callback answer refused by Telegram: %s", error)

    def _after_tap(self, message: Message, tapper: User, reply: Reply) -> None:
        """After the toast: update the tapped message and show what follows.

        In a private chat everything goes there: with ``[chat] follow_up = "edit"`` the answered question
        turns into the next one (two requests a tap: the toast, the edit), with ``"keep"`` it keeps the
        choice below it and the next one is a new message (three). In a group the question stays for
        everyone else, and what concerns only the tapper (their next task, a long refusal) goes to them
        privately.
        """
        chat = message.chat
        private = chat.type == Chat.PRIVATE
        language = self._language(tapper)
        parts = reply.chain()
        if reply.edit:
            self._post(chat.id, edit_requests(message, reply), language)
            parts = parts[1:]
        elif reply.outcome == Outcome.DONE or reply.notice:
            parts = parts[1:]
            if private and reply.outcome == Outcome.DONE and message.reply_markup is not None:
                if self.settings.chat.follow_up == "edit" and replaces_question(message, reply, parts):
                    # The toast told the choice; the question becomes the next one (a photo too).
                    self._post(chat.id, replacing_requests(message, parts[0], self.photo_ids), language)
                    parts = parts[1:]
                else:
                    self._post(chat.id, edit_requests(message, Reply(_with_line(message, reply.text))), language)
        elif reply.is_refusal and len(to_plain(reply.text)) <= TOAST_LIMIT:
            parts = parts[1:]
        for part in parts:
            if private:
                self._post_reply(chat.id, part, language, in_group=False)
            else:
                self._deliver_privately(chat, tapper, part)

    # sending ------------------------------------------------------------------------------------

    def deliver(self, chat: Chat, user: User | None, reply: Reply, reply_to: Message | None = None) -> None:
        """Queue a reply and its follow-ups; private replies from a group go by direct message.

        A quiet reply (a flood's repeated refusal) sends nothing.
        """
        if reply.quiet:
            return
        language = self._language(user) if user is not None else self.settings.default_language
        in_group = chat.type != Chat.PRIVATE
        for part in reply.chain():
            if part.private and in_group and user is not None:
                self._deliver_privately(chat, user, part)
            else:
                self._post_reply(chat.id, part, language, in_group=in_group, reply_to=reply_to)

    def _deliver_privately(self, group: Chat, user: User, reply: Reply) -> None:
        """To the member's private chat; the group is told it went there, or that the member must press
        Start first (Telegram refuses a bot's first word in a private chat with 403)."""
        language = self._language(user)

        def tell_group(text: Markup, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
            self._post_reply(group.id, Reply(text, buttons=buttons), language, in_group=True)

        async def failed(method: str, error: Exception) -> None:
            if not isinstance(error, Forbidden):
                await self._send_failed(user.id, language, method, error)
                return
            link = f"https://t.me/{self.bot_username}?start=private" if self.bot_username else ""
            buttons = ((Button(str(t("telegram.open_private", language)), url=link),),) if link else ()
            tell_group(t("telegram.need_private", language, name=user.full_name), buttons)

        requests = message_requests(self.bot, user.id, reply, in_group=False, reply_id=None, photo_ids=self.photo_ids)
        delivery = Delivery(
            requests, failed, sent=lambda: tell_group(t("telegram.sent_privately", language, name=user.full_name))
        )
        self.sends.put(user.id, delivery, coalesce=("private", reply))

    def _post_reply(
        self, chat_id: int, reply: Reply, language: str, *, in_group: bool, reply_to: Message | None = None
    ) -> None:
        reply_id = reply_to.message_id if reply_to is not None and in_group else None
        requests = message_requests(
            self.bot, chat_id, reply, in_group=in_group, reply_id=reply_id, photo_ids=self.photo_ids
        )
        self._post(chat_id, requests, language, coalesce=(reply, reply_id))

    def _post(self, chat_id: int, requests: list[Request], language: str, coalesce: Hashable | None = None) -> None:
        """Queue requests for the chat's worker; in a group each waits for the group's per-minute pace."""

        async def failed(method: str, error: Exception) -> None:
            await self._send_failed(chat_id, language, method, error)

        pace = (lambda: self._group_pace.wait(str(chat_id), is_group=True)) if chat_id < 0 else None
        self.sends.put(chat_id, Delivery(requests, failed, pace=pace), coalesce=coalesce)

    async def _send_failed(self, chat_id: int, language: str, method: str, error: Exception) -> None:
        """A queued send failed for good: one log line (a traceback only for what looks like our bug),
        and, unless Telegram refuses the chat itself, an apology in its place."""
        if isinstance(error, Forbidden):
            log.warning("send=refused chat=%s method=%s reason=%s", chat_id, method, error)
            return
        if isinstance(error, BadRequest):
            log.error("send=failed chat=%s method=%s reason=%s", chat_id, method, error)
        elif isinstance(error, NetworkError):
            log.warning("send=failed chat=%s method=%s reason=%s", chat_id, method, error)
        else:
            log.error("send=failed chat=%s method=%s", chat_id, method, exc_info=error)
        self._apologise(chat_id, language)

    def _apologise(self, chat_id: int, language: str) -> None:
        """ "Sorry, something went wrong", once per chat however many sends failed (it fails silently)."""

        async def unheard(method: str, error: Exception) -> None:
            log.warning("send=failed chat=%s method=%s reason=%s (the apology)", chat_id, method, error)

        text = str(t("error.unexpected", language))
        requests: list[Request] = [("sendMessage", lambda: self.bot.send_message(chat_id, text))]
        self.sends.put(chat_id, Delivery(requests, unheard), coalesce=APOLOGY)

    async def send(self, chat_id: int | str, reply: Reply, *, in_group: bool, reply_to: Message | None = None) -> None:
        """One reply sent now, not queued: the outbox's drainer paces and retries by itself."""
        reply_id = reply_to.message_id if reply_to is not None and in_group else None
        requests = message_requests(
            self.bot, chat_id, reply, in_group=in_group, reply_id=reply_id, photo_ids=self.photo_ids
        )
        await send_now(requests)

    def _language(self, user: User) -> str:
        code = (user.language_code or "").split("-")[0]
        return code if code in self._languages else self.settings.default_language

    # outbox -------------------------------------------------------------------------------------

    async def send_from_outbox(self, target: str, reply: Reply) -> None:
        """The drainer's sender: errors become retry-later or give-up, never a lost message."""
        kind, _, chat_id = target.partition(":")
        try:
            await self.send(int(chat_id), reply, in_group=kind == "space" and int(chat_id) < 0)
        except RetryAfter as error:
            raise DeliveryRetry(retry_seconds(error), str(error)) from error
        except Forbidden as error:
            raise DeliveryFailed(str(error)) from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise DeliveryFailed(str(error)) from error
            raise
        except (TimedOut, NetworkError) as error:
            raise DeliveryRetry(5.0, str(error)) from error

    def drainer(self) -> OutboxDrainer:
        pacer = Pacer(per_second=29.0, per_target_interval=1.0, group_per_minute=GROUP_MESSAGES_PER_MINUTE)
        return OutboxDrainer(
            self.engine,
            PLATFORM,
            self.send_from_outbox,
            pacer,
            is_group=lambda target: target.startswith("space:-"),
        )

    # start-up -----------------------------------------------------------------------------------

    async def register_commands(self) -> None:
        """The command menu: member commands for everyone, all commands for chat administrators."""
        for language in available_languages():
            code = None if language == self.settings.default_language else language
            described = [(c, to_plain(t(c.description_key, language))[:256]) for c in COMMANDS.values()]
            members = [BotCommand(c.name, text) for c, text in described if not c.moderator]
            everyone = [BotCommand(c.name, text) for c, text in described]
            await self.bot.set_my_commands(members, scope=BotCommandScopeDefault(), language_code=code)
            await self.bot.set_my_commands(everyone, scope=BotCommandScopeAllChatAdministrators(), language_code=code)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one place unexpected errors land: logged (no secrets, no message text), user told."""
        log.error("update handling failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user
            self._apologise(update.effective_chat.id, self._language(user) if user else self.settings.default_language)

    def _log(self, update: Update, kind: str, reply: Reply, started: float) -> None:
        """One line per update handled (the sends it queued are not waited for); a flood's quiet
        refusals only at DEBUG, so a flood does not flood the log either."""
        log.log(
            logging.DEBUG if reply.quiet else logging.INFO,
            "platform=telegram update=%s kind=%s outcome=%s latency_ms=%.1f",
            update.update_id,
            kind,
            reply.outcome.value,
            (time.perf_counter() - started) * 1000,
        )


def _with_line(message: Message, line: str) -> str:
    """The question's own HTML with the engine's confirmation line below it."""
    original = message.text_html if message.text else message.caption_html or ""
    return f"{original}\n{line}"


async def run_telegram(engine: Engine, settings: Settings, stop: asyncio.Event) -> None:
    """Run the bot (polling, or webhook when configured) and its outbox drainer until ``stop``.

    On the way out the updates in hand are finished, then queued sends get :data:`SEND_GRACE` seconds.
    Repeated warnings of the adapter and its send queues are folded while it runs.
    """
    # Opt in to python-telegram-bot's future behaviour (time periods as timedelta) instead of a warning
    # each time a RetryAfter is built; PTB reads it when it builds one, so setting it here is in time.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    adapter = TelegramAdapter(engine, settings)
    with folding_repeats(log.name, send_queue.__name__):
        async with adapter.application:
            await _serve(adapter, stop)


async def _serve(adapter: TelegramAdapter, stop: asyncio.Event) -> None:
    application, telegram = adapter.application, adapter.settings.telegram
    me = await application.bot.get_me()
    adapter.bot_username = adapter.bot_username or me.username
    await adapter.register_commands()
    await application.start()
    assert application.updater is not None
    if telegram.mode == "webhook":
        secret = telegram.webhook_secret.get_secret_value() if telegram.webhook_secret else None
        await application.updater.start_webhook(
            listen=telegram.webhook_listen,
            port=telegram.webhook_port,
            url_path="telegram",
            webhook_url=telegram.webhook_url,
            secret_token=secret,
            allowed_updates=["message", "callback_query"],
        )
    else:
        await application.updater.start_polling(
            timeout=telegram.poll_timeout, allowed_updates=["message", "callback_query"]
        )
    log.info("platform=telegram started mode=%s bot=@%s", telegram.mode, adapter.bot_username)
    drain = asyncio.create_task(adapter.drainer().run(stop), name="telegram-outbox")
    try:
        await stop.wait()
    finally:
        await drain
        await application.updater.stop()
        await application.stop()
        abandoned = await adapter.sends.close(SEND_GRACE)
        if abandoned:
            log.warning("platform=telegram stopped with %d sends abandoned", abandoned)
