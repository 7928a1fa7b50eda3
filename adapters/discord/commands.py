"""Slash commands: one per entry of :data:`bot.commands.COMMANDS`, each calling its typed use case.

Discord hands the options over typed (a member, a number, a choice), so no command is turned back into
text for :mod:`bot.commands` to parse again: each callback builds ``lambda ctx: engine.<feature>.<use
case>(ctx, …)`` and runs it through :meth:`Interactions.run`. Moderator commands are hidden from members
by default (``Manage Server``; server admins can change that), and the engine checks anyway.
Descriptions and choice names come from ``bot/locales`` (:class:`CatalogTranslator` translates them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.interactions import Interactions, space_ref, update_key, user_ref
from adapters.discord.limits import AUTOCOMPLETE_BUDGET, AUTOCOMPLETE_CHOICES, OPTION_TEXT, cut
from adapters.discord.sync import Id, SlashCommand, locale
from adapters.discord.theme_commands import theme_group, themes_command
from bot.catalog import Campaign, Topic, text_in
from bot.commands import COMMANDS, Command, bad_duration, community_join, community_leave, help_reply, parse_duration
from bot.context import Context
from bot.engine import Engine, UseCase
from bot.features.ideas import SETTABLE
from bot.features.points import Board
from bot.replies import Reply

log = logging.getLogger(__name__)


MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)
IDEA_VIEWS = ("top", "new", "trending", "best")
EXPORT_FORMATS = ("csv", "json")
BOARDS: dict[str, Board] = {"all": "all", "week": "week", "global": "global"}
STATUSES = {status.value: status for status in SETTABLE}


def _choices(values: tuple[str, ...] | list[str], prefix: str) -> list[app_commands.Choice[str]]:
    """Fixed choices, each named by the key ``<prefix><value>`` in ``bot/locales``."""
    return [app_commands.Choice(name=locale(f"{prefix}{value}"), value=value) for value in values]


def _matching(current: str, offered: Iterable[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """The ``(name, value)`` pairs whose name holds what is typed, as autocomplete choices."""
    wanted = current.strip().casefold()
    return [
        app_commands.Choice(name=cut(name, OPTION_TEXT), value=value)
        for name, value in offered
        if wanted in name.casefold()
    ][:AUTOCOMPLETE_CHOICES]


async def _offer(
    current: str, read: Callable[[], Awaitable[Iterable[tuple[str, str]]]]
) -> list[app_commands.Choice[str]]:
    """Choices from what ``read`` finds in the database, or none when that fails or is slow: autocomplete
    cannot be deferred, and an answer with no choices is better than none."""
    try:
        offered = await asyncio.wait_for(read(), AUTOCOMPLETE_BUDGET)
    except Exception:
        log.warning("platform=discord autocomplete choices failed", exc_info=True)
        return []
    return _matching(current, offered)


def _command(spec: Command, callback: Callable[..., Coroutine[Any, Any, None]]) -> app_commands.Command[Any, ..., None]:
    return app_commands.Command(name=spec.name, description=locale(spec.description_key), callback=callback)


class SlashCommands:
    """Builds the slash commands over one engine; a command's callback runs its use case."""

    def __init__(self, engine: Engine, interactions: Interactions) -> None:
        self.engine = engine
        self.interactions = interactions
        self._bare: dict[str, UseCase] = {
            "help": lambda ctx: help_reply(engine, ctx),
            "points": engine.points.points,
            "me": engine.points.profile,
            "rewards": engine.rewards.catalog,
            "audit": engine.moderation.audit_log,
            "unlink": engine.linking.unlink,
            "quiet": engine.summaries.quiet,
            "dashboard": engine.dashboard.sign_in_link,
            "judge": engine.pairs.judge,
        }

    def build(self) -> list[SlashCommand]:
        """Every command of the table; one the table has and Discord has not is a bug, found at start."""
        builders: dict[str, Callable[[Command], SlashCommand]] = {
            **dict.fromkeys(self._bare, self._without_options),
            "start": self._campaign_command,
            "task": self._campaign_command,
            "top": self._top,
            "redeem": self._redeem,
            "link": self._link,
            "ban": self._member_command,
            "unban": self._member_command,
            "member": self._member_command,
            "round": self._round_group,
            "community": self._community_group,
            "results": self._about_round,
            "export": self._export,
            "quality": self._about_round,
            "idea": self._idea,
            "ideas": self._ideas,
            "launched": self._launched,
            "status": self._status,
            "approve": self._idea_command,
            "hide": self._idea_command,
            "themes": lambda spec: themes_command(self.engine, self.interactions, spec),
            "theme": lambda spec: theme_group(self.engine, self.interactions, spec),
        }
        missing = COMMANDS.keys() - builders.keys()
        if missing:
            raise ValueError(f"commands without a slash command: {sorted(missing)}")
        commands = []
        for spec in COMMANDS.values():
            command = builders[spec.name](spec)
            if spec.moderator:
                command.default_permissions = MODERATOR_PERMISSIONS
                command.guild_only = True
            commands.append(command)
        return commands

    # members ------------------------------------------------------------------------------------

    def _without_options(self, spec: Command) -> SlashCommand:
        use_case = self._bare[spec.name]

        async def bare(interaction: discord.Interaction) -> None:
            await self.interactions.run(interaction, spec.name, use_case)

        return _command(spec, bare)

    def _campaign_command(self, spec: Command) -> SlashCommand:
        """``/start`` and ``/task``, optionally for one campaign first."""
        tasks = self.engine.tasks
        begin = tasks.start if spec.name == "start" else tasks.next_task

        @app_commands.describe(campaign=locale("discord.option_campaign"))
        async def with_campaign(interaction: discord.Interaction, campaign: str | None = None) -> None:
            wanted = campaign.strip() if campaign else None
            await self.interactions.run(interaction, spec.name, lambda ctx: begin(ctx, wanted or None))

        command = _command(spec, with_campaign)

        @command.autocomplete("campaign")
        async def campaigns(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return self._subjects(interaction, current, [*self.engine.services.catalog.campaigns.values()])

        return command

    def _top(self, spec: Command) -> SlashCommand:
        """``/top [board] [round]``: a round's number picks that round's board."""

        @app_commands.rename(round_id="round")
        @app_commands.describe(board=locale("discord.option_board"), round_id=locale("discord.option_round"))
        @app_commands.choices(board=_choices(list(BOARDS), "discord.board_"))
        async def top(
            interaction: discord.Interaction,
            board: app_commands.Choice[str] | None = None,
            round_id: Id | None = None,
        ) -> None:
            chosen: Board = "round" if round_id is not None else BOARDS[board.value] if board else "all"
            await self.interactions.run(
                interaction, spec.name, lambda ctx: self.engine.points.leaderboard(ctx, chosen, round_id)
            )

        return _command(spec, top)

    def _link(self, spec: Command) -> SlashCommand:
        """``/link`` (a new code and the linked accounts) or ``/link code:`` (use a code from elsewhere)."""

        @app_commands.describe(code=locale("discord.option_link_code"))
        async def link(interaction: discord.Interaction, code: str | None = None) -> None:
            await self.interactions.run(interaction, spec.name, lambda ctx: self.engine.linking.link(ctx, code))

        return _command(spec, link)

    def _redeem(self, spec: Command) -> SlashCommand:
        @app_commands.describe(reward=locale("discord.option_reward"))
        async def redeem(interaction: discord.Interaction, reward: str) -> None:
            key = update_key(interaction)
            await self.interactions.run(
                interaction, spec.name, lambda ctx: self.engine.rewards.redeem(ctx, reward, key)
            )

        command = _command(spec, redeem)

        @command.autocomplete("reward")
        async def rewards(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            async def in_stock() -> list[tuple[str, str]]:
                return [
                    (f"{title} ({reward_id})", reward_id) for reward_id, title in await self.engine.reward_choices()
                ]

            return await _offer(current, in_stock)

        return command

    def _subjects(
        self, interaction: discord.Interaction, current: str, subjects: list[Campaign | Topic]
    ) -> list[app_commands.Choice[str]]:
        """Campaigns (and idea topics) from the catalog whose id or title holds what is typed."""
        language = self.interactions.language(interaction)
        return _matching(
            current, [(f"{text_in(subject.title, language)} ({subject.id})", subject.id) for subject in subjects]
        )

    # moderators ---------------------------------------------------------------------------------

    def _member_command(self, spec: Command) -> SlashCommand:
        """``/ban``, ``/unban`` and ``/member`` pick the member; the engine gets their id."""

        def use_case(target: str) -> UseCase:
            if spec.name == "member":
                return lambda ctx: self.engine.quality.member(ctx, target)
            return lambda ctx: self.engine.moderation.ban(ctx, target, spec.name == "ban")

        @app_commands.describe(member=locale("discord.option_member"))
        async def about_member(interaction: discord.Interaction, member: discord.User) -> None:
            await self.interactions.run(interaction, spec.name, use_case(str(member.id)))

        return _command(spec, about_member)

    def _round_group(self, spec: Command) -> SlashCommand:
        """``/round open <subject> [duration]``, ``/round close [round]``, ``/round list``."""
        group = app_commands.Group(name=spec.name, description=locale(spec.description_key))
        rounds = self.engine.rounds

        @group.command(name="open", description=locale("discord.round_open"))
        @app_commands.describe(subject=locale("discord.option_subject"), duration=locale("discord.option_duration"))
        async def open_round(interaction: discord.Interaction, subject: str, duration: str | None = None) -> None:
            given = (duration or "").strip()
            length = parse_duration(given) if given else None
            if given and length is None:
                await self.interactions.run(
                    interaction, "round open", lambda ctx: bad_duration(self.engine, ctx, given)
                )
                return
            key = update_key(interaction)
            await self.interactions.run(
                interaction, "round open", lambda ctx: rounds.open(ctx, subject.strip(), length, key)
            )

        @open_round.autocomplete("subject")
        async def subjects(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            catalog = self.engine.services.catalog
            return self._subjects(interaction, current, [*catalog.campaigns.values(), *catalog.topics.values()])

        @group.command(name="close", description=locale("discord.round_close"))
        @app_commands.rename(round_id="round")
        @app_commands.describe(round_id=locale("discord.option_round"))
        async def close_round(interaction: discord.Interaction, round_id: Id | None = None) -> None:
            await self.interactions.run(interaction, "round close", lambda ctx: rounds.close(ctx, round_id))

        @group.command(name="list", description=locale("discord.round_list"))
        async def list_rounds(interaction: discord.Interaction) -> None:
            await self.interactions.run(interaction, "round list", rounds.listing)

        return group

    def _community_group(self, spec: Command) -> SlashCommand:
        """``/community show``, ``/community link``, ``/community join <code>``, ``/community leave``."""
        group = app_commands.Group(name=spec.name, description=locale(spec.description_key))
        communities = self.engine.communities

        @group.command(name="show", description=locale("discord.community_show"))
        async def show(interaction: discord.Interaction) -> None:
            await self.interactions.run(interaction, "community", communities.listing)

        @group.command(name="link", description=locale("discord.community_link"))
        async def link(interaction: discord.Interaction) -> None:
            await self.interactions.run(interaction, "community link", communities.link)

        @group.command(name="join", description=locale("discord.community_join"))
        @app_commands.describe(code=locale("discord.option_code"))
        async def join(interaction: discord.Interaction, code: str) -> None:
            use_case: UseCase = lambda ctx: community_join(self.engine, ctx, code)  # noqa: E731
            await self.interactions.run(interaction, "community join", use_case)

        @group.command(name="leave", description=locale("discord.community_leave"))
        async def leave(interaction: discord.Interaction) -> None:
            await self.interactions.run(interaction, "community leave", lambda ctx: community_leave(self.engine, ctx))

        return group

    def _about_round(self, spec: Command) -> SlashCommand:
        """``/results [round]`` and ``/quality [round]``: the latest round here unless one is named."""
        use_case: Callable[[Context, int | None], Coroutine[Any, Any, Reply]] = (
            self.engine.results.results if spec.name == "results" else self.engine.quality.quality
        )

        @app_commands.rename(round_id="round")
        @app_commands.describe(round_id=locale("discord.option_round"))
        async def about_round(interaction: discord.Interaction, round_id: Id | None = None) -> None:
            await self.interactions.run(interaction, spec.name, lambda ctx: use_case(ctx, round_id))

        return _command(spec, about_round)

    def _export(self, spec: Command) -> SlashCommand:
        """``/export [round] [format]``."""

        @app_commands.rename(round_id="round", file_format="format")
        @app_commands.describe(round_id=locale("discord.option_round"), file_format=locale("discord.option_format"))
        @app_commands.choices(file_format=_choices(EXPORT_FORMATS, "discord.format_"))
        async def export(
            interaction: discord.Interaction,
            round_id: Id | None = None,
            file_format: app_commands.Choice[str] | None = None,
        ) -> None:
            fmt = file_format.value if file_format else EXPORT_FORMATS[0]
            await self.interactions.run(
                interaction, spec.name, lambda ctx: self.engine.exports.export_reply(ctx, round_id, fmt)
            )

        return _command(spec, export)

    # ideas --------------------------------------------------------------------------------------

    def _idea(self, spec: Command) -> SlashCommand:
        """``/idea [text] [category] [builds_on]`` shares an idea (no text: a form), ``/idea show:<n>`` shows one."""
        ideas = self.engine.ideas

        @app_commands.describe(
            text=locale("discord.option_idea"),
            category=locale("discord.option_category"),
            builds_on=locale("discord.option_builds_on"),
            show=locale("discord.option_show"),
        )
        async def idea(
            interaction: discord.Interaction,
            text: str | None = None,
            category: str | None = None,
            builds_on: Id | None = None,
            show: Id | None = None,
        ) -> None:
            if show is not None:
                await self.interactions.run(interaction, spec.name, lambda ctx: ideas.show(ctx, show))
            elif text and text.strip():
                key, kind = update_key(interaction), (category or "").strip() or None
                await self.interactions.run(
                    interaction,
                    spec.name,
                    lambda ctx: ideas.submit(ctx, text, category=kind, parent_id=builds_on, update_key=key),
                )
            else:
                await self.interactions.open_idea_form(interaction)

        command = _command(spec, idea)

        @command.autocomplete("category")
        async def categories(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            async def here() -> list[tuple[str, str]]:
                names = await self.engine.idea_categories(user_ref(interaction), space_ref(interaction))
                return [(name, name) for name in names]

            return await _offer(current, here)

        return command

    def _ideas(self, spec: Command) -> SlashCommand:
        @app_commands.describe(order=locale("discord.option_order"), page=locale("discord.option_page"))
        @app_commands.choices(order=_choices(IDEA_VIEWS, "ideas.view."))
        async def ideas(
            interaction: discord.Interaction,
            order: app_commands.Choice[str] | None = None,
            page: Id | None = None,
        ) -> None:
            view = order.value if order else IDEA_VIEWS[0]
            await self.interactions.run(
                interaction, spec.name, lambda ctx: self.engine.ideas.browse(ctx, view, page or 1)
            )

        return _command(spec, ideas)

    def _launched(self, spec: Command) -> SlashCommand:
        @app_commands.describe(page=locale("discord.option_page"))
        async def launched(interaction: discord.Interaction, page: Id | None = None) -> None:
            await self.interactions.run(
                interaction, spec.name, lambda ctx: self.engine.ideas.browse(ctx, "launched", page or 1)
            )

        return _command(spec, launched)

    def _status(self, spec: Command) -> SlashCommand:
        """``/status <idea> <status> [note] [merged_into]``: merging names the idea it goes into."""

        @app_commands.describe(
            idea=locale("discord.option_idea_number"),
            status=locale("discord.option_status"),
            note=locale("discord.option_note"),
            merged_into=locale("discord.option_merged_into"),
        )
        @app_commands.choices(status=_choices(list(STATUSES), "ideas.status."))
        async def status(
            interaction: discord.Interaction,
            idea: Id,
            status: app_commands.Choice[str],
            note: str | None = None,
            merged_into: Id | None = None,
        ) -> None:
            chosen = STATUSES[status.value]
            await self.interactions.run(
                interaction,
                spec.name,
                lambda ctx: self.engine.ideas.set_status(ctx, idea, chosen, note or "", merged_into=merged_into),
            )

        return _command(spec, status)

    def _idea_command(self, spec: Command) -> SlashCommand:
        """``/approve <idea>`` and ``/hide <idea>``."""
        ideas = self.engine.ideas
        use_case: Callable[[Context, int], Coroutine[Any, Any, Reply]] = (
            ideas.approve if spec.name == "approve" else ideas.hide
        )

        @app_commands.describe(idea=locale("discord.option_idea_number"))
        async def about_idea(interaction: discord.Interaction, idea: Id) -> None:
            await self.interactions.run(interaction, spec.name, lambda ctx: use_case(ctx, idea))

        return _command(spec, about_idea)
