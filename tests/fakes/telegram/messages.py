"""Text messages: sending, editing (text, caption, keyboard) and deleting.

Why these together: an edit or a delete acts on a message the bot stored earlier, under rules that differ
from sending — only the bot's own messages can be edited, an edit that changes nothing is a 400, and a
foreign message can be deleted only by an admin bot outside private chats.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from .content import Text, api_view, caption_text, inline_keyboard, message_text, set_markup, set_text
from .params import Handler, Params
from .protocol import JSON, ApiError
from .sending import Sender
from .world import World


class MessageMethods:
    """sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup and deleteMessage."""

    def __init__(self, world: World, sender: Sender) -> None:
        self._world = world
        self._sender = sender

    def handlers(self) -> dict[str, Handler]:
        return {
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
        }

    async def _send_message(self, params: Params) -> JSON:
        chat = self._world.writable_chat(params)
        return self._sender.deliver("sendMessage", params, chat, {}, message_text(params), "text")

    async def _edit_message_text(self, params: Params) -> JSON:
        message = self.editable(params)
        if "text" not in message:
            raise ApiError.bad_request("there is no text in the message to edit")
        return self._edit_text(message, params, message_text(params), "text")

    async def _edit_message_caption(self, params: Params) -> JSON:
        message = self.editable(params)
        if not {"photo", "document"} & message.keys():
            raise ApiError.bad_request("there is no caption in the message to edit")
        return self._edit_text(message, params, caption_text(params), "caption")

    def _edit_text(self, message: JSON, params: Params, text: Text | None, key: str) -> JSON:
        """Both text edits replace the ``key`` (text or caption) and the keyboard in one go."""
        markup = inline_keyboard(params.get("reply_markup"))
        return self.apply_edit(message, markup, lambda edited: set_text(edited, text, key))

    async def _edit_message_reply_markup(self, params: Params) -> JSON:
        message = self.editable(params)
        markup = inline_keyboard(params.get("reply_markup"))
        return self.apply_edit(message, markup, lambda edited: None)

    async def _delete_message(self, params: Params) -> bool:
        chat_id = params.chat_id()
        message = self._world.stored(chat_id, params.req_int("message_id"))
        if message is None:
            raise ApiError.bad_request("message to delete not found")
        foreign = message["from"]["id"] != self._world.bot_user["id"]
        bot_is_admin = self._world.bot_user["id"] in self._world.admins.get(chat_id, {})
        if foreign and message["chat"]["type"] != "private" and not bot_is_admin:
            raise ApiError.bad_request("message can't be deleted")
        message["deleted"] = True
        return True

    def editable(self, params: Params) -> JSON:
        """The live message an edit targets: one of the bot's own, addressed by chat and message id."""
        if params.get("inline_message_id") is not None:
            raise ApiError.bad_request("MESSAGE_ID_INVALID")  # inline mode is not modelled
        chat_id, message_id = params.chat_id(), params.opt_int("message_id")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        message = self._world.stored(chat_id, message_id)
        if message is None:
            raise ApiError.bad_request("message to edit not found")
        if message["from"]["id"] != self._world.bot_user["id"]:
            raise ApiError.bad_request("message can't be edited")
        return message

    @staticmethod
    def apply_edit(message: JSON, markup: JSON | None, change: Callable[[JSON], None]) -> JSON:
        """Apply an edit in place; like Telegram, refuse one that changes nothing."""
        edited = copy.deepcopy(message)
        change(edited)
        set_markup(edited, markup)
        if api_view(edited) == api_view(message):
            raise ApiError.bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited["edit_date"] = int(time.time())
        message.clear()
        message.update(edited)
        return api_view(message)
