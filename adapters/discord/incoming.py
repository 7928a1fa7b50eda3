"""Clicks and forms from the gateway, their message left as JSON until something reads it.

discord.py turns every interaction's message into a :class:`discord.Message` as the interaction arrives
(its author, embeds and components as objects), and its view store then looks that message up for a
view to dispatch the click to. CrowdPulse keeps no views (components and forms are routed by custom_id,
:mod:`adapters.discord.components`) and answers a click knowing little of its message: whether only the
member sees it, its text, its buttons' labels (:class:`Origin`, read off the JSON). Building the message
was about 5 % of the bot's CPU per tap in the closed-loop benchmark, so components and forms
(:data:`ROUTED_HERE`) arrive as :class:`LazyInteraction`: a :class:`discord.Interaction` whose
``message`` is built the first time it is read (the rare paths: a flood's silent acknowledgement, an
edit after a deferral). Slash commands and autocomplete go to discord.py's own parser and its command
tree as before.

This leans on two things of discord.py that are not its documented API: the state's ``parsers`` table
and the slot ``Interaction`` keeps its message in. :func:`route_lazily` checks both first; where a
discord.py release has changed them it leaves discord.py's parsing alone (and says so in the log), and
:func:`origin` reads the same record off the message discord.py built, so the bot answers the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord
from discord.state import ConnectionState

log = logging.getLogger(__name__)

MESSAGE_SLOT: Any = vars(discord.Interaction).get("message")  # where discord.py's Interaction keeps its message
ROUTED_HERE = (discord.InteractionType.component.value, discord.InteractionType.modal_submit.value)
EPHEMERAL = discord.MessageFlags(ephemeral=True).value


@dataclass(frozen=True, slots=True)
class Origin:
    """What answering a click needs of the message it was on: its text, whether only the member sees it,
    and its components as JSON (the "✍️" button's label titles its form)."""

    content: str
    ephemeral: bool
    components: list[dict[str, Any]]


class LazyInteraction(discord.Interaction):
    """discord.py's interaction, its ``message`` built from the payload when first read (see the module)."""

    __slots__ = ("_message_data", "origin")

    def _from_data(self, data: Any) -> None:
        raw: dict[str, Any] | None = data.get("message")
        self._message_data = None  # discord.py reads ``message`` as it parses: nothing to build yet
        stripped: Any = {key: value for key, value in data.items() if key != "message"}
        super()._from_data(stripped)
        self._message_data = raw
        self.origin = (
            None
            if raw is None
            else Origin(raw.get("content") or "", bool(raw.get("flags", 0) & EPHEMERAL), raw.get("components") or [])
        )

    @property
    def message(self) -> discord.Message | None:
        """The interaction's message, as discord.py would have built it on arrival."""
        raw, self._message_data = self._message_data, None
        if raw is not None:
            message = discord.Message(state=self._state, channel=self.channel, data=raw)  # type: ignore[arg-type]
            if message.guild is None and self.guild_id is not None:
                message.guild = self._state._get_or_create_unavailable_guild(self.guild_id)
            MESSAGE_SLOT.__set__(self, message)
        found: discord.Message | None = MESSAGE_SLOT.__get__(self)
        return found

    @message.setter
    def message(self, value: discord.Message | None) -> None:
        MESSAGE_SLOT.__set__(self, value)


def origin(interaction: discord.Interaction) -> Origin | None:
    """The message ``interaction`` came from; ``None`` for a slash command, which has none."""
    if isinstance(interaction, LazyInteraction):
        return interaction.origin
    message = interaction.message  # built by discord.py's own parser (see the module)
    if message is None:
        return None
    rows: list[Any] = [row.to_dict() for row in message.components]
    return Origin(message.content, message.flags.ephemeral, rows)


def route_lazily(state: ConnectionState[Any]) -> bool:
    """Make ``state`` parse components and forms into :class:`LazyInteraction` and dispatch them as
    ``on_interaction`` at once, past the view store (it holds nothing: every view and form is sent
    stopped); ``False``, changing nothing, where this discord.py keeps its parsers or messages otherwise."""
    parsers: dict[str, Callable[[Any], None]] | None = getattr(state, "parsers", None)
    commands = parsers.get("INTERACTION_CREATE") if isinstance(parsers, dict) else None
    known = hasattr(MESSAGE_SLOT, "__set__") and hasattr(state, "_get_or_create_unavailable_guild")
    if parsers is None or commands is None or not known:
        log.warning("discord.py %s parses interactions as it always did here: clicks cost more", discord.__version__)
        return False

    def parse_interaction_create(data: Any) -> None:
        if data["type"] in ROUTED_HERE:
            state.dispatch("interaction", LazyInteraction(data=data, state=state))
        else:
            commands(data)

    parsers["INTERACTION_CREATE"] = parse_interaction_create
    return True
