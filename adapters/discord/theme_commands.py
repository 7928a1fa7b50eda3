"""Slash commands for moderators' themes: ``/themes [round] [question]`` and ``/theme rename|merge|split|promote``.

Kept beside :mod:`adapters.discord.commands` (which wires them into its table) so that module stays
within its size. Theme ids are typed as text (``12``, or ``i12`` for an ideas round's themes) and read
with :func:`bot.commands.parse_theme_id`; the lists of ids (themes to merge, answers to move out) with
the same parsers as the text commands, so a malformed id or list gets the same usage.
"""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.interactions import Interactions
from adapters.discord.sync import Id, SlashCommand, locale
from bot.commands import Command, parse_id, parse_theme_id
from bot.engine import Engine
from bot.features.themes.moderating import ThemeId


def _ids(text: str | None) -> list[int] | None:
    """``"12 #34"`` → ``[12, 34]``; ``None`` when a word is not an id."""
    found = [parse_id(word) for word in (text or "").replace(",", " ").split()]
    return None if any(number is None for number in found) else [number for number in found if number is not None]


def _theme_ids(text: str | None) -> list[ThemeId] | None:
    """``"12 i34"`` → their theme ids; ``None`` when a word is not one."""
    found = [parse_theme_id(word) for word in (text or "").replace(",", " ").split()]
    return None if any(theme is None for theme in found) else [theme for theme in found if theme is not None]


def themes_command(engine: Engine, interactions: Interactions, spec: Command) -> SlashCommand:
    """``/themes [round] [question]``: a round's themes with their ids, privately."""

    @app_commands.rename(round_id="round")
    @app_commands.describe(round_id=locale("discord.option_round"), question=locale("discord.option_question"))
    async def themes(interaction: discord.Interaction, round_id: Id | None = None, question: str | None = None) -> None:
        task_id = question.strip().lower() if question and question.strip() else None
        await interactions.run(interaction, "themes", lambda ctx: engine.theme_editing.listing(ctx, round_id, task_id))

    return app_commands.Command(name=spec.name, description=locale(spec.description_key), callback=themes)


def theme_group(engine: Engine, interactions: Interactions, spec: Command) -> SlashCommand:
    """``/theme rename``, ``/theme merge``, ``/theme split``, ``/theme promote``."""
    group = app_commands.Group(name=spec.name, description=locale(spec.description_key))
    editing = engine.theme_editing

    @group.command(name="rename", description=locale("discord.theme_rename"))
    @app_commands.describe(theme=locale("discord.option_theme"), name=locale("discord.option_theme_name"))
    async def rename(interaction: discord.Interaction, theme: str, name: str) -> None:
        theme_id = parse_theme_id(theme)
        await interactions.run(
            interaction,
            "theme rename",
            lambda ctx: editing.rename(ctx, theme_id, name) if theme_id else editing.usage(ctx),
        )

    @group.command(name="merge", description=locale("discord.theme_merge"))
    @app_commands.describe(theme=locale("discord.option_theme"), others=locale("discord.option_theme_others"))
    async def merge(interaction: discord.Interaction, theme: str, others: str) -> None:
        themes = _theme_ids(f"{theme} {others}")
        await interactions.run(
            interaction,
            "theme merge",
            lambda ctx: editing.merge(ctx, themes) if themes and len(themes) >= 2 else editing.usage(ctx),
        )

    @group.command(name="split", description=locale("discord.theme_split"))
    @app_commands.describe(theme=locale("discord.option_theme"), answers=locale("discord.option_answers"))
    async def split(interaction: discord.Interaction, theme: str, answers: str | None = None) -> None:
        theme_id, moving = parse_theme_id(theme), _ids(answers)
        await interactions.run(
            interaction,
            "theme split",
            lambda ctx: editing.split(ctx, theme_id, moving) if theme_id and moving is not None else editing.usage(ctx),
        )

    @group.command(name="promote", description=locale("discord.theme_promote"))
    @app_commands.describe(theme=locale("discord.option_theme"))
    async def promote(interaction: discord.Interaction, theme: str) -> None:
        theme_id = parse_theme_id(theme)
        await interactions.run(
            interaction,
            "theme promote",
            lambda ctx: editing.promote(ctx, theme_id) if theme_id else editing.usage(ctx),
        )

    return group
