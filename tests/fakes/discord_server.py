"""A fake Discord (REST ``/api/v10`` + gateway WebSocket) an unmodified discord.py client runs against.

Why a server and not mocks: the Discord adapter's bugs live in the seams discord.py hides — the 3-second
acknowledgement window, "respond exactly once", follow-ups riding on the interaction token, 429 handling,
payload limits Discord enforces server-side, RESUME after a dropped socket. Mocking discord.py's objects
would test our assumptions about those seams; running the real library against a server that enforces
them tests the adapter.

Point discord.py at it (both are read at call time, so patch before ``login``/``connect``)::

    discord.http.Route.BASE = f"{fake.url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.ws_url)

The gateway serves JSON; when the client asks for ``compress=zlib-stream`` (discord.py's default without
zstd installed) frames are zlib-stream compressed exactly like Discord's. For ``zstd-stream`` it falls back
to plain text frames, which discord.py also accepts.

Sharding works as on Discord, so several clients (processes) can share one bot: every IDENTIFY opens a
session on the ``shard: [id, count]`` it names (``[0, 1]`` when it names none), and each session gets the
events of the guilds with ``(guild_id >> 22) % count == id`` (:func:`shard_for`, computed per session with
its own count) — their GUILD_CREATE, the interactions in them — while events outside any guild (direct
messages) go to shard 0. ``GET /gateway/bot`` recommends ``recommended_shards``. Two sessions on the same
shard both get its events, exactly what Discord does to two processes that both run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import math
import mimetypes
import os
import re
import secrets
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]
Path = tuple[str | int, ...]
T = TypeVar("T")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
RESPONSE_WINDOW = 3.0  # seconds Discord waits for the initial interaction response
# Every fake server's interactions that nobody acknowledged in time, noted as each server closes, so one
# check over the whole test session (tests/conftest.py) finds a member left with "This interaction failed".
NEVER_ACKNOWLEDGED: list[str] = []
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token stays usable for follow-ups

# Message flags.
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
COMPONENTS_V2 = 1 << 15
_SENDABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2

# Permission bits the fake checks or hands out.
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = 8_866_461_766_385_663  # every bit Discord defines today (== discord.Permissions.all())
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES

# Gateway intents that decide whether the bot sees its own messages echoed as MESSAGE_CREATE.
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12

# Component types.
ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SECTION, TEXT_DISPLAY, CONTAINER, LABEL = 9, 10, 17, 18
RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX = 21, 22, 23
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
_V2_TOP_LEVEL = frozenset({ACTION_ROW, SECTION, TEXT_DISPLAY, 12, 13, 14, CONTAINER})
_MODAL_INPUTS = frozenset({TEXT_INPUT, *SELECT_TYPES, 19, RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX})

# Interaction types and the response types Discord accepts for each.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
_ALLOWED_RESPONSES = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}

# What an id in an option / select resolves to.
_OPTION_RESOLVES = {6: "user", 7: "channel", 8: "role", 9: "mentionable"}
_SELECT_RESOLVES = {5: "user", 6: "role", 7: "mentionable", 8: "channel"}
_COMMAND_NAME = re.compile(r"[-_\w]{1,32}")

# Parsed request bodies ride on the request. aiohttp >= 3.13 warns (an error under filterwarnings=error)
# about plain-string request keys, so use typed keys where they exist.
if hasattr(web, "RequestKey"):
    _BODY: Any = web.RequestKey("fake_discord_body", object)
    _FILES: Any = web.RequestKey("fake_discord_files", dict)
else:
    _BODY, _FILES = "fake_discord_body", "fake_discord_files"


# --------------------------------------------------------------------------- errors and records


class ApiError(Exception):
    """An error reply in Discord's shape; raised anywhere in a handler and rendered by the middleware."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        *,
        errors: JSON | None = None,
        extra: JSON | None = None,
        headers: Mapping[str, str] | None = None,
        injected: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.errors, self.extra, self.headers = errors, extra or {}, dict(headers or {})
        self.injected = injected

    def body(self) -> JSON:
        body: JSON = {"message": self.message, **self.extra}
        if self.code is not None:
            body["code"] = self.code
        if self.errors:
            body["errors"] = self.errors
        return body


def _rate_limited(
    retry_after: float, *, is_global: bool, headers: Mapping[str, str] | None = None, injected: bool = False
) -> ApiError:
    """A 429 as Discord sends it; the ``Via`` header is what tells discord.py it is not a Cloudflare ban."""
    return ApiError(
        429,
        None,
        "You are being rate limited.",
        extra={"retry_after": retry_after, "global": is_global},
        headers={
            **(headers or {}),
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
            **({"X-RateLimit-Global": "true"} if is_global else {}),
        },
        injected=injected,
    )


class Call(NamedTuple):
    """One REST request the bot made (path is relative to ``/api/v10``, without the query)."""

    method: str
    path: str
    json: Any
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An error reply the fake returned; ``injected`` marks the ones a test asked for."""

    method: str
    path: str
    status: int
    code: int | None
    message: str
    injected: bool = False


@dataclass(slots=True)
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    retry_after: float
    is_global: bool
    remaining: int


# --------------------------------------------------------------------------- payload validation


class _Problems:
    """Collects form-body problems and renders them as Discord's nested ``errors`` object (code 50035)."""

    def __init__(self) -> None:
        self._items: list[tuple[Path, str, str]] = []

    def add(self, path: Path, code: str, message: str) -> None:
        self._items.append((path, code, message))

    def max_len(self, path: Path, value: Any, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def between(self, path: Path, value: Any, low: int, high: int) -> None:
        if value is None:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def in_range(self, path: Path, value: Any, low: int, high: int) -> None:
        if value is not None and value < low:
            self.add(path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        if value is not None and value > high:
            self.add(path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")

    def raise_if_any(self) -> None:
        if not self._items:
            return
        errors: JSON = {}
        for path, code, message in self._items:
            node = errors
            for key in path:
                node = node.setdefault(str(key), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        raise ApiError(400, 50035, "Invalid Form Body", errors=errors)


def _check_message(p: _Problems, message: JSON, path: Path) -> None:
    """Discord's limits on anything that becomes a message (sends, edits, interaction replies)."""
    p.max_len((*path, "content"), message.get("content"), 2000)
    _check_embeds(p, message.get("embeds") or [], (*path, "embeds"))
    p.max_len((*path, "attachments"), message.get("attachments"), 10)
    components = message.get("components") or []
    if message.get("flags", 0) & COMPONENTS_V2:
        _check_v2_components(p, message, components, path)
    else:
        _check_action_rows(p, components, (*path, "components"))
    _check_unique_custom_ids(p, components, (*path, "components"))


def _check_embeds(p: _Problems, embeds: Sequence[JSON], path: Path) -> None:
    p.max_len(path, embeds, 10)
    total = sum(_check_embed(p, embed, (*path, index)) for index, embed in enumerate(embeds))
    if total > 6000:
        p.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _check_embed(p: _Problems, embed: JSON, path: Path) -> int:
    """Checks one embed and returns its character count towards the 6000 total."""
    size = 0
    for keys, limit in ((("title",), 256), (("description",), 4096), (("footer", "text"), 2048)):
        size += _check_text(p, embed, keys, limit, path)
    size += _check_text(p, embed, ("author", "name"), 256, path)
    fields = embed.get("fields") or []
    p.max_len((*path, "fields"), fields, 25)
    for index, item in enumerate(fields):
        p.between((*path, "fields", index, "name"), item.get("name"), 1, 256)
        p.between((*path, "fields", index, "value"), item.get("value"), 1, 1024)
        size += len(item.get("name") or "") + len(item.get("value") or "")
    return size


def _check_text(p: _Problems, node: JSON, keys: tuple[str, ...], limit: int, path: Path) -> int:
    value: Any = node
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    p.max_len(path + keys, value, limit)
    return len(value or "")


def _check_action_rows(p: _Problems, rows: Sequence[JSON], path: Path) -> None:
    p.max_len(path, rows, 5)
    for index, row in enumerate(rows):
        if row.get("type") != ACTION_ROW:
            p.add((*path, index, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1}.")
        else:
            _check_action_row(p, row, (*path, index))


def _check_action_row(p: _Problems, row: JSON, path: Path) -> None:
    children = row.get("components") or []
    path = (*path, "components")
    if not children:
        p.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    if any(child.get("type") in SELECT_TYPES for child in children) and len(children) > 1:
        p.add(path, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width")
    p.max_len(path, children, 5)
    for index, child in enumerate(children):
        if child.get("type") == BUTTON:
            _check_button(p, child, (*path, index))
        elif child.get("type") in SELECT_TYPES:
            _check_select(p, child, (*path, index))
        else:
            p.add((*path, index, "type"), "BASE_TYPE_CHOICES", "Value must be one of {2, 3, 5, 6, 7, 8}.")


def _check_button(p: _Problems, button: JSON, path: Path) -> None:
    p.max_len((*path, "label"), button.get("label"), 80)
    style = button.get("style")
    if style == 5:
        p.between((*path, "url"), button.get("url"), 1, 512)
        if button.get("custom_id") is not None:
            p.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A link button cannot have a custom id",
            )
    elif style == 6:
        p.between((*path, "sku_id"), button.get("sku_id"), 1, 20)
    elif style in (1, 2, 3, 4):
        _check_custom_id(p, button, path)
    else:
        p.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")


def _check_select(p: _Problems, select: JSON, path: Path) -> None:
    _check_custom_id(p, select, path)
    p.max_len((*path, "placeholder"), select.get("placeholder"), 150)
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    p.in_range((*path, "min_values"), low, 0, 25)
    p.in_range((*path, "max_values"), high, 1, 25)
    if low > high:
        p.add(
            (*path, "min_values"),
            "SELECT_COMPONENT_MIN_VALUES_EXCEEDED",
            "min_values must not exceed max_values",
        )
    if select.get("type") == STRING_SELECT:
        options = select.get("options")
        p.between((*path, "options"), options, 1, 25)
        for index, option in enumerate(options or []):
            p.between((*path, "options", index, "label"), option.get("label"), 1, 100)
            p.between((*path, "options", index, "value"), option.get("value"), 1, 100)
            p.max_len((*path, "options", index, "description"), option.get("description"), 100)
        if options and high > len(options):
            p.add(
                (*path, "max_values"),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {len(options)}.",
            )


def _check_custom_id(p: _Problems, component: JSON, path: Path) -> None:
    p.between((*path, "custom_id"), component.get("custom_id"), 1, 100)


def _check_v2_components(p: _Problems, message: JSON, components: Sequence[JSON], path: Path) -> None:
    """Components V2 replace content/embeds, allow 40 components in all and nest rows in containers."""
    if message.get("content") or message.get("embeds"):
        p.add(
            (*path, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    for index, component in enumerate(components):
        if component.get("type") not in _V2_TOP_LEVEL:
            p.add((*path, "components", index, "type"), "BASE_TYPE_CHOICES", "Invalid top-level component type.")
    walked = list(_walk(components))
    if len(walked) > 40:
        p.add((*path, "components"), "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
    for index, component in enumerate(walked):
        if component.get("type") == ACTION_ROW:
            _check_action_row(p, component, (*path, "components", index))
    text = sum(len(c.get("content") or "") for c in walked if c.get("type") == TEXT_DISPLAY)
    if text > 4000:
        p.add(
            (*path, "components"),
            "BASE_TYPE_MAX_LENGTH",
            "Text displays must total 4000 or fewer characters.",
        )


def _check_unique_custom_ids(p: _Problems, components: Sequence[JSON], path: Path) -> None:
    seen: set[str] = set()
    for component in _walk(components):
        custom_id = component.get("custom_id")
        if custom_id in seen:
            p.add(path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        if custom_id is not None:
            seen.add(custom_id)


def _check_modal(p: _Problems, modal: JSON, path: Path) -> None:
    p.between((*path, "title"), modal.get("title"), 1, 45)
    _check_custom_id(p, modal, path)
    components = modal.get("components")
    p.between((*path, "components"), components, 1, 5)
    for index, component in enumerate(components or []):
        _check_modal_component(p, component, (*path, "components", index))
    _check_unique_custom_ids(p, components or [], (*path, "components"))


def _check_modal_component(p: _Problems, component: JSON, path: Path) -> None:
    kind = component.get("type")
    if kind == ACTION_ROW:
        children = component.get("components") or []
        if len(children) != 1 or children[0].get("type") != TEXT_INPUT:
            p.add(
                (*path, "components"),
                "BASE_TYPE_BAD_LENGTH",
                "A modal action row holds exactly one text input.",
            )
        else:
            _check_text_input(p, children[0], (*path, "components", 0), in_label=False)
    elif kind == LABEL:
        p.between((*path, "label"), component.get("label"), 1, 45)
        p.max_len((*path, "description"), component.get("description"), 100)
        _check_labelled(p, component.get("component") or {}, (*path, "component"))
    elif kind == TEXT_DISPLAY:
        p.max_len((*path, "content"), component.get("content"), 4000)
    else:
        p.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 10, 18}.")


def _check_labelled(p: _Problems, inner: JSON, path: Path) -> None:
    kind = inner.get("type")
    if kind == TEXT_INPUT:
        _check_text_input(p, inner, path, in_label=True)
    elif kind in SELECT_TYPES:
        _check_select(p, inner, path)
    elif kind in _MODAL_INPUTS:
        _check_custom_id(p, inner, path)
    else:
        p.add((*path, "type"), "BASE_TYPE_CHOICES", "A label wraps a text input, select or choice component.")


def _check_text_input(p: _Problems, text_input: JSON, path: Path, *, in_label: bool) -> None:
    _check_custom_id(p, text_input, path)
    if text_input.get("style") not in (1, 2):
        p.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if in_label:
        p.max_len((*path, "label"), text_input.get("label"), 45)
    else:
        p.between((*path, "label"), text_input.get("label"), 1, 45)
    p.max_len((*path, "value"), text_input.get("value"), 4000)
    p.max_len((*path, "placeholder"), text_input.get("placeholder"), 100)
    p.in_range((*path, "min_length"), text_input.get("min_length"), 0, 4000)
    p.in_range((*path, "max_length"), text_input.get("max_length"), 1, 4000)


def _check_commands(p: _Problems, commands: Sequence[JSON]) -> None:
    p.max_len((), commands, 100)
    seen: set[tuple[Any, Any]] = set()
    for index, command in enumerate(commands):
        _check_command(p, command, (index,))
        key = (command.get("name"), command.get("type", 1))
        if key in seen:
            p.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)


def _check_command(p: _Problems, command: JSON, path: Path) -> None:
    if command.get("type", 1) == 1:
        _check_name(p, command.get("name"), (*path, "name"))
        p.between((*path, "description"), command.get("description"), 1, 100)
    else:  # context menus: any casing, no description
        p.between((*path, "name"), command.get("name"), 1, 32)
    _check_options(p, command.get("options") or [], (*path, "options"))


def _check_name(p: _Problems, name: Any, path: Path) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        p.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_options(p: _Problems, options: Sequence[JSON], path: Path) -> None:
    p.max_len(path, options, 25)
    optional_seen = False
    for index, option in enumerate(options):
        here = (*path, index)
        _check_name(p, option.get("name"), (*here, "name"))
        p.between((*here, "description"), option.get("description"), 1, 100)
        _check_choices(p, option.get("choices") or [], (*here, "choices"))
        if option.get("type") in (1, 2):
            _check_options(p, option.get("options") or [], (*here, "options"))
        elif option.get("required") and optional_seen:
            p.add(
                (*here, "required"),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        optional_seen = optional_seen or not option.get("required")


def _check_choices(p: _Problems, choices: Sequence[JSON], path: Path) -> None:
    p.max_len(path, choices, 25)
    for index, choice in enumerate(choices):
        p.between((*path, index, "name"), choice.get("name"), 1, 100)
        if isinstance(choice.get("value"), str):
            p.max_len((*path, index, "value"), choice["value"], 100)


def _walk(components: Sequence[JSON]) -> Iterator[JSON]:
    """Every component in a tree: rows, containers, sections' accessories and labels' children."""
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(component.get(key), dict):
                yield from _walk([component[key]])


def _find_component(components: Sequence[JSON], custom_id: str) -> JSON | None:
    return next((c for c in _walk(components) if c.get("custom_id") == custom_id), None)


# --------------------------------------------------------------------------- small payload helpers


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON reply with ``Content-Type`` exactly ``application/json``: discord.py compares it verbatim."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _user_payload(user_id: int, name: str, *, bot: bool = False) -> JSON:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


def _numbered(components: Sequence[JSON]) -> list[JSON]:
    """A copy with numeric ``id``s filled in depth-first, as Discord assigns them on stored messages."""
    result = copy.deepcopy(list(components))
    used = {c["id"] for c in _walk(result) if isinstance(c.get("id"), int)}
    counter = 0
    for component in _walk(result):
        if "id" not in component:
            counter += 1
            while counter in used:
                counter += 1
            component["id"] = counter
    return result


def _is_empty(message: JSON) -> bool:
    keys = ("content", "embeds", "components", "attachments", "sticker_items", "poll")
    return not any(message.get(key) for key in keys)


class _Snowflakes:
    """Increasing snowflakes with a real timestamp, so ``discord.utils.snowflake_time`` stays sensible."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, self._last + 1)
        return self._last


class _RateLimiter:
    """Fixed-window per-route buckets reported in ``X-RateLimit-*`` headers.

    discord.py paces itself from these headers, so a bursting bot is slowed here the way production slows
    it instead of sailing through; exceeding a bucket anyway gets a real 429.
    """

    def __init__(self, limit: int, window: float) -> None:
        self._limit, self._window = limit, window
        self._buckets: dict[str, tuple[float, int]] = {}

    def hit(self, route: str, major: str) -> dict[str, str]:
        now = time.time()
        started, used = self._buckets.get(f"{route}:{major}", (now, 0))
        if now - started >= self._window:
            started, used = now, 0
        used += 1
        self._buckets[f"{route}:{major}"] = (started, used)
        reset_after = max(self._window - (now - started), 0.001)
        headers = {
            "X-RateLimit-Limit": str(self._limit),
            "X-RateLimit-Remaining": str(max(self._limit - used, 0)),
            "X-RateLimit-Reset": f"{now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }
        if used > self._limit:
            raise _rate_limited(round(reset_after, 3), is_global=False, headers=headers)
        return headers


# --------------------------------------------------------------------------- guild model and gateway pieces


@dataclass(slots=True)
class _Member:
    user_id: int
    roles: list[int]
    joined_at: str
    nick: str | None = None


@dataclass(slots=True)
class _Guild:
    id: int
    name: str
    owner_id: int
    joined_at: str
    roles: dict[int, JSON] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, _Member] = field(default_factory=dict)

    def permissions(self, user_id: int) -> int:
        """Guild-level permissions (no channel overwrites): owner and administrator get everything."""
        member = self.members.get(user_id)
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = int(self.roles[self.id]["permissions"])
        for role_id in member.roles if member else []:
            value |= int(self.roles[role_id]["permissions"])
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value


def shard_for(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


@dataclass(slots=True)
class _Session:
    """One IDENTIFYed gateway session: its shard, its socket (``None`` while dropped) and its numbered
    events, kept for RESUME."""

    session_id: str
    shard: tuple[int, int] = (0, 1)
    conn: _Connection | None = None
    seq: int = 0
    history: list[JSON] = field(default_factory=list)

    def receives(self, guild_id: int | None) -> bool:
        """Whether Discord sends this session an event of ``guild_id`` (``None``: outside a guild, a DM)."""
        shard_id, shard_count = self.shard
        return shard_id == (0 if guild_id is None else shard_for(guild_id, shard_count))


class _Connection:
    """One client socket; sends are serialised because zlib-stream frames share one compressor."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._lock = asyncio.Lock()

    async def send(self, frame: JSON) -> None:
        text = json.dumps(frame)
        async with self._lock:
            if self.ws.closed:
                return  # the frame stays in the session history for RESUME
            with contextlib.suppress(ConnectionResetError):
                if self._zlib is None:
                    await self.ws.send_str(text)
                else:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)


# --------------------------------------------------------------------------- interaction handle


class InteractionHandle:
    """A dispatched interaction: await the bot's answer and inspect what it produced.

    ``original`` and ``followups`` read the message store, so they show messages as they are now (after
    edits); a deleted message disappears from them.
    """

    def __init__(self, payload: JSON, dispatched_at: float, messages: Mapping[int, JSON]) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.dispatched_at = dispatched_at
        self.callback: JSON | None = None
        self.acked_at: float | None = None
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        self.modal_open = False
        self.lapse_expected = False  # set by :meth:`FakeDiscordServer.expect_unacknowledged`
        # ``(shard_id, shard_count)`` of each gateway session INTERACTION_CREATE went to: one for a client
        # running the guild's shard, none when no client does (nobody can answer, as on Discord).
        self.shards: list[tuple[int, int]] = []
        self._messages = messages
        self._answered: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} callback={self.callback!r}>"

    async def response(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109 - the driver API asks for it
        """The initial callback body (``{"type": ..., "data": ...}``) once the bot sends an accepted one."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._answered), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not answer interaction {self.id} within {timeout}s") from None

    @property
    def original(self) -> JSON | None:
        return None if self.original_id is None else self._messages.get(self.original_id)

    @property
    def followups(self) -> list[JSON]:
        return [self._messages[i] for i in self.followup_ids if i in self._messages]

    @property
    def ephemeral(self) -> bool:
        original = self.original
        if original is not None:
            return bool(original["flags"] & EPHEMERAL)
        data = (self.callback or {}).get("data") or {}
        return bool(data.get("flags", 0) & EPHEMERAL)

    @property
    def acked_within(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def message_id(self) -> int | None:
        """The message a component or component-born modal interaction came from."""
        message = self.payload.get("message")
        return None if message is None else int(message["id"])

    def acknowledge(self, body: JSON, at: float, original_id: int | None) -> None:
        self.callback, self.acked_at, self.original_id = body, at, original_id
        self.modal_open = body.get("type") == 9
        if not self._answered.done():
            self._answered.set_result(body)


# --------------------------------------------------------------------------- the server


class FakeDiscordServer:
    """Discord's REST API and gateway on ``127.0.0.1`` (random port), plus a driver API for tests.

    Configure guilds/users/members before the client connects (they go out in GUILD_CREATE at IDENTIFY),
    then drive interactions with :meth:`slash`, :meth:`click`, :meth:`select`, :meth:`submit_modal` and
    :meth:`autocomplete`. ``time_scale`` shrinks Discord's clocks (3 s response window, 15 min token life)
    so lateness can be tested quickly. Several clients may connect at once, each on its own shards (see
    the module docstring); ``recommended_shards`` is the count ``GET /gateway/bot`` recommends.
    """

    def __init__(
        self,
        *,
        app_id: int = 100_000_000_000_000_001,
        bot_user_id: int = 100_000_000_000_000_002,
        token: str = "fake-bot-token",
        bot_name: str = "CrowdPulse",
        time_scale: float = 1.0,
        rate_limit: int = 50,
        rate_window: float = 1.0,
        heartbeat_interval_ms: int = 41_250,
        recommended_shards: int = 1,
    ) -> None:
        self.app_id, self.bot_user_id, self.token = app_id, bot_user_id, token
        self.time_scale = time_scale
        self.recommended_shards = recommended_shards
        self.calls: list[Call] = []
        self.errors: list[ErrorRecord] = []
        self.crashes: list[Exception] = []
        self.interactions: list[InteractionHandle] = []
        self.identify_count = 0
        self.resume_count = 0
        self.invalid_session_next = False
        self.intents = 0
        self.presence: JSON | None = None
        self._heartbeat_ms = heartbeat_interval_ms
        self._ids = _Snowflakes()
        self._bot = _user_payload(bot_user_id, bot_name, bot=True)
        self._owner = _user_payload(self._ids.next(), "app-owner")
        self._users: dict[int, JSON] = {bot_user_id: self._bot}
        self._dms_closed: set[int] = set()
        self._guilds: dict[int, _Guild] = {}
        self._channels: dict[int, JSON] = {}
        self._dm_by_user: dict[int, int] = {}
        self._messages: dict[int, JSON] = {}
        self._channel_log: dict[int, list[int]] = {}
        self._blobs: dict[int, bytes] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._by_id: dict[int, InteractionHandle] = {}
        self._by_token: dict[str, InteractionHandle] = {}
        self._faults: list[_Fault] = []
        self._limiter = _RateLimiter(rate_limit, rate_window)
        self._sessions: dict[str, _Session] = {}  # by session id, in IDENTIFY order
        self._sockets: set[web.WebSocketResponse] = set()
        self._dispatch_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.ws_url = ""

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeDiscordServer:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app.router)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/gateway"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """Closes sockets (code 1001) and the server, then re-raises the fake's own crashes, which
        discord.py would otherwise hide behind retries. Close the discord.py client first.

        The interactions left unacknowledged are noted in :data:`NEVER_ACKNOWLEDGED` for the session's check.
        """
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside pytest").rsplit(" (", 1)[0]  # less its phase
        NEVER_ACKNOWLEDGED.extend(f"{test}: {handle!r}" for handle in self.unacknowledged)
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        if self.crashes and exc_type is None:
            raise RuntimeError(f"the fake Discord server crashed {len(self.crashes)}x") from self.crashes[0]

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        api = API_PREFIX
        webhook_message = "/webhooks/{app_id}/{token}/messages/{message_id:@original|\\d+}"
        router.add_get("/gateway", self._gateway)
        router.add_get(r"/attachments/{channel_id:\d+}/{attachment_id:\d+}/{filename}", self._get_attachment)
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", webhook_message, self._get_webhook_message),
            ("PATCH", webhook_message, self._edit_webhook_message),
            ("DELETE", webhook_message, self._delete_webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._create_channel_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_channel_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_channel_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_channel_message),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]
        for method, path, handler in routes:  # ids are numeric, so a bad one is a 404 rather than a crash
            router.add_route(method, api + re.sub(r"\{(\w+_id)\}", r"{\1:\\d+}", path), handler)

    # ----------------------------------------------------------------- configuration (driver API)

    def user(self, user_id: int, name: str, *, dms_closed: bool = False, bot: bool = False) -> JSON:
        """Registers a user; ``dms_closed`` makes messages to their DM channel fail with 403/50007."""
        self._users[user_id] = _user_payload(user_id, name, bot=bot)
        if dms_closed:
            self._dms_closed.add(user_id)
        return self._users[user_id]

    def guild(
        self,
        guild_id: int,
        name: str,
        channels: Sequence[int | tuple[int, str]] = (),
        *,
        owner_id: int | None = None,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> JSON:
        """Adds a guild the bot is in, with text channels, @everyone and the bot's managed role.

        Must be called before the client IDENTIFYs: guilds reach discord.py through GUILD_CREATE.
        """
        self._require_offline("guilds")
        guild = _Guild(guild_id, name, owner_id or self._ids.next(), _now())
        guild.roles[guild_id] = self._role_payload(guild_id, "@everyone", everyone_permissions, position=0)
        self._guilds[guild_id] = guild
        bot_role = self.role(guild_id, self._ids.next(), self._bot["username"], bot_permissions)
        bot_role.update(managed=True, tags={"bot_id": str(self.bot_user_id)})
        guild.members[self.bot_user_id] = _Member(self.bot_user_id, [int(bot_role["id"])], guild.joined_at)
        for position, spec in enumerate(channels):
            channel_id, channel_name = spec if isinstance(spec, tuple) else (spec, f"channel-{spec}")
            self._channels[channel_id] = self._text_channel(guild_id, channel_id, channel_name, position)
            guild.channel_ids.append(channel_id)
        return self._guild_payload(guild)

    def role(self, guild_id: int, role_id: int, name: str, permissions: int = 0) -> JSON:
        """Adds a role members can be given through ``member(..., roles=[role_id])``; before connecting,
        since discord.py only learns roles from GUILD_CREATE here."""
        self._require_offline("roles")
        guild = self._guilds[guild_id]
        guild.roles[role_id] = self._role_payload(role_id, name, permissions, position=len(guild.roles))
        return guild.roles[role_id]

    def _require_offline(self, what: str) -> None:
        if self._sessions:
            raise RuntimeError(f"configure {what} before the client connects (they are sent at IDENTIFY)")

    def member(
        self,
        guild_id: int,
        user_id: int,
        name: str | None = None,
        *,
        permissions: int | None = None,
        roles: Sequence[int] = (),
    ) -> JSON:
        """Makes a user a guild member. ``permissions`` become a personal role on top of @everyone (so
        before connecting); a member without one may be added later, interactions carry member data."""
        guild = self._guilds[guild_id]
        if user_id not in self._users:
            self.user(user_id, name or f"user{user_id}")
        role_ids = list(roles)
        if permissions is not None:
            role_ids.append(int(self.role(guild_id, self._ids.next(), f"{name or user_id}-perms", permissions)["id"]))
        guild.members[user_id] = _Member(user_id, role_ids, _now())
        return self._member_payload(guild, user_id)

    # ----------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> None:
        """Makes the next ``times`` matching requests fail; ``path`` is a regex full-matched against the
        path below ``/api/v10`` (e.g. ``r"/channels/\\d+/messages"``). 429s carry ``Via`` and ``retry_after``
        so discord.py retries them; 5xx get ``{"code": 0}`` (discord.py retries those after 1 s, 3 s...).
        """
        self._faults.append(_Fault(method.upper(), re.compile(path), status, retry_after, is_global, times))

    def _injected_fault(self, method: str, path: str) -> ApiError | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.method == method and fault.path.fullmatch(path):
                fault.remaining -= 1
                if fault.status == 429:
                    return _rate_limited(fault.retry_after, is_global=fault.is_global, injected=True)
                return ApiError(fault.status, 0, f"{fault.status}: Injected Server Error", injected=True)
        return None

    # ----------------------------------------------------------------- inspection (driver API)

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[JSON]:
        """Messages now in a channel, oldest first; ephemeral interaction replies only on request."""
        messages = [self._messages[i] for i in self._channel_log.get(channel_id, []) if i in self._messages]
        return [m for m in messages if include_ephemeral or not m["flags"] & EPHEMERAL]

    def dm_messages(self, user_id: int) -> list[JSON]:
        channel_id = self._dm_by_user.get(user_id)
        return [] if channel_id is None else self.channel_messages(channel_id)

    def message(self, message_id: int) -> JSON:
        return self._messages[message_id]

    def attachment_bytes(self, message: JSON | int) -> dict[str, bytes]:
        """Uploaded file contents of a message, by filename."""
        stored = self._stored_message(message)
        return {a["filename"]: self._blobs[int(a["id"])] for a in stored["attachments"]}

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The commands last bulk-overwritten for a guild (or globally with ``None``)."""
        return self._commands.get(guild_id, [])

    def shards(self) -> list[tuple[int, int]]:
        """``(shard_id, shard_count)`` of every gateway session open now, in IDENTIFY order: connected, or
        dropped and still resumable. Only a close with 1000 or 1001 ends one (discord.py closes with 4000)."""
        return [session.shard for session in self._sessions.values()]

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the driver API asks for it
        """Waits until a client IDENTIFYed and was sent READY and the GUILD_CREATE of every guild on its shard.

        discord.py fires ``on_ready`` only ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE;
        pass ``guild_ready_timeout=0.1`` to the client and ``await client.wait_until_ready()`` if it matters.
        """
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Waits until ``predicate()`` is truthy and returns its value. Re-checked after every request and
        gateway event, and every 20 ms for conditions on the bot's own state (set after a reply arrives)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while not (result := predicate()):
                if loop.time() >= deadline:
                    raise AssertionError(f"condition not met within {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(deadline - loop.time(), 0.02))
            return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ----------------------------------------------------------------- interactions (driver API)

    @property
    def unacknowledged(self) -> list[InteractionHandle]:
        """Interactions not acknowledged within the response window (a late answer is refused with 10062,
        so these never were): on Discord the member sees "This interaction failed". Those a test lets
        lapse on purpose (:meth:`expect_unacknowledged`) are left out."""
        return [handle for handle in self.interactions if handle.acked_at is None and not handle.lapse_expected]

    def expect_unacknowledged(self, handle: InteractionHandle) -> None:
        """This interaction is meant to go unanswered (a test of the fake's 10062, say)."""
        handle.lapse_expected = True

    async def slash(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """Runs ``/name`` as ``user``. The command must have been synced (guild commands win over global,
        as in Discord); option types come from the synced schema, so pass plain values (ids for
        users/channels/roles). ``subcommand`` is ``"sub"`` or ``"group sub"``. ``guild_id=None`` means the
        bot's DM with the user.
        """
        command, data = self._command_data(guild_id, name)
        data["options"] = self._options(command, dict(options or {}), subcommand, focused=None)
        self._add_resolved(data, guild_id, data["options"], user)
        return await self._interact(APPLICATION_COMMAND, user, guild_id, channel_id, data)

    async def autocomplete(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        name: str,
        *,
        focused: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """Sends an autocomplete request with ``focused`` being typed (its value is the partial text)."""
        given = {focused: "", **dict(options or {})}
        command, data = self._command_data(guild_id, name)
        data["options"] = self._options(command, given, subcommand, focused=focused)
        return await self._interact(AUTOCOMPLETE, user, guild_id, channel_id, data)

    async def click(self, user: int, message: JSON | int, custom_id: str) -> InteractionHandle:
        """Clicks a button on a stored message (its current version is used, whatever dict is passed)."""
        stored = self._stored_message(message)
        button = self._component(stored, custom_id, frozenset({BUTTON}))
        if button.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled; Discord would not send a click")
        if button.get("style") in (5, 6):
            raise ValueError(f"button {custom_id!r} is a link/premium button; it creates no interaction")
        data = {"custom_id": custom_id, "component_type": BUTTON, "id": button.get("id")}
        return await self._component_interaction(user, stored, data)

    async def select(self, user: int, message: JSON | int, custom_id: str, values: Sequence[Any]) -> InteractionHandle:
        """Picks ``values`` in a select menu; counts and string options are checked like the client would."""
        stored = self._stored_message(message)
        menu = self._component(stored, custom_id, SELECT_TYPES)
        picked = _select_values(menu, values)
        data: JSON = {
            "custom_id": custom_id,
            "component_type": menu["type"],
            "values": picked,
            "id": menu.get("id"),
        }
        guild_id = self._channels[int(stored["channel_id"])].get("guild_id")
        if menu["type"] in _SELECT_RESOLVES:
            what = _SELECT_RESOLVES[menu["type"]]
            data["resolved"] = self._resolve(_int_or_none(guild_id), what, picked, user)
        return await self._component_interaction(user, stored, data)

    async def submit_modal(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        custom_id: str,
        fields: Mapping[str, Any],
    ) -> InteractionHandle:
        """Submits the modal ``custom_id`` last shown to ``user``. ``fields`` maps input custom_ids to a
        string (text input, radio), a bool (checkbox) or a list (selects, checkbox groups)."""
        origin = self._open_modal(user, custom_id)
        layout = (origin.callback or {})["data"]["components"]
        data = {"custom_id": custom_id, "components": _modal_answers(layout, dict(fields))}
        origin.modal_open = False
        message = None if origin.message_id is None else self._messages.get(origin.message_id)
        return await self._interact(MODAL_SUBMIT, user, guild_id, channel_id, data, message)

    async def _component_interaction(self, user: int, message: JSON, data: JSON) -> InteractionHandle:
        channel = self._channels[int(message["channel_id"])]
        guild_id = _int_or_none(channel.get("guild_id"))
        return await self._interact(MESSAGE_COMPONENT, user, guild_id, int(channel["id"]), data, message)

    async def _interact(
        self,
        kind: int,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        data: JSON,
        message: JSON | None = None,
    ) -> InteractionHandle:
        if not self._sessions:
            raise RuntimeError("no client has IDENTIFYed yet; await dc.wait_ready() first")
        if user not in self._users:
            raise LookupError(f"unknown user {user}; register it with dc.user() or dc.member()")
        payload = self._interaction_payload(kind, user, guild_id, channel_id, data, message)
        handle = InteractionHandle(payload, self._clock(), self._messages)
        self._by_id[handle.id], self._by_token[handle.token] = handle, handle
        self.interactions.append(handle)
        delivered = await self._dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        handle.shards = [session.shard for session in delivered]
        return handle

    def _interaction_payload(
        self,
        kind: int,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        data: JSON,
        message: JSON | None,
    ) -> JSON:
        payload: JSON = {
            "id": str(self._ids.next()),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is None:
            channel = self._dm_channel(user_id)
            payload.update(channel=channel, channel_id=channel["id"], user=self._users[user_id], context=1)
            payload.update(app_permissions=str(EVERYONE_PERMISSIONS), authorizing_integration_owners={"0": "0"})
        else:
            payload.update(self._guild_context(self._guilds[guild_id], user_id, channel_id))
        if message is not None:
            payload["message"] = copy.deepcopy(message)  # as the user saw it, not as later edited
        return payload

    def _guild_context(self, guild: _Guild, user_id: int, channel_id: int | None) -> JSON:
        if user_id not in guild.members:
            raise LookupError(f"user {user_id} is not a member of guild {guild.id}; call dc.member() first")
        if channel_id not in guild.channel_ids:
            raise LookupError(f"channel {channel_id} is not in guild {guild.id}")
        member = {**self._member_payload(guild, user_id), "permissions": str(guild.permissions(user_id))}
        channel = {**self._channels[channel_id], "permissions": str(guild.permissions(user_id))}
        return {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel": channel,
            "channel_id": str(channel_id),
            "member": member,
            "app_permissions": str(guild.permissions(self.bot_user_id)),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }

    def _command_data(self, guild_id: int | None, name: str) -> tuple[JSON, JSON]:
        """Finds the synced command a user could run here and starts its interaction ``data``."""
        scopes = ([guild_id] if guild_id is not None else []) + [None]
        for scope in scopes:
            command = next((c for c in self._commands.get(scope, []) if c["name"] == name and c["type"] == 1), None)
            if command is not None:
                data: JSON = {"id": command["id"], "name": name, "type": 1}
                if scope is not None:
                    data["guild_id"] = str(scope)
                return command, data
        raise LookupError(f"/{name} is not synced for guild {guild_id} or globally; did the bot call tree.sync()?")

    def _options(self, command: JSON, given: dict[str, Any], subcommand: str | None, focused: str | None) -> list[JSON]:
        schema: list[JSON] = command.get("options") or []
        path = subcommand.split() if subcommand else []
        wrappers: list[JSON] = []
        for part in path:
            group = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if group is None:
                raise ValueError(f"/{command['name']} has no subcommand {part!r}")
            wrappers.append({"name": part, "type": group["type"]})
            schema = group.get("options") or []
        if any(o["type"] in (1, 2) for o in schema):
            raise ValueError(f"/{command['name']} needs subcommand= (one of {[o['name'] for o in schema]})")
        options = _leaf_options(schema, given, focused)
        for wrapper in reversed(wrappers):
            options = [{**wrapper, "options": options}]
        return options

    def _add_resolved(self, data: JSON, guild_id: int | None, options: list[JSON], user_id: int) -> None:
        resolved: JSON = {}
        for option in _walk_options(options):
            if option["type"] in _OPTION_RESOLVES:
                found = self._resolve(guild_id, _OPTION_RESOLVES[option["type"]], [option["value"]], user_id)
                for key, entries in found.items():
                    resolved.setdefault(key, {}).update(entries)
        if resolved:
            data["resolved"] = resolved

    def _resolve(self, guild_id: int | None, what: str, ids: Sequence[str], user_id: int) -> JSON:
        """The ``resolved`` block for user/role/channel/mentionable ids (unknown ids are left out);
        channels carry the invoking user's permissions, as on Discord."""
        guild = None if guild_id is None else self._guilds[guild_id]
        resolved: JSON = {}
        for raw in ids:
            ident = int(raw)
            if what in ("user", "mentionable") and ident in self._users:
                resolved.setdefault("users", {})[raw] = self._users[ident]
                if guild is not None and ident in guild.members:
                    member = self._member_payload(guild, ident)
                    member.pop("user")
                    resolved.setdefault("members", {})[raw] = {
                        **member,
                        "permissions": str(guild.permissions(ident)),
                    }
            elif what in ("role", "mentionable") and guild is not None and ident in guild.roles:
                resolved.setdefault("roles", {})[raw] = guild.roles[ident]
            elif what == "channel" and ident in self._channels:
                granted = EVERYONE_PERMISSIONS if guild is None else guild.permissions(user_id)
                resolved.setdefault("channels", {})[raw] = {
                    **self._channels[ident],
                    "permissions": str(granted),
                }
        return resolved

    def _component(self, message: JSON, custom_id: str, kinds: frozenset[int]) -> JSON:
        component = _find_component(message["components"], custom_id)
        if component is None or component.get("type") not in kinds:
            raise LookupError(f"message {message['id']} has no component {custom_id!r} of type {sorted(kinds)}")
        return component

    def _open_modal(self, user_id: int, custom_id: str) -> InteractionHandle:
        for handle in reversed(self.interactions):
            shown_to = (handle.payload.get("member") or handle.payload)["user"]["id"]
            modal = (handle.callback or {}).get("data") or {}
            if handle.modal_open and shown_to == str(user_id) and modal.get("custom_id") == custom_id:
                return handle
        raise LookupError(f"no open modal {custom_id!r} was shown to user {user_id}")

    # ----------------------------------------------------------------- REST plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Records the call, checks auth, applies injected faults and rate limits, renders ApiError."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        rate_headers: dict[str, str] = {}
        try:
            request[_BODY], request[_FILES] = await _read_body(request)
            self.calls.append(Call(request.method, path, request[_BODY], tuple(request[_FILES].values())))
            self._check_auth(request, path)
            fault = self._injected_fault(request.method, path)
            if fault is not None:
                raise fault
            rate_headers = self._rate_headers(request)
            response = await handler(request)
        except ApiError as exc:
            self.errors.append(ErrorRecord(request.method, path, exc.status, exc.code, exc.message, exc.injected))
            response = _json(exc.body(), exc.status, {**rate_headers, **exc.headers})
        except web.HTTPException as exc:  # unknown route or method
            self.errors.append(ErrorRecord(request.method, path, exc.status, 0, exc.reason))
            response = _json({"message": f"{exc.status}: {exc.reason}", "code": 0}, exc.status)
        except Exception as exc:  # a bug in the fake: discord.py would silently retry the 500
            self.crashes.append(exc)
            response = _json({"message": "500: Internal Server Error", "code": 0}, 500)
        response.headers.update(rate_headers)
        await self._notify()
        return response

    def _check_auth(self, request: web.Request, path: str) -> None:
        if path.startswith(("/interactions/", "/webhooks/")):
            return  # authorised by the interaction token in the URL, as on Discord
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def _rate_headers(self, request: web.Request) -> dict[str, str]:
        info = request.match_info
        major = "+".join(info.get(k, "") for k in ("channel_id", "guild_id", "app_id", "token"))
        route = f"{request.method} {info.route.resource.canonical if info.route.resource else request.path}"
        return self._limiter.hit(route, major)

    def _clock(self) -> float:
        return asyncio.get_running_loop().time()

    # ----------------------------------------------------------------- REST: identity and gateway discovery

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json({**self._bot, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json(user)

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.app_id),
                "name": self._bot["username"],
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self._owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self._bot,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
                "approximate_guild_count": len(self._guilds),
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.ws_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return _json({"url": self.ws_url, "shards": self.recommended_shards, "session_start_limit": limit})

    # ----------------------------------------------------------------- REST: application commands

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self.app_id:
            raise ApiError(403, 50001, "Missing Access")
        raw = request.match_info.get("guild_id")
        if raw is not None and int(raw) not in self._guilds:
            raise ApiError(403, 50001, "Missing Access")
        return None if raw is None else int(raw)

    async def _get_commands(self, request: web.Request) -> web.Response:
        return _json(self._commands.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[_BODY]
        problems = _Problems()
        if not isinstance(body, list):
            problems.add((), "BASE_TYPE_ARRAY", "Must be an array.")
            problems.raise_if_any()
        _check_commands(problems, body)
        problems.raise_if_any()
        previous = {(c["name"], c["type"]): c["id"] for c in self._commands.get(scope, [])}
        self._commands[scope] = [self._stored_command(c, scope, previous) for c in body]
        return _json(self._commands[scope])

    def _stored_command(self, command: JSON, scope: int | None, previous: Mapping[tuple[str, int], str]) -> JSON:
        kind = command.get("type", 1)
        stored = {
            "id": previous.get((command["name"], kind)) or str(self._ids.next()),
            "application_id": str(self.app_id),
            "version": str(self._ids.next()),
            "type": kind,
            "name": command["name"],
            "description": command.get("description", ""),
            "options": command.get("options") or [],
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
            "nsfw": command.get("nsfw", False),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    # ----------------------------------------------------------------- REST: interaction responses

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        handle = self._by_id.get(int(request.match_info["interaction_id"]))
        if handle is None or handle.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if handle.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self._clock() - handle.dispatched_at > RESPONSE_WINDOW * self.time_scale:
            raise ApiError(404, 10062, "Unknown interaction")
        body = request[_BODY] or {}
        kind = body.get("type", 0)  # 0: no such response type, refused below
        self._check_response_type(handle, kind)
        message = await self._apply_response(handle, kind, body.get("data") or {}, request[_FILES])
        original_id = handle.message_id if kind == 6 else None if message is None else int(message["id"])
        handle.acknowledge(body, self._clock(), original_id)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        return _json(self._callback_result(handle, kind, message))

    def _check_response_type(self, handle: InteractionHandle, kind: Any) -> None:
        allowed = set(_ALLOWED_RESPONSES[handle.type])
        if handle.message_id is None:
            allowed -= {6, 7}  # nothing to update: a modal submit that did not come from a component
        if kind not in allowed:
            problems = _Problems()
            problems.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            problems.raise_if_any()

    async def _apply_response(
        self, handle: InteractionHandle, kind: int, data: JSON, files: Mapping[int, tuple[str, bytes]]
    ) -> JSON | None:
        if kind in (8, 9):
            problems = _Problems()
            if kind == 8:
                _check_choices(problems, data.get("choices") or [], ("data", "choices"))
            else:
                _check_modal(problems, data, ("data",))
            problems.raise_if_any()
            return None
        if kind == 6:
            return None
        if kind == 7:
            message = self._messages.get(handle.message_id or 0)
            if message is None:
                raise ApiError(404, 10008, "Unknown Message")
            self._edit(message, data, files, path=("data",))
            return message
        return await self._reply_message(handle, kind, data, files)

    async def _reply_message(
        self, handle: InteractionHandle, kind: int, data: JSON, files: Mapping[int, tuple[str, bytes]]
    ) -> JSON:
        channel_id = int(handle.payload["channel_id"])
        flags = data.get("flags", 0) & (EPHEMERAL | _SENDABLE_FLAGS)
        if kind == 5:
            message = self._build_message(channel_id, {}, {}, flags=flags | LOADING, handle=handle)
        else:
            message = self._build_message(channel_id, data, files, flags=flags, handle=handle)
            self._validate(message, ("data",))
        self._store(message)
        await self._announce(message)
        return message

    @staticmethod
    def _callback_result(handle: InteractionHandle, kind: int, message: JSON | None) -> JSON:
        resource: JSON = {"type": kind}
        if message is not None:
            resource["message"] = message
        return {
            "interaction": {
                "id": str(handle.id),
                "type": handle.type,
                "response_message_id": None if message is None else message["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
                "activity_instance_id": None,
            },
            "resource": resource,
        }

    # ----------------------------------------------------------------- REST: follow-ups (webhooks)

    def _webhook_handle(self, request: web.Request) -> InteractionHandle:
        handle = self._by_token.get(request.match_info["token"])
        if int(request.match_info["app_id"]) != self.app_id or handle is None or handle.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if self._clock() - handle.dispatched_at > TOKEN_LIFETIME * self.time_scale:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return handle

    def _webhook_message(self, handle: InteractionHandle, raw_id: str) -> JSON:
        message_id = handle.original_id if raw_id == "@original" else int(raw_id)
        mine = message_id is not None and message_id in {handle.original_id, *handle.followup_ids}
        if not mine or message_id not in self._messages:
            raise ApiError(404, 10008, "Unknown Message")
        return self._messages[message_id]

    async def _followup(self, request: web.Request) -> web.Response:
        """A follow-up; the first one after a "thinking" defer replaces the loading message, as on Discord."""
        handle = self._webhook_handle(request)
        data, files = request[_BODY] or {}, request[_FILES]
        original = handle.original
        if original is not None and original["flags"] & LOADING:
            self._edit(original, data, files, path=())
            message = original
        else:
            flags = data.get("flags", 0) & (EPHEMERAL | _SENDABLE_FLAGS)
            message = self._build_message(int(handle.payload["channel_id"]), data, files, flags=flags, handle=handle)
            self._validate(message, ())
            self._store(message)
            handle.followup_ids.append(int(message["id"]))
            await self._announce(message)
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(message)
        return web.Response(status=204)

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        return _json(self._webhook_message(handle, request.match_info["message_id"]))

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        self._edit(message, request[_BODY] or {}, request[_FILES], path=())
        return _json(message)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        self._messages.pop(int(message["id"]))
        return web.Response(status=204)

    # ----------------------------------------------------------------- REST: channels, DMs, guilds

    def _channel_or_404(self, request: web.Request) -> JSON:
        channel = self._channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message_or_404(self, request: web.Request) -> JSON:
        channel = self._channel_or_404(request)
        message = self._messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != channel["id"]:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_channel(self, request: web.Request) -> web.Response:
        return _json(self._channel_or_404(request))

    async def _create_channel_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        data, files = request[_BODY] or {}, request[_FILES]
        self._check_can_send(channel, bool(files))
        flags = data.get("flags", 0) & _SENDABLE_FLAGS
        message = self._build_message(int(channel["id"]), data, files, flags=flags)
        self._validate(message, ())
        self._store(message)
        await self._announce(message)
        return _json(message)

    def _check_can_send(self, channel: JSON, with_files: bool) -> None:
        if channel["type"] == 1:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self._dms_closed:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        granted = self._guilds[int(channel["guild_id"])].permissions(self.bot_user_id)
        needed = VIEW_CHANNEL | SEND_MESSAGES | (ATTACH_FILES if with_files else 0)
        if granted & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    async def _get_channel_message(self, request: web.Request) -> web.Response:
        return _json(self._channel_message_or_404(request))

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_or_404(request)
        if message["author"]["id"] != str(self.bot_user_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, request[_BODY] or {}, request[_FILES], path=())
        return _json(message)

    async def _delete_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_or_404(request)
        self._messages.pop(int(message["id"]))
        return web.Response(status=204)

    async def _create_dm(self, request: web.Request) -> web.Response:
        recipient = int((request[_BODY] or {}).get("recipient_id", 0))
        if recipient not in self._users or recipient == self.bot_user_id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return _json(self._dm_channel(recipient))

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return _json(self._guild_payload(guild))

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        user_id = int(request.match_info["user_id"])
        if user_id not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return _json(self._member_payload(guild, user_id))

    async def _get_attachment(self, request: web.Request) -> web.Response:
        blob = self._blobs.get(int(request.match_info["attachment_id"]))
        if blob is None:
            raise web.HTTPNotFound()
        return web.Response(body=blob, content_type=mimetypes.guess_type(request.match_info["filename"])[0])

    # ----------------------------------------------------------------- message store

    def _build_message(
        self,
        channel_id: int,
        data: JSON,
        files: Mapping[int, tuple[str, bytes]],
        *,
        flags: int,
        handle: InteractionHandle | None = None,
    ) -> JSON:
        message: JSON = {
            "id": str(self._ids.next()),
            "channel_id": str(channel_id),
            "type": 0,
            "author": self._bot,
            "content": data.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._attachments(channel_id, data, files, []),
            "embeds": [{"type": "rich", **embed} for embed in data.get("embeds") or []],
            "reactions": [],
            "pinned": False,
            "components": _numbered(data.get("components") or []),
            "flags": flags,
        }
        if handle is not None:
            message.update(self._interaction_fields(handle))
        return message

    def _interaction_fields(self, handle: InteractionHandle) -> JSON:
        user = (handle.payload.get("member") or handle.payload)["user"]
        metadata: JSON = {
            "id": str(handle.id),
            "type": handle.type,
            "user": user,
            "authorizing_integration_owners": handle.payload["authorizing_integration_owners"],
        }
        if handle.message_id is not None:
            metadata["interacted_message_id"] = str(handle.message_id)
        kind = 20 if handle.type == APPLICATION_COMMAND else 0
        return {
            "type": kind,
            "webhook_id": str(self.app_id),
            "application_id": str(self.app_id),
            "interaction_metadata": metadata,
        }

    def _attachments(
        self, channel_id: int, data: JSON, files: Mapping[int, tuple[str, bytes]], existing: Sequence[JSON]
    ) -> list[JSON]:
        """Discord's rule: ``attachments`` (when sent) lists what to keep plus new uploads by file index;
        without it, every uploaded file is added to what is already there."""
        wanted = data.get("attachments")
        if wanted is None:
            return [*existing, *(self._upload(channel_id, *files[i], None) for i in sorted(files))]
        kept = {a["id"]: a for a in existing}
        result = []
        for index, item in enumerate(wanted):
            ident = item.get("id")
            if str(ident) in kept:
                result.append(kept[str(ident)])
            elif ident is not None and int(ident) in files:
                result.append(self._upload(channel_id, *files[int(ident)], item.get("description")))
            else:
                problems = _Problems()
                problems.add(("attachments", index, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
                problems.raise_if_any()
        return result

    def _upload(self, channel_id: int, filename: str, blob: bytes, description: str | None) -> JSON:
        attachment_id = self._ids.next()
        self._blobs[attachment_id] = blob
        url = f"{self.url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(blob),
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        if description:
            attachment["description"] = description
        return attachment

    def _edit(self, message: JSON, data: JSON, files: Mapping[int, tuple[str, bytes]], *, path: Path) -> None:
        """Applies an edit if the result is valid; finishing a deferred "thinking" message clears LOADING."""
        edited = dict(message)
        for key in ("content", "embeds", "components"):
            if key in data:
                edited[key] = data[key] or ([] if key != "content" else "")
        edited["embeds"] = [{"type": "rich", **e} for e in edited["embeds"]]
        edited["components"] = _numbered(edited["components"])
        if "attachments" in data or files:
            edited["attachments"] = self._attachments(int(message["channel_id"]), data, files, message["attachments"])
        settable = SUPPRESS_EMBEDS | COMPONENTS_V2
        requested = data["flags"] if "flags" in data else message["flags"]
        edited["flags"] = (message["flags"] & ~(settable | LOADING)) | (requested & settable)
        self._validate(edited, path)
        edited["edited_timestamp"] = _now()
        message.update(edited)

    @staticmethod
    def _validate(message: JSON, path: Path) -> None:
        problems = _Problems()
        _check_message(problems, message, path)
        problems.raise_if_any()
        if _is_empty(message):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _store(self, message: JSON) -> None:
        message_id = int(message["id"])
        self._messages[message_id] = message
        self._channel_log.setdefault(int(message["channel_id"]), []).append(message_id)

    def _stored_message(self, message: JSON | int) -> JSON:
        message_id = message if isinstance(message, int) else int(message["id"])
        if message_id not in self._messages:
            raise LookupError(f"message {message_id} is not (or no longer) stored")
        return self._messages[message_id]

    async def _announce(self, message: JSON) -> None:
        """Echoes a visible bot message as MESSAGE_CREATE when the intents ask for it, as Discord does."""
        channel = self._channels[int(message["channel_id"])]
        guild_id = channel.get("guild_id")
        wanted = INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES
        if message["flags"] & EPHEMERAL or not self.intents & wanted or not self._sessions:
            return
        event = dict(message)
        if guild_id:
            member = self._member_payload(self._guilds[int(guild_id)], self.bot_user_id)
            member.pop("user")
            event.update(guild_id=guild_id, member=member)
        await self._dispatch("MESSAGE_CREATE", event, guild_id=_int_or_none(guild_id))

    # ----------------------------------------------------------------- payload builders

    @staticmethod
    def _role_payload(role_id: int, name: str, permissions: int, *, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    @staticmethod
    def _text_channel(guild_id: int, channel_id: int, name: str, position: int) -> JSON:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }

    def _dm_channel(self, user_id: int) -> JSON:
        if user_id not in self._dm_by_user:
            channel_id = self._ids.next()
            self._dm_by_user[user_id] = channel_id
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._users[user_id]],
            }
        return self._channels[self._dm_by_user[user_id]]

    def _member_payload(self, guild: _Guild, user_id: int) -> JSON:
        member = guild.members[user_id]
        return {
            "user": self._users[user_id],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def _guild_payload(self, guild: _Guild) -> JSON:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "premium_progress_bar_enabled": False,
            "roles": list(guild.roles.values()),
            "emojis": [],
            "stickers": [],
            "joined_at": guild.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [self._member_payload(guild, user_id) for user_id in guild.members],
            "channels": [self._channels[c] for c in guild.channel_ids],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _ready_payload(self, identify: JSON, session: _Session) -> JSON:
        ready: JSON = {
            "v": 10,
            "user": {**self._bot, "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self._guilds if session.receives(g)],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord-gateway"],
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready

    # ----------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            await ws.close(code=4012, message=b"Invalid API version or encoding")
            return ws
        conn = _Connection(ws, request.query.get("compress"))
        self._sockets.add(ws)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": self._heartbeat_ms, "_trace": ["fake"]}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_op(conn, json.loads(msg.data))
        except Exception as exc:  # a bug in the fake: surface it at exit instead of a silent reconnect
            self.crashes.append(exc)
            await ws.close(code=1011, message=b"fake gateway crashed")
        finally:
            self._sockets.discard(ws)
            for session in list(self._sessions.values()):
                if session.conn is conn:
                    session.conn = None
                    if ws.close_code in (1000, 1001):  # closed for good (a client shutting down): no RESUME
                        del self._sessions[session.session_id]
        return ws

    async def _on_op(self, conn: _Connection, frame: JSON) -> None:
        handlers = {
            1: self._on_heartbeat,
            2: self._on_identify,
            3: self._on_presence,
            6: self._on_resume,
            8: self._on_request_members,
        }
        handler = handlers.get(frame.get("op", -1))
        if handler is None:
            await conn.ws.close(code=4001, message=b"Unknown opcode")
            return
        await handler(conn, frame.get("d"))
        await self._notify()

    async def _on_heartbeat(self, conn: _Connection, data: Any) -> None:
        await conn.send({"op": 11, "d": None})

    async def _on_presence(self, conn: _Connection, data: Any) -> None:
        self.presence = data

    async def _on_identify(self, conn: _Connection, data: JSON) -> None:
        """A new session on the shard IDENTIFY names; it replaces a session of that shard whose socket is
        gone (a restarted client), not one still connected (another client running the same shard)."""
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard", [0, 1])
        valid = isinstance(shard, list) and len(shard) == 2 and all(type(n) is int for n in shard)
        if not valid or not 0 <= shard[0] < shard[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identify_count += 1
        self.intents = data.get("intents", 0)
        for old in list(self._sessions.values()):
            gone = old.conn is None or old.conn.ws.closed
            if old.conn is conn or (gone and old.shard[0] == shard[0]):
                del self._sessions[old.session_id]
        session = _Session(secrets.token_hex(16), (shard[0], shard[1]), conn)
        self._sessions[session.session_id] = session
        await self._dispatch("READY", self._ready_payload(data, session), to=session)
        for guild in self._guilds.values():
            if session.receives(guild.id):
                await self._dispatch("GUILD_CREATE", self._guild_payload(guild), to=session)
        self._ready.set()

    async def _on_resume(self, conn: _Connection, data: JSON) -> None:
        """Replays what the client missed, then RESUMED; a stale session (or ``invalid_session_next``)
        gets op 9 with ``d: false`` so the client starts over with IDENTIFY."""
        session = self._sessions.get(str(data.get("session_id")))
        if self.invalid_session_next or session is None or data.get("token") != self.token:
            self.invalid_session_next = False
            if session is not None:
                del self._sessions[session.session_id]
            await conn.send({"op": 9, "d": False})
            return
        self.resume_count += 1
        async with self._dispatch_lock:
            session.conn = conn
            for frame in session.history:
                if frame["s"] > (data.get("seq") or 0):
                    await conn.send(frame)
        await conn.send({"op": 0, "t": "RESUMED", "s": None, "d": {"_trace": ["fake"]}})

    async def _on_request_members(self, conn: _Connection, data: JSON) -> None:
        guild = self._guilds.get(int(data["guild_id"]))
        session = next((s for s in self._sessions.values() if s.conn is conn), None)
        if guild is None or session is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        prefix = (data.get("query") or "").lower()
        members = [
            self._member_payload(guild, user_id)
            for user_id in guild.members
            if (not wanted or user_id in wanted) and self._users[user_id]["username"].lower().startswith(prefix)
        ]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        await self._dispatch("GUILD_MEMBERS_CHUNK", {**chunk, "nonce": data.get("nonce")}, to=session)

    async def _dispatch(
        self, event: str, data: JSON, *, guild_id: int | None = None, to: _Session | None = None
    ) -> list[_Session]:
        """Sends a numbered dispatch to ``to``, else to every session on the shard of ``guild_id`` (shard 0
        for ``None``); while a session's socket is down it only lands in its history for RESUME.

        Returns the sessions it went to (none when no client runs that shard).
        """
        async with self._dispatch_lock:
            sessions = [to] if to is not None else [s for s in self._sessions.values() if s.receives(guild_id)]
            for session in sessions:
                session.seq += 1
                frame = {"op": 0, "t": event, "s": session.seq, "d": copy.deepcopy(data)}  # replay as sent
                session.history.append(frame)
                if session.conn is not None:
                    await session.conn.send(frame)
            return sessions

    async def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Closes a client's socket like a network blip; discord.py reconnects and RESUMEs (set
        ``invalid_session_next`` first to force a fresh IDENTIFY instead). With several sessions
        connected, ``shard_id`` says whose."""
        connected = [s for s in self._sessions.values() if s.conn is not None and shard_id in (None, s.shard[0])]
        if not connected:
            raise RuntimeError("no gateway connection to drop")
        if len(connected) > 1:
            raise RuntimeError(f"{len(connected)} gateway connections: pass the shard_id of the one to drop")
        session = connected[0]
        conn, session.conn = session.conn, None
        assert conn is not None
        await conn.ws.close(code=code, message=b"dropped by the test")


# --------------------------------------------------------------------------- module helpers


async def _read_body(request: web.Request) -> tuple[Any, dict[int, tuple[str, bytes]]]:
    """JSON body or multipart ``payload_json`` + ``files[n]`` parts, as discord.py sends them."""
    if request.content_type == "multipart/form-data":
        body: Any = None
        files: dict[int, tuple[str, bytes]] = {}
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body = json.loads(await part.text())
            elif part.name and part.name.startswith("files["):
                files[int(part.name[6:-1])] = (part.filename or "file", bytes(await part.read()))
        return body, files
    raw = await request.read()
    try:
        return (json.loads(raw) if raw else None), {}
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _walk_options(options: Sequence[JSON]) -> Iterator[JSON]:
    for option in options:
        yield from _walk_options(option.get("options") or [])
        if "value" in option:
            yield option


def _leaf_options(schema: Sequence[JSON], given: Mapping[str, Any], focused: str | None) -> list[JSON]:
    """Typed interaction options from plain values, refusing what Discord's client would not let through."""
    by_name = {o["name"]: o for o in schema}
    unknown = set(given) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
    if missing and focused is None:  # while autocompleting, the user simply has not filled them yet
        raise ValueError(f"required options missing: {missing}")
    result = []
    for name, value in given.items():
        option = by_name[name]
        if name == focused:
            result.append({"name": name, "type": option["type"], "value": str(value), "focused": True})
            continue
        typed = _typed_value(option["type"], value)
        choices = [c["value"] for c in option.get("choices") or []]
        if choices and typed not in choices:
            raise ValueError(f"{typed!r} is not a choice of option {name!r} ({choices})")
        result.append({"name": name, "type": option["type"], "value": typed})
    return result


def _typed_value(kind: int, value: Any) -> Any:
    if kind in _OPTION_RESOLVES:
        return str(int(value))
    converters: dict[int, Callable[[Any], Any]] = {3: str, 4: int, 5: bool, 10: float}
    if kind not in converters:
        raise ValueError(f"option type {kind} (attachments) is not supported by the fake")
    return converters[kind](value)


def _modal_answers(layout: Sequence[JSON], fields: dict[str, Any]) -> list[JSON]:
    """The submitted ``components`` mirroring the modal's layout (rows and type-18 labels)."""
    answers: list[JSON] = []
    for component in layout:
        if component["type"] == ACTION_ROW:
            answers.append({"type": ACTION_ROW, "components": [_answer(component["components"][0], fields)]})
        elif component["type"] == LABEL:
            answers.append(
                {
                    "type": LABEL,
                    "id": component.get("id"),
                    "component": _answer(component["component"], fields),
                }
            )
    if fields:
        raise ValueError(f"the modal has no inputs {sorted(fields)}")
    return answers


def _answer(inner: JSON, fields: dict[str, Any]) -> JSON:
    custom_id, kind = inner["custom_id"], inner["type"]
    value = fields.pop(custom_id, None)
    answer: JSON = {"type": kind, "custom_id": custom_id, "id": inner.get("id")}
    if kind == TEXT_INPUT:
        answer["value"] = _text_answer(inner, "" if value is None else str(value))
    elif kind == CHECKBOX:
        answer["value"] = bool(value)
    elif kind == RADIO_GROUP:
        answer["value"] = value
    else:
        picked = [str(v) for v in value or []]
        if inner.get("required", True) and not picked:
            raise ValueError(f"modal input {custom_id!r} is required")
        answer["values"] = _select_values(inner, picked) if picked else []
    return answer


def _select_values(menu: JSON, values: Sequence[Any]) -> list[str]:
    """The picked values, refused when the client would not allow them (count, unknown options)."""
    picked = [str(v) for v in values]
    low, high = menu.get("min_values", 1), menu.get("max_values", 1)
    if not low <= len(picked) <= high:
        raise ValueError(f"{menu['custom_id']!r} takes {low}..{high} values, got {len(picked)}")
    allowed = {o["value"] for o in menu.get("options", [])}
    if menu["type"] in (STRING_SELECT, CHECKBOX_GROUP) and not set(picked) <= allowed:
        raise ValueError(f"{sorted(set(picked) - allowed)} are not options of {menu['custom_id']!r}")
    return picked


def _text_answer(text_input: JSON, text: str) -> str:
    custom_id = text_input["custom_id"]
    if text_input.get("required", True) and not text:
        raise ValueError(f"text input {custom_id!r} is required")
    low, high = text_input.get("min_length") or 0, text_input.get("max_length") or 4000
    if text and not low <= len(text) <= high:
        raise ValueError(f"text input {custom_id!r} takes {low}..{high} characters, got {len(text)}")
    return text
