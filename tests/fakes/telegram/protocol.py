"""The Bot API's wire conventions that every part of the fake shares.

Why one module: the reply envelope (``{"ok": false, "error_code": N, ...}``) and the error type that
produces it are used by the parser, the parameter reader and every method handler; keeping them here lets
those modules depend on the protocol without depending on each other.
"""

from __future__ import annotations

from typing import Any, Final

JSON = dict[str, Any]

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
"""Header in which Telegram echoes the webhook's ``secret_token`` to the bot."""


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
