"""A fake Telegram Bot API server that an unmodified python-telegram-bot ``Application`` can talk to.

Why a fake server rather than mocks: the bot's real HTTP stack (PTB's request encoding, error
mapping, polling loop, retries) is exercised end to end, and the server enforces the limits that
the real Bot API enforces (text and caption lengths, HTML parsing, callback_data size, flood
control, ...), so a test fails here for the same reasons the bot would fail in production.

The server speaks the real protocol: ``/bot<token>/<method>`` with parameters as a JSON body,
an url-encoded form, a multipart form (uploads) or a query string, and replies with
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``.

Tests play the users through the async driver API (``user``, ``send_text``, ``click``, ...) and
inspect what the bot did through ``calls``, ``messages``, ``photos``, ``errors``, ....

Deliberate differences from the real Bot API (all of them documented where they happen):

* HTML is parsed *stricter* than Telegram: a bare ``>`` or an ``&`` that does not start one of
  ``&lt; &gt; &amp; &quot;`` or a numeric reference is refused, so bots are held to escaping.
* ``retry_after`` is an integer number of wall-clock seconds (as in the real API) rounded *up*
  and at least 1, even when ``time_scale`` shortens the flood windows: obeying it always works,
  the exact wait is in ``flood_errors``.
* Only ``parse_mode=HTML`` is implemented; other parse modes are refused with a 400.
* Queued updates are not pushed to a webhook automatically: tests call ``push_webhook``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, NamedTuple, Self

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

ANONYMOUS_ADMIN_ID: Final = 1087968824
"""User id of ``@GroupAnonymousBot``: Telegram's author of messages sent by anonymous admins."""

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_INLINE_BUTTONS: Final = 100
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_POLL_QUESTION_LENGTH: Final = 300
MAX_POLL_OPTION_LENGTH: Final = 100
POLL_OPTIONS_RANGE: Final = range(2, 13)
MAX_COMMANDS: Final = 100
MAX_COMMAND_DESCRIPTION_LENGTH: Final = 256

GLOBAL_MESSAGES_PER_SECOND: Final = 30
CHAT_BURST: Final = 3
CHAT_SECONDS_PER_MESSAGE: Final = 1.0
GROUP_MESSAGES_PER_MINUTE: Final = 20

QUIET_PERIOD: Final = 0.2
"""Seconds without bot activity after which ``wait_until_consumed`` deems handlers finished (a handler's
first request can take longer than 0.1 s on a busy CI machine: a first contact writes the member, the
welcome bonus and the question's progress before it replies)."""

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_LEADING_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,32}))?(?=\s|$)")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE_CODE = re.compile(r"(?:[a-z]{2})?")
_BUTTON_ACTIONS: Final = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_OPT_IN_UPDATE_TYPES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
"""Update types Telegram sends only when ``allowed_updates`` names them."""

_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "question",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "action",
        "language_code",
        "file_id",
        "photo",
        "document",
        "ip_address",
        "explanation",
        "type",
    }
)
"""Parameters that are strings in the Bot API and so must never be JSON-decoded.

PTB sends every other value JSON-encoded inside a form field (``chat_id=123``,
``reply_markup={"inline_keyboard": ...}``) while plain strings go as they are; a text such as
``"42"`` must therefore stay a string.
"""


class ApiError(Exception):
    """An error reply of the Bot API, raised by method handlers and turned into the JSON reply."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @classmethod
    def bad_request(cls, detail: str) -> ApiError:
        """Telegram prefixes every 400 description with ``Bad Request:``."""
        return cls(400, f"Bad Request: {detail}")

    def reply(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class _DropConnection(Exception):
    """Raised by ``getUpdates`` when the test cut the long poll: the connection is aborted."""


class Call(NamedTuple):
    """One request the bot made: the canonical method name and its decoded parameters."""

    method: str
    params: JSON


class ErrorReply(NamedTuple):
    """One error reply the fake sent."""

    method: str
    error_code: int
    description: str
    retry_after: int | None


class CallbackAnswer(NamedTuple):
    """One successful ``answerCallbackQuery``."""

    query_id: str
    text: str | None
    show_alert: bool


class FloodError(NamedTuple):
    """One 429 given by flood control; ``wait`` is the exact (scaled) wait that was needed."""

    method: str
    chat_id: int
    retry_after: int
    wait: float


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file the bot sent (``data`` is ``None`` when it was sent by URL, which is not fetched)."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str | None
    mime_type: str | None
    data: bytes | None


class _PollOutcome(enum.Enum):
    """Why a waiting long poll woke up."""

    UPDATE = enum.auto()
    CONFLICT = enum.auto()
    DROP = enum.auto()
    SHUTDOWN = enum.auto()


class _Secret(enum.Enum):
    """Sentinel type, so that ``None`` can mean "send no secret header"."""

    CONFIGURED = enum.auto()


CONFIGURED_SECRET: Final = _Secret.CONFIGURED
"""Default of ``push_webhook(secret_token=...)``: send the secret given to ``setWebhook``."""


# --------------------------------------------------------------------------------------------
# HTML parse mode
# --------------------------------------------------------------------------------------------

_TAG_ENTITY_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_REFERENCES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL_CHAR = re.compile(r"[<>&]")
_CHAR_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));")
_START_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
_END_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTRIBUTE = re.compile(r"""\s+([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_TAG_END = re.compile(r"\s*>")


def _utf16_length(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units by the Bot API."""
    return len(text.encode("utf-16-le")) // 2


def _resolve_reference(match: re.Match[str]) -> str | None:
    """The character a ``&...;`` reference stands for, or None when Telegram does not know it."""
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_REFERENCES.get(name)
    code_point = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code_point) if 0 < code_point <= 0x10FFFF else None


def _unescape_attribute(value: str) -> str:
    """Attribute values (``href``) may carry references too; unknown ones stay literal."""
    return _CHAR_REFERENCE.sub(lambda m: _resolve_reference(m) or m.group(), value)


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag; ``offset`` is where its entity starts (UTF-16)."""

    name: str
    offset: int
    attributes: dict[str, str]
    language: str | None = None


class _HtmlParser:
    """Turns Bot API HTML into plain text plus message entities, or raises the API's 400.

    Error descriptions follow Telegram's (``Unsupported start tag "div" at byte offset 0``),
    byte offsets are UTF-8 offsets into the HTML source as in the real server.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._pos = 0
        self._out: list[str] = []
        self._utf16 = 0
        self._stack: list[_OpenTag] = []
        self._entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        """Plain text and entities sorted like Telegram's (by offset, outer entity first)."""
        while self._pos < len(self._source):
            special = _SPECIAL_CHAR.search(self._source, self._pos)
            end = special.start() if special else len(self._source)
            self._emit(self._source[self._pos : end])
            self._pos = end
            if special:
                self._on_special(special.group())
        if self._stack:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self._stack[-1].name}"')
        entities = sorted(self._entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._out), entities

    def _emit(self, text: str) -> None:
        self._out.append(text)
        self._utf16 += _utf16_length(text)

    def _byte_offset(self) -> int:
        return len(self._source[: self._pos].encode())

    @staticmethod
    def _error(detail: str) -> ApiError:
        return ApiError.bad_request(f"can't parse entities: {detail}")

    def _on_special(self, char: str) -> None:
        if char == "&":
            self._on_reference()
        elif char == ">":
            raise self._error(f'Character ">" must be escaped as "&gt;" at byte offset {self._byte_offset()}')
        elif self._source.startswith("</", self._pos):
            self._on_end_tag()
        else:
            self._on_start_tag()

    def _on_reference(self) -> None:
        match = _CHAR_REFERENCE.match(self._source, self._pos)
        if match is None:
            raise self._error(f'Character "&" must be escaped as "&amp;" at byte offset {self._byte_offset()}')
        char = _resolve_reference(match)
        if char is None:
            raise self._error(f'Unsupported HTML entity "{match.group()}" at byte offset {self._byte_offset()}')
        self._emit(char)
        self._pos = match.end()

    def _on_start_tag(self) -> None:
        match = _START_TAG.match(self._source, self._pos)
        if match is None:
            raise self._error(f"Unexpected end of name token at byte offset {self._byte_offset()}")
        name = match.group(1).lower()
        if name not in _TAG_ENTITY_TYPES:
            raise self._error(f'Unsupported start tag "{name}" at byte offset {self._byte_offset()}')
        attributes, end = self._read_attributes(match.end())
        self._check_attributes(name, attributes)
        self._stack.append(_OpenTag(name, self._utf16, attributes))
        self._pos = end

    def _read_attributes(self, pos: int) -> tuple[dict[str, str], int]:
        attributes: dict[str, str] = {}
        while attribute := _ATTRIBUTE.match(self._source, pos):
            value = next((v for v in attribute.groups()[1:] if v is not None), "")
            attributes[attribute.group(1).lower()] = _unescape_attribute(value)
            pos = attribute.end()
        tag_end = _TAG_END.match(self._source, pos)
        if tag_end is None:
            raise self._error(f"Unclosed start tag at byte offset {self._byte_offset()}")
        return attributes, tag_end.end()

    def _check_attributes(self, name: str, attributes: dict[str, str]) -> None:
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self._error(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset()}')
        if name == "tg-emoji" and not attributes.get("emoji-id"):
            raise self._error(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {self._byte_offset()}')

    def _on_end_tag(self) -> None:
        match = _END_TAG.match(self._source, self._pos)
        if match is None:
            raise self._error(f"Unclosed end tag at byte offset {self._byte_offset()}")
        name = match.group(1).lower()
        if not self._stack:
            raise self._error(f"Unexpected end tag at byte offset {self._byte_offset()}")
        if self._stack[-1].name != name:
            raise self._error(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{self._stack[-1].name}>", found "</{name}>"'
            )
        self._close(self._stack.pop())
        self._pos = match.end()

    def _close(self, tag: _OpenTag) -> None:
        css_class = tag.attributes.get("class", "")
        inside_pre = bool(self._stack) and self._stack[-1].name == "pre"
        if tag.name == "code" and inside_pre and css_class.startswith("language-"):
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language
            self._stack[-1].language = css_class.removeprefix("language-")
            return
        length = self._utf16 - tag.offset
        if length == 0 or (tag.name == "a" and not tag.attributes.get("href")):
            return  # Telegram drops empty entities and links without a target
        entity: JSON = {"type": _TAG_ENTITY_TYPES[tag.name], "offset": tag.offset, "length": length}
        if tag.name == "a":
            entity["url"] = tag.attributes["href"]
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in tag.attributes:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attributes["emoji-id"]
        self._entities.append(entity)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Bot API HTML into ``(plain_text, entities)``; raises ``ApiError`` like Telegram."""
    return _HtmlParser(source).parse()


# --------------------------------------------------------------------------------------------
# Flood control
# --------------------------------------------------------------------------------------------


@dataclass
class _TokenBucket:
    """``capacity`` messages at once, then one more every ``refill_seconds``."""

    capacity: float
    refill_seconds: float
    updated: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) / self.refill_seconds)
        self.updated = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) * self.refill_seconds

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1


class _FloodControl:
    """Telegram's documented limits, as token buckets whose windows are multiplied by ``time_scale``.

    30 messages/s overall, 1 message/s per chat with a burst of 3, 20 messages/min per group
    (a bucket of 20 refilling one every 3 s). Only message-creating methods count, not edits.
    """

    def __init__(self, time_scale: float) -> None:
        self._scale = time_scale
        self._global = self._bucket(GLOBAL_MESSAGES_PER_SECOND, 1 / GLOBAL_MESSAGES_PER_SECOND)
        self._chats: dict[int, _TokenBucket] = {}
        self._groups: dict[int, _TokenBucket] = {}

    def _bucket(self, capacity: int, refill_seconds: float) -> _TokenBucket:
        return _TokenBucket(capacity, refill_seconds * self._scale, time.monotonic())

    def acquire(self, chat_id: int, is_group: bool) -> float:
        """Take a message slot and return 0, or take nothing and return the seconds to wait."""
        buckets = [
            self._global,
            self._chats.setdefault(chat_id, self._bucket(CHAT_BURST, CHAT_SECONDS_PER_MESSAGE)),
        ]
        if is_group:
            refill = 60 / GROUP_MESSAGES_PER_MINUTE
            buckets.append(self._groups.setdefault(chat_id, self._bucket(GROUP_MESSAGES_PER_MINUTE, refill)))
        now = time.monotonic()
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait == 0:
            for bucket in buckets:
                bucket.take(now)
        return wait


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------


def _decode_value(name: str, value: Any) -> Any:
    """Undo PTB's per-field JSON encoding; string-typed fields and non-JSON strings stay as sent."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> JSON:
    """Collect parameters from the query string and the body, whichever encoding the client used."""
    raw: JSON = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise ApiError.bad_request("request body must be a JSON object")
            raw.update(body)
        elif request.content_type == "multipart/form-data":
            raw.update(await _read_multipart(request))
        else:
            raw.update(await request.post())
    return {name: _decode_value(name, value) for name, value in raw.items()}


async def _read_multipart(request: web.Request) -> JSON:
    """Text parts become values, file parts become :class:`Upload` (PTB names them after the param)."""
    values: JSON = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            values[part.name] = await part.text()
        else:
            content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            values[part.name] = Upload(part.filename, content_type, bytes(await part.read()))
    return values


class _Params:
    """Typed access to a request's parameters, failing with the 400s the Bot API gives."""

    def __init__(self, values: JSON) -> None:
        self.values = values

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError.bad_request(f"invalid {name} specified")
        return value

    def req_int(self, name: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise ApiError.bad_request(f"{name} is empty")
        return value

    def opt_number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ApiError.bad_request(f"invalid {name} specified")
        return float(value)

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError.bad_request(f"invalid {name} specified")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        return default if value is None else value in (True, "true")

    def chat_id(self) -> int:
        """Chats are addressed by numeric id here; ``@username`` targets are not modelled."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise ApiError.bad_request("chat_id is empty")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError.bad_request("chat not found")
        return value


# --------------------------------------------------------------------------------------------
# Payload validation shared by several methods
# --------------------------------------------------------------------------------------------


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise ApiError.bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"]:
        raise ApiError.bad_request("BUTTON_TEXT_INVALID")
    actions = _BUTTON_ACTIONS & button.keys()
    if len(actions) != 1:
        raise ApiError.bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if "callback_data" in actions and (
        not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise ApiError.bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in actions and (not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))):
        raise ApiError.bad_request("BUTTON_URL_INVALID")


def _inline_keyboard(markup: Any) -> JSON | None:
    """Validate ``reply_markup`` and return what Telegram echoes on the message.

    Only inline keyboards are echoed; reply keyboards, ``remove_keyboard`` and ``force_reply``
    are accepted and not shown on the message, like in the real API.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError.bad_request('can\'t parse inline keyboard: Field "inline_keyboard" must be an Array')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise ApiError.bad_request("BUTTONS_TOO_MUCH")
    for button in buttons:
        _check_button(button)
    return {"inline_keyboard": rows} if buttons else None


def _callback_datas(message: JSON) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def _check_commands(commands: Any) -> list[JSON]:
    if not isinstance(commands, list):
        raise ApiError.bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise ApiError.bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
            raise ApiError.bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION_LENGTH:
            raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return [{"command": c["command"], "description": c["description"]} for c in commands]


def _poll_options(options: Any) -> list[str]:
    """Options arrive as strings or as ``InputPollOption`` objects (``{"text": ...}``)."""
    if not isinstance(options, list):
        raise ApiError.bad_request("can't parse options JSON object")
    if len(options) < POLL_OPTIONS_RANGE.start:
        raise ApiError.bad_request(f"poll must have at least {POLL_OPTIONS_RANGE.start} option")
    if len(options) >= POLL_OPTIONS_RANGE.stop:
        raise ApiError.bad_request(f"poll can't have more than {POLL_OPTIONS_RANGE.stop - 1} options")
    texts: list[str] = []
    for option in options:
        text = option.get("text") if isinstance(option, dict) else option
        if not isinstance(text, str) or not text:
            raise ApiError.bad_request("poll options must be non-empty")
        if len(text) > MAX_POLL_OPTION_LENGTH:
            raise ApiError.bad_request(f"poll options length must not exceed {MAX_POLL_OPTION_LENGTH}")
        texts.append(text)
    return texts


def _image_size(data: bytes) -> tuple[int, int]:
    """Telegram re-encodes photos and refuses what is not an image; PNG sizes are read, others 0."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or data[8:12] == b"WEBP":
        return 0, 0
    raise ApiError.bad_request("IMAGE_PROCESS_FAILED")


def _api_view(message: JSON) -> JSON:
    """The message as the Bot API returns it, without the fake's bookkeeping keys."""
    return {key: copy.deepcopy(value) for key, value in message.items() if key not in ("html", "deleted")}


@dataclass(frozen=True)
class _Text:
    """A text or caption after parse-mode processing; ``html`` is the source when it was HTML."""

    plain: str
    entities: list[JSON]
    html: str | None


_ENTITY_KEYS: Final = {"text": "entities", "caption": "caption_entities"}


def _formatted(params: _Params, key: str) -> _Text | None:
    """Apply ``parse_mode`` to the ``text``/``caption`` parameter; explicit entities pass through."""
    raw = params.opt_str(key)
    if raw is None:
        return None
    mode = params.opt_str("parse_mode")
    if mode is None:
        entities = params.get(_ENTITY_KEYS[key]) or []
        if not isinstance(entities, list):
            raise ApiError.bad_request(f"can't parse {_ENTITY_KEYS[key]} JSON object")
        return _Text(raw, entities, None)
    if mode.lower() != "html":
        raise ApiError.bad_request(f"unsupported parse_mode {mode!r}: the fake server implements only HTML")
    plain, entities = parse_html(raw)
    return _Text(plain, entities, raw)


def _message_text(params: _Params) -> _Text:
    """The length limits apply to the text *after* entity parsing, as on Telegram."""
    text = _formatted(params, "text")
    if text is None or not text.plain.strip():
        raise ApiError.bad_request("message text is empty")
    if len(text.plain) > MAX_TEXT_LENGTH:
        raise ApiError.bad_request("message is too long")
    return text


def _caption(params: _Params) -> _Text | None:
    caption = _formatted(params, "caption")
    if caption is not None and len(caption.plain) > MAX_CAPTION_LENGTH:
        raise ApiError.bad_request("message caption is too long")
    return caption


def _set_text(message: JSON, text: _Text | None, key: str) -> None:
    """Write ``text``/``caption`` and its entities the way Telegram shows them (absent if empty)."""
    message.pop(key, None)
    message.pop(_ENTITY_KEYS[key], None)
    message["html"] = text.html if text is not None else None
    if text is None or not text.plain:
        return
    message[key] = text.plain
    if text.entities:
        message[_ENTITY_KEYS[key]] = text.entities


def _set_markup(message: JSON, markup: JSON | None) -> None:
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup


def _chat_member(user: JSON, status: str) -> JSON:
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = [
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
        ]
        member = {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False}
        return member | dict.fromkeys(rights, True) | {"can_promote_members": False}
    return {"status": "member", "user": user}


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[_Params], Awaitable[Any]]


class FakeTelegramServer:
    """The fake Bot API server plus the driver API tests use to play users.

    Use as ``async with FakeTelegramServer(token="123:ABC") as tg:``; point PTB at it with
    ``ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "crowdpulse_test_bot",
        bot_name: str = "CrowdPulse",
        flood_limits: bool = False,
        time_scale: float = 1.0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.errors: list[ErrorReply] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.flood_errors: list[FloodError] = []
        self._flood = _FloodControl(time_scale) if flood_limits else None
        self._users: dict[int, JSON] = {}
        self._started: set[int] = set()
        self._groups: dict[int, JSON] = {}
        self._admins: dict[int, dict[int, str]] = {}
        self._messages: dict[int, dict[int, JSON]] = {}
        self._files: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._open_queries: set[str] = set()
        self._pending: list[JSON] = []
        self._next_update_id = 100_000
        self._next_query_id = 7_000_000_000
        self._allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self._webhook: JSON | None = None
        self._poll_waiter: asyncio.Future[_PollOutcome] | None = None
        self._failures: dict[str, list[ApiError]] = {}
        self._delays: dict[str, list[float]] = {}
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._handlers().items()
        }

    def _handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "sendPoll": self._send_poll,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getFile": self._get_file,
        }

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancel handlers whose client went away (PTB cancels a long poll on stop), so an
        # abandoned getUpdates does not linger and later "conflict" with the next one.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._wake_poll(_PollOutcome.SHUTDOWN)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    # ---------------------------------------------------------------- driver: world

    def user(
        self,
        user_id: int,
        first_name: str = "Ana",
        language_code: str | None = "en",
        username: str | None = None,
        started: bool = True,
    ) -> JSON:
        """Create (or replace) a Telegram user; ``started=False`` means they never pressed Start."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        if started:
            self._started.add(user_id)
        else:
            self._started.discard(user_id)
        return copy.deepcopy(user)

    def private_chat(self, user: JSON) -> JSON:
        """The private chat between ``user`` and the bot (its id is the user's id)."""
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    def group(self, chat_id: int, title: str = "Test group") -> JSON:
        """Create a group the bot is in; ids below -10**12 are supergroups, as on Telegram."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = "supergroup" if chat_id < -(10**12) else "group"
        self._groups[chat_id] = {"id": chat_id, "type": kind, "title": title}
        return copy.deepcopy(self._groups[chat_id])

    def set_admins(self, chat_id: int, user_ids: list[int], creator_id: int | None = None) -> None:
        """Make ``user_ids`` administrators (and ``creator_id`` the owner); include the bot's id
        to make the bot an admin."""
        self._require_group(chat_id)
        statuses = dict.fromkeys(user_ids, "administrator")
        if creator_id is not None:
            statuses[creator_id] = "creator"
        self._admins[chat_id] = statuses

    # ---------------------------------------------------------------- driver: users act

    def send_text(self, user: JSON, chat: JSON, text: str, reply_to_message_id: int | None = None) -> JSON:
        """Queue a message update from ``user``; a leading ``/command`` gets its bot_command entity
        and ``/start`` in private marks the user as having started the bot."""
        self._check_sender(user, chat)
        message = self._user_message(user, chat, text, reply_to_message_id)
        if chat["type"] == "private" and self._is_start_command(text):
            self._started.add(user["id"])
        return self._enqueue({"message": message})

    def _is_start_command(self, text: str) -> bool:
        """``/start`` or ``/start@<this bot>``, optionally with a deep-link payload."""
        command = _LEADING_COMMAND.match(text)
        return (
            command is not None
            and command.group(1) == "start"
            and command.group(2) in (None, self.bot_user["username"])
        )

    def send_text_as_anonymous_admin(self, chat: JSON, text: str) -> JSON:
        """Queue a group message written by an anonymous admin: from GroupAnonymousBot, with
        ``sender_chat`` set to the group itself."""
        group = self._require_group(chat["id"])
        anonymous = {
            "id": ANONYMOUS_ADMIN_ID,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        }
        message = self._user_message(anonymous, group, text, None)
        message["sender_chat"] = copy.deepcopy(group)
        return self._enqueue({"message": message})

    def click(self, user: JSON, message: JSON, callback_data: str) -> JSON:
        """Queue a callback_query for a button of the bot's message, as it currently looks.

        Refuses (ValueError) to click a button the message does not have: a real user can't.
        """
        chat_id = message["chat"]["id"]
        current = self._messages.get(chat_id, {}).get(message["message_id"])
        if current is None or current["deleted"]:
            raise ValueError(f"message {message['message_id']} does not exist in chat {chat_id}")
        if callback_data not in _callback_datas(current):
            raise ValueError(f"message has no button with callback_data {callback_data!r}")
        self._next_query_id += 1
        query_id = str(self._next_query_id)
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": _api_view(current),
            "chat_instance": f"{self.bot_user['id']}{abs(chat_id)}",
            "data": callback_data,
        }
        return self._enqueue({"callback_query": query})

    def redeliver(self, update: JSON) -> None:
        """Queue ``update`` again with its own update_id, as Telegram does when the bot crashed
        before confirming it. Like on Telegram, a client polling with an offset above that id
        (a bot that did confirm it) will skip it; a restarted bot (offset 0) receives it."""
        if any(pending["update_id"] == update["update_id"] for pending in self._pending):
            return
        self._pending.append(copy.deepcopy(update))
        self._pending.sort(key=lambda pending: pending["update_id"])
        self._on_new_update()

    # ---------------------------------------------------------------- driver: inspection

    def calls_to(self, method: str) -> list[JSON]:
        """Parameters of every call to ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    def messages(self, chat_id: int) -> list[JSON]:
        """Messages the bot sent in the chat, in order, edits applied, ``deleted`` flagged.

        ``text``/``caption`` are the parsed plain text; ``html`` is the raw text as sent when
        ``parse_mode`` was HTML (else None).
        """
        stored = self._messages.get(chat_id, {}).values()
        return [copy.deepcopy(m) for m in stored if m["from"]["id"] == self.bot_user["id"]]

    def photos(self, chat_id: int) -> list[StoredFile]:
        """Photos the bot sent in the chat, one per message (deleted ones included), with bytes."""
        return self._files_in(chat_id, "photo")

    def documents(self, chat_id: int) -> list[StoredFile]:
        """Documents the bot sent in the chat, one per message (deleted ones included), with bytes."""
        return self._files_in(chat_id, "document")

    def _files_in(self, chat_id: int, kind: str) -> list[StoredFile]:
        """A photo message lists sizes (the last is the largest); a document message has one file."""
        attachments = (m[kind][-1] if kind == "photo" else m[kind] for m in self.messages(chat_id) if kind in m)
        return [self._files[attachment["file_id"]] for attachment in attachments]

    # ---------------------------------------------------------------- driver: faults

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of handling them."""
        error = ApiError(status, description, retry_after)
        self._failures.setdefault(self._canonical(method), []).extend([error] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` wait ``seconds`` before being handled."""
        self._delays.setdefault(self._canonical(method), []).extend([seconds] * times)

    def drop_long_poll(self) -> bool:
        """Abort the connection of the pending long-polling getUpdates; False if none is pending."""
        return self._wake_poll(_PollOutcome.DROP)

    def _canonical(self, method: str) -> str:
        if method.lower() not in self._methods:
            raise ValueError(f"unknown Bot API method {method!r}")
        return self._methods[method.lower()][0]

    # ---------------------------------------------------------------- driver: waiting

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll ``predicate`` until true; on timeout fail with what the bot did recently."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition {getattr(predicate, '__qualname__', predicate)!s} still false after "
                    f"{timeout}s; {self._recent_activity()}"
                )
            await asyncio.sleep(0.01)

    async def wait_until_consumed(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every queued update was confirmed by an offset and the bot went quiet
        (no request other than getUpdates in flight or finished within ``QUIET_PERIOD``), so
        handlers started by those updates had a chance to reply."""

        def consumed() -> bool:
            quiet = time.monotonic() - self._last_activity >= QUIET_PERIOD
            return not self._pending and self._in_flight == 0 and quiet

        deadline = time.monotonic() + timeout
        while not consumed():
            if time.monotonic() >= deadline:
                pending = [update["update_id"] for update in self._pending]
                raise AssertionError(
                    f"updates not consumed after {timeout}s: unconfirmed {pending}, "
                    f"{self._in_flight} request(s) in flight; {self._recent_activity()}"
                )
            await asyncio.sleep(0.01)

    def _recent_activity(self) -> str:
        calls = [call.method for call in self.calls if call.method != "getUpdates"][-8:]
        errors = [f"{error.method}: {error.description}" for error in self.errors[-3:]]
        return f"last calls {calls}, last errors {errors}"

    # ---------------------------------------------------------------- driver: webhook

    async def push_webhook(
        self, update: JSON, secret_token: str | _Secret | None = CONFIGURED_SECRET, url: str | None = None
    ) -> int:
        """POST ``update`` to the URL given to setWebhook and return the HTTP status.

        The secret header carries the configured secret by default; pass a string to send a
        different one or None to omit it. ``url`` sends it to one worker behind the webhook's address
        instead, as a load balancer does. A 2xx removes the update from the pending queue.
        """
        if self._webhook is None:
            raise RuntimeError("no webhook is set")
        secret = self._webhook.get("secret_token") if secret_token is CONFIGURED_SECRET else secret_token
        headers = {SECRET_HEADER: secret} if isinstance(secret, str) else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or self._webhook["url"], json=update, headers=headers) as response,
        ):
            status = response.status
        if 200 <= status < 300:
            self._pending = [p for p in self._pending if p["update_id"] != update["update_id"]]
        return status

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """One Bot API call: token and method checks, recording, injected faults, then the handler.

        Method names are case-insensitive, as on Telegram; calls are recorded under the
        canonical camelCase name.
        """
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error_response(name, ApiError(401, "Unauthorized"))
        if name.lower() not in self._methods:
            return self._error_response(name, ApiError(404, "Not Found"))
        method, handler = self._methods[name.lower()]
        with self._activity(method):
            try:
                params = await _read_params(request)
                self.calls.append(Call(method, params))
                await self._apply_delay(method)
                self._raise_injected_failure(method)
                result = await handler(_Params(params))
            except ApiError as error:
                return self._error_response(method, error)
            except _DropConnection:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never sent: the connection is gone
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Serve uploaded bytes at ``<base_file_url><token>/<file_path>`` as ``getFile`` promises."""
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None or stored.data is None:
            raise web.HTTPNotFound
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    @contextlib.contextmanager
    def _activity(self, method: str) -> Iterator[None]:
        """Track the bot's requests (not its long polls) so ``wait_until_consumed`` sees it busy."""
        if method == "getUpdates":
            yield
            return
        self._in_flight += 1
        self._last_activity = time.monotonic()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._last_activity = time.monotonic()

    def _error_response(self, method: str, error: ApiError) -> web.Response:
        self.errors.append(ErrorReply(method, error.status, error.description, error.retry_after))
        return web.json_response(error.reply(), status=error.status)

    async def _apply_delay(self, method: str) -> None:
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.pop(0))

    def _raise_injected_failure(self, method: str) -> None:
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)

    # ---------------------------------------------------------------- update queue

    def _enqueue(self, payload: JSON) -> JSON:
        """Give the update the next id and queue it unless ``allowed_updates`` excludes its type
        (Telegram does not even create such updates)."""
        self._next_update_id += 1
        update = {"update_id": self._next_update_id, **payload}
        if self._accepts(next(iter(payload))):
            self._pending.append(update)
            self._on_new_update()
        return copy.deepcopy(update)

    def _on_new_update(self) -> None:
        self._last_activity = time.monotonic()
        self._wake_poll(_PollOutcome.UPDATE)

    def _wake_poll(self, outcome: _PollOutcome) -> bool:
        waiter = self._poll_waiter
        if waiter is None or waiter.done():
            return False
        waiter.set_result(outcome)
        return True

    def _confirm(self, offset: int) -> None:
        """Bot API offset semantics: a positive offset forgets every update below it, a negative
        one keeps only the last ``-offset`` updates, 0 changes nothing."""
        if offset > 0:
            kept = [update for update in self._pending if update["update_id"] >= offset]
        elif offset < 0:
            kept = self._pending[offset:]
        else:
            return
        if len(kept) != len(self._pending):
            self._last_activity = time.monotonic()
        self._pending = kept

    def _accepts(self, update_type: str) -> bool:
        if self._allowed_updates is None:
            return update_type not in _OPT_IN_UPDATE_TYPES
        return update_type in self._allowed_updates

    def _set_allowed_updates(self, value: Any) -> None:
        """Absent keeps the previous setting and ``[]`` restores the default, as on Telegram."""
        if value is None:
            return
        if not isinstance(value, list):
            raise ApiError.bad_request("can't parse allowed_updates JSON array")
        self._allowed_updates = frozenset(value) or None

    async def _long_poll(self, seconds: float) -> _PollOutcome | None:
        """Wait until an update arrives, another poll replaces this one, or ``seconds`` pass."""
        waiter: asyncio.Future[_PollOutcome] = asyncio.get_running_loop().create_future()
        self._poll_waiter = waiter
        try:
            return await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return None
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None

    # ---------------------------------------------------------------- world helpers

    def _require_group(self, chat_id: int) -> JSON:
        if chat_id not in self._groups:
            raise ValueError(f"unknown group {chat_id}; create it with tg.group()")
        return self._groups[chat_id]

    def _check_sender(self, user: JSON, chat: JSON) -> None:
        if user["id"] not in self._users:
            raise ValueError(f"unknown user {user['id']}; create it with tg.user()")
        if chat["type"] == "private" and chat["id"] != user["id"]:
            raise ValueError("a user can only write in their own private chat with the bot")
        if chat["type"] != "private":
            self._require_group(chat["id"])

    def _chat(self, chat_id: int) -> JSON:
        if chat_id in self._groups:
            return copy.deepcopy(self._groups[chat_id])
        if chat_id in self._users:
            return self.private_chat(self._users[chat_id])
        raise ApiError.bad_request("chat not found")

    def _writable_chat(self, params: _Params) -> JSON:
        """The target chat of a send; private chats need the user to have pressed Start."""
        chat = self._chat(params.chat_id())
        if chat["type"] == "private" and chat["id"] not in self._started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _stored(self, chat_id: int, message_id: int) -> JSON | None:
        """A live (not deleted) message of the chat."""
        message = self._messages.get(chat_id, {}).get(message_id)
        return None if message is None or message["deleted"] else message

    def _quoted(self, chat_id: int, message_id: int) -> JSON | None:
        """The message as embedded in ``reply_to_message`` (Telegram does not nest replies)."""
        message = self._stored(chat_id, message_id)
        if message is None:
            return None
        view = _api_view(message)
        view.pop("reply_to_message", None)
        return view

    def _store(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        """Record a new message in the chat with the chat's next message id."""
        chat_messages = self._messages.setdefault(chat["id"], {})
        message: JSON = {
            "message_id": max(chat_messages, default=0) + 1,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
            **content,
            "deleted": False,
        }
        message.setdefault("html", None)
        chat_messages[message["message_id"]] = message
        return message

    def _user_message(self, user: JSON, chat: JSON, text: str, reply_to_message_id: int | None) -> JSON:
        content: JSON = {"text": text}
        command = _LEADING_COMMAND.match(text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_length(command.group())}]
        if reply_to_message_id is not None:
            quoted = self._quoted(chat["id"], reply_to_message_id)
            if quoted is None:
                raise ValueError(f"message {reply_to_message_id} does not exist in chat {chat['id']}")
            content["reply_to_message"] = quoted
        return _api_view(self._store(chat, user, content))

    def _reply_target(self, params: _Params, chat_id: int) -> JSON | None:
        """Resolve ``reply_parameters`` (or the legacy ``reply_to_message_id``)."""
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, tolerate_missing = (
                reply.get("message_id"),
                bool(reply.get("allow_sending_without_reply")),
            )
        else:
            message_id, tolerate_missing = (
                params.opt_int("reply_to_message_id"),
                params.flag("allow_sending_without_reply"),
            )
        if message_id is None:
            return None
        quoted = self._quoted(chat_id, message_id)
        if quoted is None and not tolerate_missing:
            raise ApiError.bad_request("message to be replied not found")
        return quoted

    def _check_flood(self, method: str, chat: JSON) -> None:
        if self._flood is None:
            return
        wait = self._flood.acquire(chat["id"], chat["type"] in ("group", "supergroup"))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.flood_errors.append(FloodError(method, chat["id"], retry_after, wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _deliver(
        self, method: str, params: _Params, chat: JSON, content: JSON, text: _Text | None, text_key: str
    ) -> JSON:
        """Shared tail of every send: markup, reply, flood control, then store the message."""
        markup = _inline_keyboard(params.get("reply_markup"))
        quoted = self._reply_target(params, chat["id"])
        self._check_flood(method, chat)
        if quoted is not None:
            content = {"reply_to_message": quoted, **content}
        message = self._store(chat, self.bot_user, content)
        _set_text(message, text, text_key)
        _set_markup(message, markup)
        return _api_view(message)

    def _input_file(self, params: _Params, kind: str) -> StoredFile:
        """Resolve a photo/document parameter: an upload, ``attach://`` part, known file_id or URL."""
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        number = len(self._files) + 1
        if isinstance(value, Upload):
            suffix = "." + value.filename.rsplit(".", 1)[-1] if value.filename and "." in value.filename else ""
            return StoredFile(
                f"fake-{kind}-{number}",
                f"uniq-{number}",
                f"{kind}s/file_{number}{suffix}",
                value.filename,
                value.content_type,
                value.data,
            )
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return StoredFile(f"fake-{kind}-{number}", f"uniq-{number}", f"{kind}s/file_{number}", None, None, None)
        if value is None:
            raise ApiError.bad_request(f"there is no {kind} in the request")
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    def _editable(self, params: _Params, not_found: str = "message to edit not found") -> JSON:
        if params.get("inline_message_id") is not None:
            raise ApiError.bad_request("MESSAGE_ID_INVALID")  # inline mode is not modelled
        chat_id, message_id = params.chat_id(), params.opt_int("message_id")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        message = self._stored(chat_id, message_id)
        if message is None:
            raise ApiError.bad_request(not_found)
        if message["from"]["id"] != self.bot_user["id"]:
            raise ApiError.bad_request("message can't be edited")
        return message

    @staticmethod
    def _apply_edit(message: JSON, markup: JSON | None, change: Callable[[JSON], None]) -> JSON:
        """Apply an edit in place; like Telegram, refuse one that changes nothing."""
        edited = copy.deepcopy(message)
        change(edited)
        _set_markup(edited, markup)
        if _api_view(edited) == _api_view(message):
            raise ApiError.bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited["edit_date"] = int(time.time())
        message.clear()
        message.update(edited)
        return _api_view(message)

    # ---------------------------------------------------------------- Bot API methods

    async def _ok(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._wake_poll(_PollOutcome.CONFLICT)
        self._set_allowed_updates(params.get("allowed_updates"))
        self._confirm(params.opt_int("offset") or 0)
        limit = min(max(params.opt_int("limit") or 100, 1), 100)
        timeout = params.opt_number("timeout") or 0.0
        if not self._pending and timeout > 0:
            outcome = await self._long_poll(timeout)
            if outcome is _PollOutcome.CONFLICT:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if outcome is _PollOutcome.DROP:
                raise _DropConnection
        return copy.deepcopy(self._pending[:limit])

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.opt_str("url") or ""
        secret = params.opt_str("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        self._set_allowed_updates(params.get("allowed_updates"))
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._webhook = {"url": url, "secret_token": secret} if url else None
        self._wake_poll(_PollOutcome.CONFLICT)
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._webhook = None
        return True

    async def _get_webhook_info(self, params: _Params) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._pending)}
        if self._webhook is not None:
            info |= {"url": self._webhook["url"], "max_connections": 40}
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        language = params.opt_str("language_code") or ""
        if not _LANGUAGE_CODE.fullmatch(language):
            raise ApiError.bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _set_my_commands(self, params: _Params) -> bool:
        self._commands[self._commands_key(params)] = _check_commands(params.get("commands"))
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: _Params) -> JSON:
        chat = self._writable_chat(params)
        return self._deliver("sendMessage", params, chat, {}, _message_text(params), "text")

    async def _edit_message_text(self, params: _Params) -> JSON:
        message = self._editable(params)
        if "text" not in message:
            raise ApiError.bad_request("there is no text in the message to edit")
        text = _message_text(params)
        markup = _inline_keyboard(params.get("reply_markup"))
        return self._apply_edit(message, markup, lambda edited: _set_text(edited, text, "text"))

    async def _edit_message_caption(self, params: _Params) -> JSON:
        message = self._editable(params)
        if not {"photo", "document"} & message.keys():
            raise ApiError.bad_request("there is no caption in the message to edit")
        caption = _caption(params)
        markup = _inline_keyboard(params.get("reply_markup"))
        return self._apply_edit(message, markup, lambda edited: _set_text(edited, caption, "caption"))

    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        message = self._editable(params)
        markup = _inline_keyboard(params.get("reply_markup"))
        return self._apply_edit(message, markup, lambda edited: None)

    async def _delete_message(self, params: _Params) -> bool:
        chat_id = params.chat_id()
        message = self._stored(chat_id, params.req_int("message_id"))
        if message is None:
            raise ApiError.bad_request("message to delete not found")
        foreign = message["from"]["id"] != self.bot_user["id"]
        bot_is_admin = self.bot_user["id"] in self._admins.get(chat_id, {})
        if foreign and message["chat"]["type"] != "private" and not bot_is_admin:
            raise ApiError.bad_request("message can't be deleted")
        message["deleted"] = True
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.opt_str("callback_query_id")
        text = params.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        if query_id not in self._open_queries:
            raise ApiError.bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open_queries.remove(query_id)
        self.callback_answers.append(CallbackAnswer(query_id, text, params.flag("show_alert")))
        return True

    async def _send_photo(self, params: _Params) -> JSON:
        chat = self._writable_chat(params)
        caption = _caption(params)
        stored = self._input_file(params, "photo")
        width, height = _image_size(stored.data) if stored.data is not None else (0, 0)
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
        }
        if stored.data is not None:
            size["file_size"] = len(stored.data)
        message = self._deliver("sendPhoto", params, chat, {"photo": [size]}, caption, "caption")
        self._files[stored.file_id] = stored
        return message

    async def _send_document(self, params: _Params) -> JSON:
        chat = self._writable_chat(params)
        caption = _caption(params)
        stored = self._input_file(params, "document")
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        optional: JSON = {
            "file_name": stored.filename,
            "mime_type": stored.mime_type,
            "file_size": len(stored.data) if stored.data is not None else None,
        }
        document |= {key: value for key, value in optional.items() if value is not None}
        message = self._deliver("sendDocument", params, chat, {"document": document}, caption, "caption")
        self._files[stored.file_id] = stored
        return message

    async def _send_poll(self, params: _Params) -> JSON:
        chat = self._writable_chat(params)
        question = params.opt_str("question") or ""
        if not question.strip():
            raise ApiError.bad_request("poll question must be non-empty")
        if len(question) > MAX_POLL_QUESTION_LENGTH:
            raise ApiError.bad_request(f"poll question length must not exceed {MAX_POLL_QUESTION_LENGTH}")
        options = _poll_options(params.get("options"))
        poll = {
            "id": str(len(self.calls)),
            "question": question,
            "options": [
                {"persistent_id": str(number), "text": text, "voter_count": 0} for number, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": params.flag("is_anonymous", default=True),
            "type": params.opt_str("type") or "regular",
            "allows_multiple_answers": params.flag("allows_multiple_answers"),
            "allows_revoting": params.flag("allows_revoting"),
            "members_only": params.flag("members_only"),
        }
        return self._deliver("sendPoll", params, chat, {"poll": poll}, None, "text")

    async def _send_chat_action(self, params: _Params) -> bool:
        self._writable_chat(params)
        if params.opt_str("action") not in _CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        return True

    async def _get_chat(self, params: _Params) -> JSON:
        chat = self._chat(params.chat_id())
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return chat | {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    def _member_user(self, user_id: int) -> JSON:
        if user_id == self.bot_user["id"]:
            return copy.deepcopy(self.bot_user)
        if user_id not in self._users:
            raise ApiError.bad_request("user not found")
        return copy.deepcopy(self._users[user_id])

    async def _get_chat_member(self, params: _Params) -> JSON:
        chat = self._chat(params.chat_id())
        user_id = params.req_int("user_id")
        status = self._admins.get(chat["id"], {}).get(user_id, "member")
        return _chat_member(self._member_user(user_id), status)

    async def _get_chat_administrators(self, params: _Params) -> list[JSON]:
        chat = self._chat(params.chat_id())
        if chat["type"] == "private":
            raise ApiError.bad_request("there are no administrators in the private chat")
        admins = sorted(self._admins.get(chat["id"], {}).items(), key=lambda item: item[1] != "creator")
        return [_chat_member(self._member_user(user_id), status) for user_id, status in admins]

    async def _get_file(self, params: _Params) -> JSON:
        stored = self._files.get(params.opt_str("file_id") or "")
        if stored is None:
            raise ApiError.bad_request("wrong file_id or the file is temporarily unavailable")
        result: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.data is not None:
            result["file_size"] = len(stored.data)
        return result
