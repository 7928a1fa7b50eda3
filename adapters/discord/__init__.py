"""CrowdPulse on Discord (discord.py 2.x): slash commands, buttons, selects and modals in; replies out.

Thin by design: an interaction becomes a :class:`~bot.identity.UserRef`, a
:class:`~bot.identity.SpaceRef` and one typed engine call, and the :class:`~bot.replies.Reply` becomes
messages, embeds and components. Rules and sentences stay in ``bot/``. The modules, each keeping one
part of Discord's contract:

* :mod:`~adapters.discord.client`: the sharded client (guilds intent only, no mentions) and its start.
* :mod:`~adapters.discord.interactions`: every interaction acknowledged within 3 seconds, deferred when
  the engine is slow, private things kept private, forged or retired components answered too.
* :mod:`~adapters.discord.responding`: an interaction's own answer at once, its follow-ups through the
  channel's send queue, a flood's repeated refusals acknowledged without a word.
* :mod:`~adapters.discord.commands`: one slash command per command of :mod:`bot.commands`, typed
  options straight into the use cases; synced only when what would be uploaded changed.
* :mod:`~adapters.discord.incoming`: clicks and forms as they arrive, their message parsed only if read.
* :mod:`~adapters.discord.components`: persistent components and forms, routed by custom_id after a
  restart.
* :mod:`~adapters.discord.rendering`: replies as messages within Discord's limits.
* :mod:`~adapters.discord.delivery`: the shared outbox, per shard.
* :mod:`~adapters.discord.limits`: each Discord limit, once.
"""

from __future__ import annotations

from adapters.discord.client import CrowdPulseClient, DiscordAdapter, configure_endpoints, run_discord
from adapters.discord.delivery import ELSEWHERE_SECONDS, shard_of
from adapters.discord.rendering import markdown_chunks, render

__all__ = [
    "ELSEWHERE_SECONDS",
    "CrowdPulseClient",
    "DiscordAdapter",
    "configure_endpoints",
    "markdown_chunks",
    "render",
    "run_discord",
    "shard_of",
]
