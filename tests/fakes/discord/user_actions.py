"""The driver API tests play members with: run a slash command, autocomplete, click, pick, submit a modal.

Why these act as Discord's client would: each refuses (``ValueError``/``LookupError``) what a member could
not do — a command that was never synced, a disabled or link button, a select pick outside its options, a
modal nobody was shown — and builds the interaction Discord would send, with the options typed from the
synced schema and ids resolved to the users, roles and channels they name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .commands import ApplicationCommands
from .components import BUTTON, SELECT_TYPES, find_component
from .interactions import InteractionHandle, Interactions
from .messages import MessageStore
from .protocol import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    EVERYONE_PERMISSIONS,
    JSON,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    int_or_none,
)
from .user_input import OPTION_RESOLVES, SELECT_RESOLVES, leaf_options, modal_answers, select_values, walk_options
from .world import World


class UserActions(World):
    """Members acting in the world; the server that inherits this provides the stores they act on."""

    _store: MessageStore
    _interactions: Interactions
    _app_commands: ApplicationCommands

    async def slash(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """Runs ``/name`` as ``user``. The command must have been synced (guild commands win over global,
        as in Discord); option types come from the synced schema, so pass plain values (ids for
        users/channels/roles). ``subcommand`` is ``"sub"`` or ``"group sub"``. ``guild_id=None`` means the
        bot's DM with the user.
        """
        command, data = self._command_data(guild_id, name)
        data["options"] = self._options(command, dict(options or {}), subcommand, focused=None)
        self._add_resolved(data, guild_id, data["options"], user)
        return await self._interactions.interact(APPLICATION_COMMAND, user, guild_id, channel_id, data)

    async def autocomplete(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        name: str,
        *,
        focused: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """Sends an autocomplete request with ``focused`` being typed (its value is the partial text)."""
        given = {focused: "", **dict(options or {})}
        command, data = self._command_data(guild_id, name)
        data["options"] = self._options(command, given, subcommand, focused=focused)
        return await self._interactions.interact(AUTOCOMPLETE, user, guild_id, channel_id, data)

    async def click(self, user: int, message: JSON | int, custom_id: str) -> InteractionHandle:
        """Clicks a button on a stored message (its current version is used, whatever dict is passed)."""
        stored = self._store.stored(message)
        button = self._component(stored, custom_id, frozenset({BUTTON}))
        if button.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled; Discord would not send a click")
        if button.get("style") in (5, 6):
            raise ValueError(f"button {custom_id!r} is a link/premium button; it creates no interaction")
        data = {"custom_id": custom_id, "component_type": BUTTON, "id": button.get("id")}
        return await self._component_interaction(user, stored, data)

    async def select(self, user: int, message: JSON | int, custom_id: str, values: Sequence[Any]) -> InteractionHandle:
        """Picks ``values`` in a select menu; counts and string options are checked like the client would."""
        stored = self._store.stored(message)
        menu = self._component(stored, custom_id, SELECT_TYPES)
        picked = select_values(menu, values)
        data: JSON = {
            "custom_id": custom_id,
            "component_type": menu["type"],
            "values": picked,
            "id": menu.get("id"),
        }
        guild_id = self.channels[int(stored["channel_id"])].get("guild_id")
        if menu["type"] in SELECT_RESOLVES:
            what = SELECT_RESOLVES[menu["type"]]
            data["resolved"] = self._resolve(int_or_none(guild_id), what, picked, user)
        return await self._component_interaction(user, stored, data)

    async def submit_modal(
        self,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        custom_id: str,
        fields: Mapping[str, Any],
    ) -> InteractionHandle:
        """Submits the modal ``custom_id`` last shown to ``user``. ``fields`` maps input custom_ids to a
        string (text input, radio), a bool (checkbox) or a list (selects, checkbox groups)."""
        origin = self._interactions.open_modal(user, custom_id)
        layout = (origin.callback or {})["data"]["components"]
        data = {"custom_id": custom_id, "components": modal_answers(layout, dict(fields))}
        origin.modal_open = False
        message = None if origin.message_id is None else self._store.messages.get(origin.message_id)
        return await self._interactions.interact(MODAL_SUBMIT, user, guild_id, channel_id, data, message)

    async def _component_interaction(self, user: int, message: JSON, data: JSON) -> InteractionHandle:
        channel = self.channels[int(message["channel_id"])]
        guild_id = int_or_none(channel.get("guild_id"))
        return await self._interactions.interact(MESSAGE_COMPONENT, user, guild_id, int(channel["id"]), data, message)

    def _command_data(self, guild_id: int | None, name: str) -> tuple[JSON, JSON]:
        """Finds the synced command a user could run here and starts its interaction ``data``."""
        scopes = ([guild_id] if guild_id is not None else []) + [None]
        for scope in scopes:
            command = next(
                (c for c in self._app_commands.by_scope.get(scope, []) if c["name"] == name and c["type"] == 1), None
            )
            if command is not None:
                data: JSON = {"id": command["id"], "name": name, "type": 1}
                if scope is not None:
                    data["guild_id"] = str(scope)
                return command, data
        raise LookupError(f"/{name} is not synced for guild {guild_id} or globally; did the bot call tree.sync()?")

    def _options(self, command: JSON, given: dict[str, Any], subcommand: str | None, focused: str | None) -> list[JSON]:
        schema: list[JSON] = command.get("options") or []
        path = subcommand.split() if subcommand else []
        wrappers: list[JSON] = []
        for part in path:
            group = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if group is None:
                raise ValueError(f"/{command['name']} has no subcommand {part!r}")
            wrappers.append({"name": part, "type": group["type"]})
            schema = group.get("options") or []
        if any(o["type"] in (1, 2) for o in schema):
            raise ValueError(f"/{command['name']} needs subcommand= (one of {[o['name'] for o in schema]})")
        options = leaf_options(schema, given, focused)
        for wrapper in reversed(wrappers):
            options = [{**wrapper, "options": options}]
        return options

    def _add_resolved(self, data: JSON, guild_id: int | None, options: list[JSON], user_id: int) -> None:
        resolved: JSON = {}
        for option in walk_options(options):
            if option["type"] in OPTION_RESOLVES:
                found = self._resolve(guild_id, OPTION_RESOLVES[option["type"]], [option["value"]], user_id)
                for key, entries in found.items():
                    resolved.setdefault(key, {}).update(entries)
        if resolved:
            data["resolved"] = resolved

    def _resolve(self, guild_id: int | None, what: str, ids: Sequence[str], user_id: int) -> JSON:
        """The ``resolved`` block for user/role/channel/mentionable ids (unknown ids are left out);
        channels carry the invoking user's permissions, as on Discord."""
        guild = None if guild_id is None else self.guilds[guild_id]
        resolved: JSON = {}
        for raw in ids:
            ident = int(raw)
            if what in ("user", "mentionable") and ident in self.users:
                resolved.setdefault("users", {})[raw] = self.users[ident]
                if guild is not None and ident in guild.members:
                    member = self.member_payload(guild, ident)
                    member.pop("user")
                    resolved.setdefault("members", {})[raw] = {
                        **member,
                        "permissions": str(guild.permissions(ident)),
                    }
            elif what in ("role", "mentionable") and guild is not None and ident in guild.roles:
                resolved.setdefault("roles", {})[raw] = guild.roles[ident]
            elif what == "channel" and ident in self.channels:
                granted = EVERYONE_PERMISSIONS if guild is None else guild.permissions(user_id)
                resolved.setdefault("channels", {})[raw] = {
                    **self.channels[ident],
                    "permissions": str(granted),
                }
        return resolved

    def _component(self, message: JSON, custom_id: str, kinds: frozenset[int]) -> JSON:
        component = find_component(message["components"], custom_id)
        if component is None or component.get("type") not in kinds:
            raise LookupError(f"message {message['id']} has no component {custom_id!r} of type {sorted(kinds)}")
        return component
