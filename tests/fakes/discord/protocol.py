"""Discord's wire vocabulary that every part of the fake shares: error replies, JSON replies, flag bits.

Why one module: the error shape (``{"message", "code", "errors"}``), the ``application/json`` reply discord.py
insists on, and the message-flag and permission bits are used by the REST plumbing, the gateway and every
route area; keeping them here lets those modules depend on the protocol without depending on each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSON = dict[str, Any]
Path = tuple[str | int, ...]
"""Where in a request body a problem is, as Discord's nested ``errors`` object spells it."""

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000


def copied(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, tuples around immutable leaves).

    The fake copies every message it dispatches or keeps "as the user saw it"; ``copy.deepcopy``, with
    its memo and per-leaf dispatch, made those copies most of the fake's own CPU per click in the
    closed-loop benchmark, charged to whichever bot sent the larger messages.
    """
    if isinstance(value, dict):
        return {key: copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copied(item) for item in value]
    if isinstance(value, tuple):
        return tuple(copied(item) for item in value)
    return value


# Message flags.
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2

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

# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5


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


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON reply with ``Content-Type`` exactly ``application/json``: discord.py compares it verbatim."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def now_iso() -> str:
    """A timestamp as Discord writes them (``joined_at``, ``timestamp``, ``edited_timestamp``)."""
    return datetime.now(UTC).isoformat()


def int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
