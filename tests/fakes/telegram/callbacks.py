"""Button clicks: the callback queries a user's click opens and the bot's one answer to each.

Why a module: a callback query lives from the click to its answer; Telegram accepts exactly one
``answerCallbackQuery`` per query (a second fails as "query is too old") and limits the answer's text, and
a user can only click a button the message currently shows.
"""

from __future__ import annotations

import copy

from .content import api_view, callback_datas
from .limits import MAX_CALLBACK_ANSWER_LENGTH
from .params import Handler, Params
from .protocol import JSON, ApiError
from .records import CallbackAnswer
from .world import World


class CallbackQueries:
    """The open callback queries; opens one per click and closes it with ``answerCallbackQuery``."""

    def __init__(self, world: World, answers: list[CallbackAnswer]) -> None:
        """Each successful answer is appended to ``answers``, the list tests inspect."""
        self._world = world
        self._answers = answers
        self._open: set[str] = set()
        self._next_query_id = 7_000_000_000

    def handlers(self) -> dict[str, Handler]:
        return {"answerCallbackQuery": self._answer_callback_query}

    def open(self, user: JSON, message: JSON, callback_data: str) -> JSON:
        """The callback query of ``user`` clicking a button of the bot's message, as it currently looks.

        Refuses (ValueError) to click a button the message does not have: a real user can't.
        """
        chat_id = message["chat"]["id"]
        current = self._world.chat_messages.get(chat_id, {}).get(message["message_id"])
        if current is None or current["deleted"]:
            raise ValueError(f"message {message['message_id']} does not exist in chat {chat_id}")
        if callback_data not in callback_datas(current):
            raise ValueError(f"message has no button with callback_data {callback_data!r}")
        self._next_query_id += 1
        query_id = str(self._next_query_id)
        self._open.add(query_id)
        return {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": api_view(current),
            "chat_instance": f"{self._world.bot_user['id']}{abs(chat_id)}",
            "data": callback_data,
        }

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.opt_str("callback_query_id")
        text = params.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        if query_id not in self._open:
            raise ApiError.bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open.remove(query_id)
        self._answers.append(CallbackAnswer(query_id, text, params.flag("show_alert")))
        return True
