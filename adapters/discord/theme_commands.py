"""Slash commands for moderators' themes: ``/themes [round] [question]`` and ``/theme rename|merge|split|promote``.

Kept beside :mod:`adapters.discord.commands` (which wires them into its table) so that module stays
within its size. Theme ids are whole numbers Discord checks; the lists of ids (themes to merge,
answers to move out) are typed as text and read with :func:`bot.commands.parse_id`, the same parser
as the text commands, so a malformed list gets the same usage.
"""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.interactions import Interactions
from adapters.discord.sync import Id, SlashCommand, locale
from bot.commands import Command, parse_id
from bot.engine import Engine


def _ids(text: str | None) -> list[int] | None:
    """``"12 #34"`` → ``[12, 34]``; ``None`` when a word is not an id."""
    found = [parse_id(word) for word in (text or "").replace(",", " ").split()]
    return None if any(number is None for number in found) else [number for number in found if number is not None]


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
    async def rename(interaction: discord.Interaction, theme: Id, name: str) -> None:
        await interactions.run(interaction, "theme rename", lambda ctx: editing.rename(ctx, theme, name))

    @group.command(name="merge", description=locale("discord.theme_merge"))
    @app_commands.describe(theme=locale("discord.option_theme"), others=locale("discord.option_theme_others"))
    async def merge(interaction: discord.Interaction, theme: Id, others: str) -> None:
        joining = _ids(others)
        await interactions.run(
            interaction,
            "theme merge",
            lambda ctx: editing.merge(ctx, [theme, *joining]) if joining else editing.usage(ctx),
        )

    @group.command(name="split", description=locale("discord.theme_split"))
    @app_commands.describe(theme=locale("discord.option_theme"), answers=locale("discord.option_answers"))
    async def split(interaction: discord.Interaction, theme: Id, answers: str | None = None) -> None:
        moving = _ids(answers)
        await interactions.run(
            interaction,
            "theme split",
            lambda ctx: editing.split(ctx, theme, moving) if moving is not None else editing.usage(ctx),
        )

    @group.command(name="promote", description=locale("discord.theme_promote"))
    @app_commands.describe(theme=locale("discord.option_theme"))
    async def promote(interaction: discord.Interaction, theme: Id) -> None:
        await interactions.run(interaction, "theme promote", lambda ctx: editing.promote(ctx, theme))

    return group
