"""The Telegram world the fake simulates: the bot, users, groups, admins, and every message and file.

Why a class of its own: tests build this world (``tg.user``, ``tg.group``, ``tg.set_admins``) and inspect it
(``tg.messages``, ``tg.photos``), while the Bot API methods look chats up and store the bot's messages in
it; keeping that state and its rules (who may be written to, which message can be quoted) here leaves the
HTTP server and the method handlers free of bookkeeping.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Final

from .content import api_view
from .params import Params
from .parse_mode import utf16_length
from .protocol import JSON, ApiError
from .records import StoredFile

ANONYMOUS_ADMIN_ID: Final = 1087968824
"""User id of ``@GroupAnonymousBot``: Telegram's author of messages sent by anonymous admins."""

_LEADING_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,32}))?(?=\s|$)")


class World:
    """Users, chats, admins, messages and files, with the driver calls that build and inspect them."""

    def __init__(self, token: str, bot_username: str, bot_name: str) -> None:
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.users: dict[int, JSON] = {}
        self.started: set[int] = set()
        """Users who pressed Start: only their private chats accept the bot's messages."""
        self.groups: dict[int, JSON] = {}
        self.admins: dict[int, dict[int, str]] = {}
        """Per group, the status (``administrator`` or ``creator``) of each admin's user id."""
        self.chat_messages: dict[int, dict[int, JSON]] = {}
        """Per chat, every message by id, the bot's and the users', edits applied and ``deleted`` flagged."""
        self.files: dict[str, StoredFile] = {}

    # ---------------------------------------------------------------- driver: building the world

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
        self.users[user_id] = user
        if started:
            self.started.add(user_id)
        else:
            self.started.discard(user_id)
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
        self.groups[chat_id] = {"id": chat_id, "type": kind, "title": title}
        return copy.deepcopy(self.groups[chat_id])

    def set_admins(self, chat_id: int, user_ids: list[int], creator_id: int | None = None) -> None:
        """Make ``user_ids`` administrators (and ``creator_id`` the owner); include the bot's id
        to make the bot an admin."""
        self.require_group(chat_id)
        statuses = dict.fromkeys(user_ids, "administrator")
        if creator_id is not None:
            statuses[creator_id] = "creator"
        self.admins[chat_id] = statuses

    # ---------------------------------------------------------------- driver: inspection

    def messages(self, chat_id: int) -> list[JSON]:
        """Messages the bot sent in the chat, in order, edits applied, ``deleted`` flagged.

        ``text``/``caption`` are the parsed plain text; ``html`` is the raw text as sent when
        ``parse_mode`` was HTML (else None).
        """
        stored = self.chat_messages.get(chat_id, {}).values()
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
        return [self.files[attachment["file_id"]] for attachment in attachments]

    # ---------------------------------------------------------------- chats

    def require_group(self, chat_id: int) -> JSON:
        """A group the test created; anything else is a mistake in the test, hence ``ValueError``."""
        if chat_id not in self.groups:
            raise ValueError(f"unknown group {chat_id}; create it with tg.group()")
        return self.groups[chat_id]

    def check_sender(self, user: JSON, chat: JSON) -> None:
        """Refuse a driver action no real user could perform: an unknown user, or someone else's chat."""
        if user["id"] not in self.users:
            raise ValueError(f"unknown user {user['id']}; create it with tg.user()")
        if chat["type"] == "private" and chat["id"] != user["id"]:
            raise ValueError("a user can only write in their own private chat with the bot")
        if chat["type"] != "private":
            self.require_group(chat["id"])

    def chat(self, chat_id: int) -> JSON:
        """A chat the bot addressed by id, or the API's 400 when the bot cannot know it."""
        if chat_id in self.groups:
            return copy.deepcopy(self.groups[chat_id])
        if chat_id in self.users:
            return self.private_chat(self.users[chat_id])
        raise ApiError.bad_request("chat not found")

    def writable_chat(self, params: Params) -> JSON:
        """The target chat of a send; private chats need the user to have pressed Start."""
        chat = self.chat(params.chat_id())
        if chat["type"] == "private" and chat["id"] not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def member_user(self, user_id: int) -> JSON:
        """The user object of a chat member, the bot included."""
        if user_id == self.bot_user["id"]:
            return copy.deepcopy(self.bot_user)
        if user_id not in self.users:
            raise ApiError.bad_request("user not found")
        return copy.deepcopy(self.users[user_id])

    # ---------------------------------------------------------------- messages

    def stored(self, chat_id: int, message_id: int) -> JSON | None:
        """A live (not deleted) message of the chat."""
        message = self.chat_messages.get(chat_id, {}).get(message_id)
        return None if message is None or message["deleted"] else message

    def quoted(self, chat_id: int, message_id: int) -> JSON | None:
        """The message as embedded in ``reply_to_message`` (Telegram does not nest replies)."""
        message = self.stored(chat_id, message_id)
        if message is None:
            return None
        view = api_view(message)
        view.pop("reply_to_message", None)
        return view

    def store(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        """Record a new message in the chat with the chat's next message id."""
        chat_messages = self.chat_messages.setdefault(chat["id"], {})
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

    def user_message(self, user: JSON, chat: JSON, text: str, reply_to_message_id: int | None) -> JSON:
        """Store a message a user wrote; a leading ``/command`` gets its ``bot_command`` entity."""
        content: JSON = {"text": text}
        command = _LEADING_COMMAND.match(text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command.group())}]
        if reply_to_message_id is not None:
            quoted = self.quoted(chat["id"], reply_to_message_id)
            if quoted is None:
                raise ValueError(f"message {reply_to_message_id} does not exist in chat {chat['id']}")
            content["reply_to_message"] = quoted
        return api_view(self.store(chat, user, content))

    def is_start_command(self, text: str) -> bool:
        """``/start`` or ``/start@<this bot>``, optionally with a deep-link payload."""
        command = _LEADING_COMMAND.match(text)
        return (
            command is not None
            and command.group(1) == "start"
            and command.group(2) in (None, self.bot_user["username"])
        )
