"""Slash commands' translations and their upload: descriptions and choice names in every language of
``bot/locales``, and a sync that uploads a scope's commands only when they changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.discord.limits import OPTION_TEXT, plain
from bot.engine import Engine
from bot.texts import FALLBACK, available_languages, t

log = logging.getLogger(__name__)

SlashCommand = app_commands.Command[Any, ..., None] | app_commands.Group
Id = app_commands.Range[int, 1, None]  # a round's, an idea's, a theme's number: Discord refuses 0 and below

SYNCED_COMMANDS = "discord.commands"  # meta rows ``discord.commands:<application id>:<scope>``: what was synced


def locale(key: str) -> app_commands.locale_str:
    """A command string in English, carrying its catalog key for :class:`CatalogTranslator`."""
    return app_commands.locale_str(plain(t(key, FALLBACK), OPTION_TEXT), key=key)


class CatalogTranslator(app_commands.Translator):
    """Command and option descriptions and choice names in every language of ``bot/locales``."""

    def __init__(self) -> None:
        super().__init__()
        self.languages = set(available_languages()) - {FALLBACK}

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        language = locale.value.split("-")[0]
        if key is None or language not in self.languages:
            return None
        translated = plain(t(key, language), OPTION_TEXT)
        return None if translated == string.message else translated


async def command_payload(
    tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None
) -> list[dict[str, Any]]:
    """Exactly what ``tree.sync(guild=guild)`` uploads, built with the library's own steps.

    As in discord.py 2.7's ``CommandTree.sync``: the scope's commands (context menus included), each
    as ``get_translated_payload`` through the tree's translator, or ``to_dict`` without one. Kept
    step for step with the library, so the fingerprint cannot miss anything the upload would change.
    """
    commands = tree.get_commands(guild=guild)
    translator = tree.translator
    if translator is None:
        return [command.to_dict(tree) for command in commands]
    return [await command.get_translated_payload(tree, translator) for command in commands]


def commands_fingerprint(payload: Sequence[dict[str, Any]]) -> bytes:
    """A stable digest of a command payload: canonical JSON (sorted keys, no spaces), SHA-256 in hex.

    Command and option order is kept: Discord shows options in the order given.
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest().encode()


async def sync_commands(
    tree: app_commands.CommandTree[Any], engine: Engine, application_id: int, guild: discord.Object | None
) -> None:
    """Upload one scope's commands (a server's, or the global ones) unless Discord has these already.

    discord.py's maintainers advise against syncing on every start: global command updates are rate
    limited and slow to reach clients. So the fingerprint of exactly what ``tree.sync`` would upload
    (:func:`command_payload`, translations included) is remembered in the store's ``meta`` table per
    application and scope once Discord accepted it, and a start with the same fingerprint skips the
    upload. Any change to a command, option, permission or translation, or to how discord.py serialises
    them, changes the fingerprint. Commands edited on Discord by hand are not noticed: deleting the
    ``discord.commands:…`` rows from ``meta`` forces the next start to upload.
    """
    store = engine.services.store
    scope = "global" if guild is None else f"guild:{guild.id}"
    name = f"{SYNCED_COMMANDS}:{application_id}:{scope}"
    fingerprint = commands_fingerprint(await command_payload(tree, guild))
    if await store.meta_value(name) == fingerprint:
        log.info("platform=discord commands for %s unchanged, not synced", scope)
        return
    synced = await tree.sync(guild=guild)
    await store.set_meta_value(name, fingerprint)
    log.info("platform=discord synced %d commands to %s", len(synced), scope)
