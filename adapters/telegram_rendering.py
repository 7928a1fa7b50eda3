"""A ``Reply`` as Bot API requests, and the resumable send that runs them from a chat's send queue.

Rendering is kept apart from the handlers (:mod:`adapters.telegram`) because a reply is no longer sent
where it is made: the handler builds the requests and hands them to the chat's queue
(:mod:`adapters.send_queue`), whose worker runs them later. So a request here is a method name and a
call (:data:`adapters.send_queue.Request`), built up front and run in order; :class:`Delivery` runs
them and, after a 429, resumes with the request Telegram refused, so no message of a multi-message
reply is ever sent twice.

Platform limits are respected by construction: text is split at 4096 characters and captions at 1024
(both after escaping, between lines), every user-supplied text reaches Telegram HTML-escaped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter

from adapters.send_queue import Request, Requests
from bot.replies import Button, Image, Reply, split_markup

# Opt in to python-telegram-bot's future behaviour (time periods as timedelta, as in a 429's
# retry_after) instead of a warning.
os.environ.setdefault("PTB_TIMEDELTA", "true")

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
PLACEHOLDER_LIMIT = 64


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.action)
                for b in row
            ]
            for row in rows
        ]
    )


def message_requests(
    bot: Bot,
    chat_id: int | str,
    reply: Reply,
    *,
    in_group: bool,
    reply_id: int | None,
    photo_ids: PhotoIds,
) -> list[Request]:
    """One reply as Telegram messages: photo with caption, text chunks, a document, a prompt.

    ``reply_id`` quotes the member's message (groups only: in a private chat it is plain what is
    answered). A catalog photo goes by its ``file_id`` once Telegram has it (:class:`PhotoIds`).
    """
    markup: InlineKeyboardMarkup | ForceReply | None = keyboard(reply.buttons)
    if reply.text_input is not None and in_group:
        markup = ForceReply(selective=True, input_field_placeholder=reply.text_input.placeholder[:PLACEHOLDER_LIMIT])
    chunks = split_markup(reply.text, MESSAGE_LIMIT) if reply.text else []
    requests: list[Request] = []
    image = reply.image
    if image is not None:
        caption_fits = len(reply.text) <= CAPTION_LIMIT

        def send(photo: str | bytes, filename: str | None) -> Awaitable[object]:
            return bot.send_photo(
                chat_id,
                photo,
                filename=filename,
                caption=reply.text if caption_fits else None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if caption_fits else None,
                reply_to_message_id=reply_id,
            )

        requests.append(("sendPhoto", lambda: photo_ids.send(image, send)))
        if caption_fits:
            chunks = []
    for position, chunk in enumerate(chunks):
        requests.append(("sendMessage", _text(bot, chat_id, chunk, markup, reply_id, position, len(chunks))))
    attachment = reply.attachment
    if attachment is not None:
        requests.append(
            ("sendDocument", lambda: bot.send_document(chat_id, attachment.data, filename=attachment.filename))
        )
    return requests


def _text(
    bot: Bot,
    chat_id: int | str,
    chunk: str,
    markup: InlineKeyboardMarkup | ForceReply | None,
    reply_id: int | None,
    position: int,
    count: int,
) -> Callable[[], Awaitable[object]]:
    """Chunk ``position`` of ``count``: the first quotes the member's message, the last has the buttons."""
    return lambda: bot.send_message(
        chat_id,
        chunk,
        parse_mode=ParseMode.HTML,
        reply_markup=markup if position == count - 1 else None,
        reply_to_message_id=reply_id if position == 0 else None,
    )


def edit_requests(message: Message, reply: Reply) -> list[Request]:
    """The tapped message changed to ``reply``: its text or caption and buttons, or only the buttons when
    the text would not fit. Telegram's "message is not modified" is success: the message already shows it."""
    fits = len(reply.text) <= (CAPTION_LIMIT if message.photo else MESSAGE_LIMIT)
    markup = keyboard(reply.buttons)
    change: Callable[[], Awaitable[object]]
    if not fits:
        method, change = "editMessageReplyMarkup", lambda: message.edit_reply_markup(markup)
    elif message.photo:
        method = "editMessageCaption"
        change = lambda: message.edit_caption(reply.text, parse_mode=ParseMode.HTML, reply_markup=markup)  # noqa: E731
    else:
        method = "editMessageText"
        change = lambda: message.edit_text(reply.text, parse_mode=ParseMode.HTML, reply_markup=markup)  # noqa: E731

    async def edit() -> object:
        try:
            return await change()
        except BadRequest as error:
            if "not modified" not in str(error):
                raise
            return None

    return [(method, edit)]


def replaces_question(message: Message, answer: Reply, following: Sequence[Reply]) -> bool:
    """Whether the tapped ``message`` can turn into the next question (the ``"edit"`` follow-up mode).

    Not when there is none, when a photo would have to become text (Telegram removes no media from a
    message; text can take a photo, and a photo another one), when it would not fit, when a document
    comes with it, or when the answer earned more than its points (a streak, a badge, a level: lines
    worth keeping in the chat, so that question stays with them below it).
    """
    if not following or "\n" in answer.text:
        return False
    upcoming = following[0]
    if upcoming.attachment is not None:
        return False
    if upcoming.image is not None:
        return len(upcoming.text) <= CAPTION_LIMIT
    return not message.photo and len(upcoming.text) <= MESSAGE_LIMIT


def replacing_requests(message: Message, upcoming: Reply, photo_ids: PhotoIds) -> list[Request]:
    """The tapped ``message`` turned into the ``upcoming`` question (one :func:`replaces_question` allowed):
    its text and buttons, or its photo, caption and buttons in one ``editMessageMedia`` (the photo by its
    ``file_id`` once Telegram has it, as :func:`message_requests` sends it)."""
    image = upcoming.image
    if image is None:
        return edit_requests(message, upcoming)

    def edit(photo: str | bytes, filename: str | None) -> Awaitable[object]:
        media = InputMediaPhoto(photo, caption=upcoming.text, parse_mode=ParseMode.HTML, filename=filename)
        return message.edit_media(media, reply_markup=keyboard(upcoming.buttons))

    return [("editMessageMedia", lambda: photo_ids.send(image, edit))]


class PhotoIds:
    """The ``file_id`` Telegram gave each catalog photo once uploaded, so the next member gets it by id,
    not by a fresh upload of the same bytes (every member of a campaign sees its photos, and an upload is
    the costliest request a tap makes).

    Members of a campaign reach its photo question at about the same time: measured with 100 of them,
    93 uploaded it before the first upload's id came back. So the first to send a photo uploads it, and
    those who come meanwhile wait for that upload and then send its id; if it fails, the next one uploads.
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._uploads: dict[str, asyncio.Future[None]] = {}

    async def send(self, image: Image, send: Callable[[str | bytes, str | None], Awaitable[object]]) -> object:
        """``send(photo, filename)``: the photo by its file id when known, else uploaded (``filename`` is
        the engine's neutral name, not one PTB makes up); returns what ``send`` returned."""
        path = image.path
        while path and path not in self._ids and path in self._uploads:
            await asyncio.shield(self._uploads[path])  # a waiter cancelled must not cancel the upload
        known = self._ids.get(path) if path else None
        if known is not None:
            return await send(known, None)
        if not path:
            return await send(await _photo(image), image.filename)
        self._uploads[path] = uploaded = asyncio.get_running_loop().create_future()
        try:
            sent = await send(await _photo(image), image.filename)
            if isinstance(sent, Message) and sent.photo:
                self._ids[path] = sent.photo[-1].file_id
            return sent
        finally:
            del self._uploads[path]
            uploaded.set_result(None)


def retry_seconds(error: RetryAfter) -> float:
    """A 429's ``retry_after`` in seconds, whichever way PTB gives it."""
    delay = error.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def retry_after(error: Exception) -> float | None:
    """The seconds a 429 asks for, or ``None`` when ``error`` is no 429 (what :class:`Delivery` resumes after)."""
    return retry_seconds(error) if isinstance(error, RetryAfter) else None


class Delivery(Requests):
    """Bot API requests to one chat, run in order by the chat's send-queue worker; resumable after a 429.

    ``pace`` is awaited before each request (a group's 20 messages a minute); ``failed`` gets any error
    but a 429 (the request's method and the error), ``sent`` runs once everything went out.
    """

    def __init__(
        self,
        requests: Sequence[Request],
        failed: Callable[[str, Exception], Awaitable[None]],
        *,
        pace: Callable[[], Awaitable[None]] | None = None,
        sent: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(requests, failed, retry_after=retry_after, pace=pace, sent=sent)


async def send_now(requests: Sequence[Request]) -> None:
    """Run the requests here and now, in order (the outbox's drainer paces and retries by itself)."""
    for _, request in requests:
        await request()


async def _photo(image: Image) -> bytes | str:
    """Photo input for PTB: generated bytes, a catalog file (read off the event loop), or a URL."""
    if image.data:
        return image.data
    if image.path:
        return await asyncio.to_thread(Path(image.path).read_bytes)
    return image.url
