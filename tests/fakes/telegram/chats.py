"""Who is who: the bot itself (``getMe``), chats, their members and admins, and chat actions.

Why a module: these methods only read the world — PTB calls ``getMe`` at start and the adapters check
membership and admin rights before trusting a group command — and answer with the member objects Telegram
builds from a status.
"""

from __future__ import annotations

from typing import Final

from .params import Handler, Params
from .protocol import JSON, ApiError
from .world import World

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


def _chat_member(user: JSON, status: str) -> JSON:
    """A ``ChatMember`` of the given status; an administrator has every right but promoting others."""
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


class ChatMethods:
    """getMe, logOut, close, getChat, getChatMember, getChatAdministrators and sendChatAction."""

    def __init__(self, world: World) -> None:
        self._world = world

    def handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
        }

    async def _ok(self, params: Params) -> bool:
        return True

    async def _get_me(self, params: Params) -> JSON:
        return self._world.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_chat_action(self, params: Params) -> bool:
        self._world.writable_chat(params)
        if params.opt_str("action") not in _CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        return True

    async def _get_chat(self, params: Params) -> JSON:
        chat = self._world.chat(params.chat_id())
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

    async def _get_chat_member(self, params: Params) -> JSON:
        chat = self._world.chat(params.chat_id())
        user_id = params.req_int("user_id")
        status = self._world.admins.get(chat["id"], {}).get(user_id, "member")
        return _chat_member(self._world.member_user(user_id), status)

    async def _get_chat_administrators(self, params: Params) -> list[JSON]:
        chat = self._world.chat(params.chat_id())
        if chat["type"] == "private":
            raise ApiError.bad_request("there are no administrators in the private chat")
        admins = sorted(self._world.admins.get(chat["id"], {}).items(), key=lambda item: item[1] != "creator")
        return [_chat_member(self._world.member_user(user_id), status) for user_id, status in admins]
