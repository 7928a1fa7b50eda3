"""Application commands: the bulk overwrite discord.py's ``tree.sync()`` sends, checked and stored per scope.

Why the fake validates schemas: Discord refuses a whole sync for one bad name, a description too long, a
required option after an optional one or a duplicate, and the bot then runs with yesterday's commands;
each such limit is written once, here. The stored commands are what :meth:`~.server.FakeDiscordServer.slash`
may run, guild commands winning over global ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from .protocol import JSON, ApiError, Path, json_response
from .rest import BODY, Route
from .validation import Problems, check_choices
from .world import World

_COMMAND_NAME = re.compile(r"[-_\w]{1,32}")


def check_commands(p: Problems, commands: Sequence[JSON]) -> None:
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


def _check_command(p: Problems, command: JSON, path: Path) -> None:
    if command.get("type", 1) == 1:
        _check_name(p, command.get("name"), (*path, "name"))
        p.between((*path, "description"), command.get("description"), 1, 100)
    else:  # context menus: any casing, no description
        p.between((*path, "name"), command.get("name"), 1, 32)
    _check_options(p, command.get("options") or [], (*path, "options"))


def _check_name(p: Problems, name: Any, path: Path) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        p.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_options(p: Problems, options: Sequence[JSON], path: Path) -> None:
    p.max_len(path, options, 25)
    optional_seen = False
    for index, option in enumerate(options):
        here = (*path, index)
        _check_name(p, option.get("name"), (*here, "name"))
        p.between((*here, "description"), option.get("description"), 1, 100)
        check_choices(p, option.get("choices") or [], (*here, "choices"))
        if option.get("type") in (1, 2):
            _check_options(p, option.get("options") or [], (*here, "options"))
        elif option.get("required") and optional_seen:
            p.add(
                (*here, "required"),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        optional_seen = optional_seen or not option.get("required")


class ApplicationCommands:
    """The commands last bulk-overwritten per scope: a guild id, or ``None`` for global commands."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.by_scope: dict[int | None, list[JSON]] = {}

    def routes(self) -> list[Route]:
        return [
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
        ]

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self._world.app_id:
            raise ApiError(403, 50001, "Missing Access")
        raw = request.match_info.get("guild_id")
        if raw is not None and int(raw) not in self._world.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return None if raw is None else int(raw)

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.by_scope.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[BODY]
        problems = Problems()
        if not isinstance(body, list):
            problems.add((), "BASE_TYPE_ARRAY", "Must be an array.")
            problems.raise_if_any()
        check_commands(problems, body)
        problems.raise_if_any()
        previous = {(c["name"], c["type"]): c["id"] for c in self.by_scope.get(scope, [])}
        self.by_scope[scope] = [self._stored_command(c, scope, previous) for c in body]
        return json_response(self.by_scope[scope])

    def _stored_command(self, command: JSON, scope: int | None, previous: Mapping[tuple[str, int], str]) -> JSON:
        kind = command.get("type", 1)
        stored = {
            "id": previous.get((command["name"], kind)) or str(self._world.snowflakes.next()),
            "application_id": str(self._world.app_id),
            "version": str(self._world.snowflakes.next()),
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
