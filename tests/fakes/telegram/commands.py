"""The bot's command menus: ``setMyCommands``, ``getMyCommands`` and ``deleteMyCommands``.

Why a module: Telegram keeps one command list per scope (default, all private chats, one chat's admins, ...)
and language, and checks every list against the command limits; the adapters set several of them at start.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .limits import COMMAND_NAME, MAX_COMMAND_DESCRIPTION_LENGTH, MAX_COMMANDS
from .params import Handler, Params
from .protocol import JSON, ApiError

_LANGUAGE_CODE = re.compile(r"(?:[a-z]{2})?")


def _check_commands(commands: Any) -> list[JSON]:
    """The command list as Telegram stores it, after the count, name and description limits."""
    if not isinstance(commands, list):
        raise ApiError.bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise ApiError.bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict) or not COMMAND_NAME.fullmatch(str(command.get("command", ""))):
            raise ApiError.bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION_LENGTH:
            raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return [{"command": c["command"], "description": c["description"]} for c in commands]


class CommandMethods:
    """setMyCommands, getMyCommands and deleteMyCommands, keyed by scope and language."""

    def __init__(self) -> None:
        self._commands: dict[tuple[str, str], list[JSON]] = {}

    def handlers(self) -> dict[str, Handler]:
        return {
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }

    @staticmethod
    def _key(params: Params) -> tuple[str, str]:
        """The scope (as canonical JSON) and language code a command list is stored under."""
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        language = params.opt_str("language_code") or ""
        if not _LANGUAGE_CODE.fullmatch(language):
            raise ApiError.bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _set_my_commands(self, params: Params) -> bool:
        self._commands[self._key(params)] = _check_commands(params.get("commands"))
        return True

    async def _get_my_commands(self, params: Params) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._key(params), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        self._commands.pop(self._key(params), None)
        return True
