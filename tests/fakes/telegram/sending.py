"""The shared tail of every method that creates a message: reply, keyboard, flood control, storing.

Why one place: sendMessage, sendPhoto, sendDocument and sendPoll differ only in their content; the order of
the checks (markup and reply target before flood control, so a refused request costs no flood slot) and the
429 with ``retry_after`` must be the same for all of them.
"""

from __future__ import annotations

import math

from .content import Text, api_view, inline_keyboard, set_markup, set_text
from .limits import FloodControl
from .params import Params
from .protocol import JSON, ApiError
from .records import FloodError
from .world import World


class Sender:
    """Stores the bot's new messages in the world, after the checks Telegram makes on every send."""

    def __init__(self, world: World, flood: FloodControl | None, flood_errors: list[FloodError]) -> None:
        """``flood`` is None when the test did not ask for flood limits; each 429 is appended to ``flood_errors``."""
        self._world = world
        self._flood = flood
        self._flood_errors = flood_errors

    def deliver(self, method: str, params: Params, chat: JSON, content: JSON, text: Text | None, text_key: str) -> JSON:
        """Markup, reply, flood control, then store the message and return it as the API shows it."""
        markup = inline_keyboard(params.get("reply_markup"))
        quoted = self._reply_target(params, chat["id"])
        self._check_flood(method, chat)
        if quoted is not None:
            content = {"reply_to_message": quoted, **content}
        message = self._world.store(chat, self._world.bot_user, content)
        set_text(message, text, text_key)
        set_markup(message, markup)
        return api_view(message)

    def _reply_target(self, params: Params, chat_id: int) -> JSON | None:
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
        quoted = self._world.quoted(chat_id, message_id)
        if quoted is None and not tolerate_missing:
            raise ApiError.bad_request("message to be replied not found")
        return quoted

    def _check_flood(self, method: str, chat: JSON) -> None:
        """``retry_after`` is whole wall-clock seconds rounded up, at least 1, even when ``time_scale``
        shortens the windows: obeying it always works, and the exact wait is kept in the record."""
        if self._flood is None:
            return
        wait = self._flood.acquire(chat["id"], chat["type"] in ("group", "supergroup"))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self._flood_errors.append(FloodError(method, chat["id"], retry_after, wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
