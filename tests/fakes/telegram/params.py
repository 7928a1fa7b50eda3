"""Reading a Bot API request's parameters, whatever encoding the client chose, into typed values.

Why: the Bot API accepts a query string, a JSON body, an url-encoded form or a multipart form (uploads), and
PTB JSON-encodes every non-string value inside form fields; the method handlers should see one decoded
mapping and fail with the same 400s as Telegram when a value has the wrong type.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aiohttp
from aiohttp import web

from .protocol import JSON, ApiError

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


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


def _decode_value(name: str, value: Any) -> Any:
    """Undo PTB's per-field JSON encoding; string-typed fields and non-JSON strings stay as sent."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> JSON:
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


class Params:
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


Handler = Callable[[Params], Awaitable[Any]]
"""A Bot API method: decoded parameters in, the ``result`` of the reply out (or an ``ApiError``)."""


class MethodArea(Protocol):
    """One area of the Bot API (messages, media, commands, ...): the server routes each method name to it."""

    def handlers(self) -> dict[str, Handler]:
        """The area's methods by their canonical camelCase name."""
        ...
