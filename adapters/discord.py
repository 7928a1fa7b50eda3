"""CrowdPulse on Discord (discord.py 2.x): slash commands, buttons, selects and modals in; replies out.

Thin by design: an interaction becomes a :class:`UserRef`, a :class:`SpaceRef` and one engine call (every
slash command goes through :func:`bot.commands.dispatch` as the text command it stands for), and the
:class:`Reply` becomes messages, embeds and components. Rules and sentences stay in ``bot/``.

How Discord's contract is kept:

* **Acknowledge within 3 seconds.** The engine call runs as a task; nearly always it answers within
  ``ack_budget`` and the reply goes out as the interaction's response, with the right type. When it has
  not (a chart, an export, a slow disk), the interaction is deferred first (a private "thinking…" for
  commands, a silent deferred update for components) and the reply follows.
* **Work after a restart.** Components carry the engine's signed action tokens as their custom_ids and
  are matched by shape (:class:`ActionItem`, :class:`AnswerButton`), so a button from last week still
  works; modal submissions are routed by their custom_id the same way, and the answer form's title and
  placeholder are rebuilt by the engine from the token. Views and modals are sent *stopped* so
  discord.py keeps no per-message state: it would otherwise time ephemeral views out after 15 minutes
  and, removing them, unregister the dynamic items for the whole client.
* **Sync slash commands only when they changed.** Each start compares the fingerprint of what would be
  uploaded with the one remembered in the database (:meth:`DiscordAdapter.sync_commands`).
* **Stay within limits.** Content is split below 2000 characters between lines, rows are cut to 5
  buttons and messages to 5 rows (more rows go in further messages), selects to 25 options, labels to
  their lengths; images and charts travel as attachments shown in an embed.
* **Ping nobody.** The client's default and every send use ``AllowedMentions.none()``.
* **Private things stay private.** Replies that concern one member (``Reply.private``, refusals, the
  answers to their clicks) are ephemeral; reward codes only ever go ephemerally or by direct message.
* **Share the gateway with other processes.** With ``discord.shard_ids`` a process runs only those
  shards of ``discord.shard_count``: Discord sends each server's interactions to the one process holding
  its shard, and all of them use the same database. The outbox is shared too, so a process hands a
  server's announcement back when another process's shard holds that server (:func:`shard_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.catalog import Campaign, Topic, text_in
from bot.commands import COMMANDS, Command, dispatch
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import DeliveryFailed, DeliveryRetry, OutboxDrainer, Pacer
from bot.replies import Button, Outcome, Reply, Select, TextInput, split_markup, to_markdown, to_plain
from bot.settings import Settings
from bot.texts import FALLBACK, available_languages, pick_language, t

log = logging.getLogger(__name__)

PLATFORM = "discord"
ACK_BUDGET = 1.5  # seconds the engine may take before the interaction is deferred (Discord allows 3)
CONTENT_LIMIT = 2000
ROWS_PER_MESSAGE = 5
BUTTONS_PER_ROW = 5
SELECT_OPTIONS = 25
BUTTON_LABEL = 80
OPTION_TEXT = 100  # select option labels and values, command and option descriptions, choice names
SELECT_PLACEHOLDER = 150
MODAL_TITLE = 45  # also a modal label's text
TEXT_INPUT_MAX = 4000
TEXT_INPUT_PLACEHOLDER = 100
AUTOCOMPLETE_CHOICES = 25
REMEMBERED_MEMBERS = 10_000
RETRY_SECONDS = 5.0
IDENTIFY_INTERVAL = 5.0  # seconds between a process's shard launches (Discord's identify rate limit)
ELSEWHERE_SECONDS = 1.0  # an outbox message for a server another process's shard holds goes back this long

# The custom_id shape of an engine action token (bot/actions.py): a verb, dot-separated fields, a signature.
ACTION_ID = r"[a-z]\.[A-Za-z0-9_.-]{1,98}"
ACTION_ID_PATTERN = re.compile(ACTION_ID)
ANSWER_PREFIX = "answer"  # ``answer:<max length>:<token>`` opens the form a free-text answer is typed in
ANSWER_MARK = "✍️"
ANSWER_FIELD = "text"
IDEA_FORM = "idea-form"
IDEA_FIELD, CATEGORY_FIELD = "text", "category"
IDEA_VIEWS = ("top", "new", "trending")
EXPORT_FORMATS = ("csv", "json")
SYNCED_COMMANDS = "discord.commands"  # meta rows ``discord.commands:<application id>:<scope>``: what was synced

MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)
NO_MENTIONS = discord.AllowedMentions.none()


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to: ``(guild_id >> 22) % shard_count``.

    The top bits of a snowflake are its creation time, so a server stays on its shard while the count
    stays the same.
    """
    return (guild_id >> 22) % shard_count


def configure_endpoints(api_base: str, gateway_url: str) -> None:
    """Point discord.py at Discord's REST API and gateway, or at a stand-in (the test suite's fake).

    discord.py reads both from class attributes at call time (``Route.BASE``, ``DEFAULT_GATEWAY``), so
    this affects every client in the process; the defaults in :class:`bot.settings.DiscordSettings` are
    Discord's own. Call it before the client logs in.
    """
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


# identities -------------------------------------------------------------------------------------


def user_ref(interaction: discord.Interaction) -> UserRef:
    user = interaction.user
    return UserRef(PLATFORM, str(user.id), user.display_name, interaction.locale.value)


def space_ref(interaction: discord.Interaction) -> SpaceRef:
    """A server is the space (rounds, leaderboards, bans are per server); a direct message is its channel."""
    if interaction.guild_id is not None:
        guild = interaction.guild
        title = guild.name if isinstance(guild, discord.Guild) else ""
        return SpaceRef(PLATFORM, str(interaction.guild_id), title, False)
    return SpaceRef(PLATFORM, str(interaction.channel_id), "", True)


def _verb(token: str) -> str:
    """What a token does, for the log; the token itself is never logged."""
    return token.split(".", 1)[0]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(markup: str, limit: int) -> str:
    return _cut(to_plain(markup), limit)


def _join(*parts: object) -> str:
    """A text command from a slash command's parts, leaving out the options not given."""
    return " ".join(str(part) for part in parts if part is not None and str(part).strip())


# rendering --------------------------------------------------------------------------------------


def markdown_chunks(markup: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Reply markup as Discord Markdown, in chunks of at most ``limit`` characters cut between lines.

    Escaping for Markdown lengthens text (``*`` becomes ``\\*``), so the markup is split with a smaller
    budget until every converted chunk fits; tags never span lines, so each chunk converts on its own.
    """
    budget = limit
    while True:
        chunks = [to_markdown(part) for part in split_markup(markup, budget)]
        longest = max(len(chunk) for chunk in chunks)
        if longest <= limit:
            return chunks
        budget = max(1, min(budget - 1, budget * limit // longest))


@dataclass
class Outgoing:
    """One Discord message to send or to edit into place."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[discord.File] = field(default_factory=list)
    view: discord.ui.View | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.content:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = self.embeds
        if self.files:
            kwargs["files"] = self.files
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """The whole message replaced: what the reply does not show (an old image, buttons) goes."""
        return {
            "content": self.content or None,
            "embeds": self.embeds,
            "attachments": self.files,
            "view": self.view,
            "allowed_mentions": NO_MENTIONS,
        }


async def render(reply: Reply) -> list[Outgoing]:
    """One reply (not its follow-ups) as Discord messages: text chunks, then media and components.

    The image or file and the first five rows of components ride on the last text chunk; further rows
    (the engine's replies have at most four) go in messages of their own.
    """
    messages = [Outgoing(content=chunk) for chunk in markdown_chunks(reply.text)] if reply.text else [Outgoing()]
    last = messages[-1]
    last.embeds, last.files = await _media(reply)
    pages = _pages(_rows(reply))
    if pages:
        last.view = pages[0]
    messages += [Outgoing(view=page) for page in pages[1:]]
    return messages


def _filename(name: str) -> str:
    """A name ``attachment://`` can refer to."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "file"


async def _media(reply: Reply) -> tuple[list[discord.Embed], list[discord.File]]:
    embeds: list[discord.Embed] = []
    files: list[discord.File] = []
    image = reply.image
    if image is not None:
        embed = discord.Embed()
        if image.data or image.path:
            name = _filename(image.filename)
            data = image.data or await asyncio.to_thread(Path(image.path).read_bytes)
            files.append(discord.File(io.BytesIO(data), name))
            embed.set_image(url=f"attachment://{name}")
        else:
            embed.set_image(url=image.url)
        embeds.append(embed)
    if reply.attachment is not None:
        files.append(discord.File(io.BytesIO(reply.attachment.data), _filename(reply.attachment.filename)))
    return embeds, files


def _rows(reply: Reply) -> list[list[discord.ui.Item[Any]]]:
    """Component rows: the select first, then the buttons five to a row, the answer button in front."""
    rows: list[list[discord.ui.Item[Any]]] = []
    seen: set[str] = set()  # Discord refuses a message with a custom_id twice
    if reply.select is not None:
        rows.append([_select(reply.select)])
        seen.add(reply.select.action)
    for row in reply.buttons:
        items = []
        for button in row:
            if button.select_stand_in and reply.select is not None:
                continue  # the native select replaces the toggle buttons and their Submit
            if button.url or button.action not in seen:
                items.append(_button(button))
                seen.add(button.action)
        rows += [items[i : i + BUTTONS_PER_ROW] for i in range(0, len(items), BUTTONS_PER_ROW)]
    if reply.text_input is not None:
        answer = _answer_button(reply.text_input)
        roomy = next((row for row in rows if len(row) < BUTTONS_PER_ROW and not _is_select_row(row)), None)
        if roomy is None:
            rows.append([answer])
        else:
            roomy.insert(0, answer)
    return rows


def _is_select_row(row: list[discord.ui.Item[Any]]) -> bool:
    return any(item.type == discord.ComponentType.select for item in row)


def _pages(rows: list[list[discord.ui.Item[Any]]]) -> list[discord.ui.View]:
    pages = []
    for start in range(0, len(rows), ROWS_PER_MESSAGE):
        view = discord.ui.View(timeout=None)
        for number, row in enumerate(rows[start : start + ROWS_PER_MESSAGE]):
            for item in row:
                item.row = number
                view.add_item(item)
        view.stop()  # see the module docstring: dispatch goes through the dynamic items alone
        pages.append(view)
    return pages


def _button(button: Button) -> discord.ui.Item[Any]:
    label = _cut(button.label, BUTTON_LABEL)
    if button.url:
        return discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=button.url)
    style = discord.ButtonStyle.success if button.selected else discord.ButtonStyle.primary
    return ActionItem(discord.ui.Button(style=style, label=label, custom_id=button.action))


def _select(select: Select) -> ActionItem:
    options = [
        discord.SelectOption(label=_cut(option.label, OPTION_TEXT), value=option.value[:OPTION_TEXT])
        for option in select.options[:SELECT_OPTIONS]
    ]
    high = max(1, min(select.max_values, len(options)))
    menu: discord.ui.Select[Any] = discord.ui.Select(
        custom_id=select.action,
        placeholder=_cut(select.placeholder, SELECT_PLACEHOLDER) or None,
        min_values=min(select.min_values, high),
        max_values=high,
        options=options,
    )
    return ActionItem(menu)


def _answer_button(text_input: TextInput) -> AnswerButton:
    """The button that opens the form; its custom_id keeps everything the form needs across a restart."""
    limit = max(1, min(text_input.max_length, TEXT_INPUT_MAX))
    button: discord.ui.Button[Any] = discord.ui.Button(
        style=discord.ButtonStyle.primary,
        label=_cut(f"{ANSWER_MARK} {text_input.label}", BUTTON_LABEL),
        custom_id=f"{ANSWER_PREFIX}:{limit}:{text_input.action}",
    )
    return AnswerButton(button)


def answer_form(token: str, label: str, max_length: int, placeholder: str = "") -> discord.ui.Modal:
    """The modal a free-text answer is typed in; its custom_id is the token that receives the text."""
    title = _cut(label, MODAL_TITLE) or ANSWER_MARK
    modal = discord.ui.Modal(title=title, custom_id=token)
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=ANSWER_FIELD,
        style=discord.TextStyle.paragraph,
        max_length=max(1, min(max_length, TEXT_INPUT_MAX)),
        placeholder=_plain(placeholder, TEXT_INPUT_PLACEHOLDER) or None,
        required=True,
    )
    modal.add_item(discord.ui.Label(text=title, component=text))
    modal.stop()  # a form only: its submission is routed by custom_id (on_modal_submit), not kept here
    return modal


def idea_form(language: str, categories: Sequence[str], max_length: int) -> discord.ui.Modal:
    """``/idea`` without text: the idea and, when this server has categories, one to file it under."""
    modal = discord.ui.Modal(title=_plain(t("discord.idea_form_title", language), MODAL_TITLE), custom_id=IDEA_FORM)
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=IDEA_FIELD,
        style=discord.TextStyle.paragraph,
        max_length=max(1, min(max_length, TEXT_INPUT_MAX)),
        required=True,
    )
    modal.add_item(discord.ui.Label(text=_plain(t("discord.idea_form_text", language), MODAL_TITLE), component=text))
    if categories:
        menu: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=CATEGORY_FIELD,
            options=[
                discord.SelectOption(label=_cut(name, OPTION_TEXT), value=name[:OPTION_TEXT])
                for name in categories[:SELECT_OPTIONS]
            ],
            min_values=0,
            max_values=1,
            required=False,
        )
        label = _plain(t("discord.idea_form_category", language), MODAL_TITLE)
        modal.add_item(discord.ui.Label(text=label, component=menu))
    modal.stop()
    return modal


def modal_values(components: Sequence[Any]) -> dict[str, Any]:
    """A modal submission's values by input custom_id (a string for text, a list for selects)."""
    values: dict[str, Any] = {}
    for component in components:
        if component.get("type") == discord.ComponentType.action_row.value:
            values.update(modal_values(component.get("components", [])))
        elif component.get("type") == discord.ComponentType.label.value:
            values.update(modal_values([component.get("component", {})]))
        elif "custom_id" in component:
            values[component["custom_id"]] = component.get("value", component.get("values", []))
    return values


def announcement_channel(guild: discord.Guild) -> discord.TextChannel | None:
    """Where a server's announcements and results go: its system channel, else the first text channel
    the bot may post files and embeds in (the order members see)."""
    for channel in (guild.system_channel, *guild.text_channels):
        if channel is None:
            continue
        allowed = channel.permissions_for(guild.me)
        if allowed.view_channel and allowed.send_messages and allowed.attach_files and allowed.embed_links:
            return channel
    return None


# persistent components --------------------------------------------------------------------------


class ActionItem(discord.ui.DynamicItem[discord.ui.Item[Any]], template=ACTION_ID):
    """A button or select whose custom_id is an engine action token, rebuilt from that id per click."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionItem:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        await _adapter(interaction).on_action(interaction, self.custom_id, tuple(data.get("values", ())))


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Item[Any]],
    template=rf"{ANSWER_PREFIX}:(?P<limit>\d{{1,4}}):(?P<token>{ACTION_ID})",
):
    """The "✍️" button of a free-text question: opens the form whose submission carries the token.

    Like every dynamic item it is rebuilt from the clicked component alone, so all it knows is its
    label and custom_id; the form's placeholder is asked from the engine when it opens
    (:meth:`DiscordAdapter.open_answer_form`), and label and limit are what it falls back on.
    """

    def __init__(self, item: discord.ui.Item[Any], match: re.Match[str] | None = None) -> None:
        super().__init__(item)
        found = match or self.template.fullmatch(self.custom_id)
        assert found is not None  # DynamicItem checked the custom_id against the template
        self.token = found["token"]
        self.limit = max(1, min(int(found["limit"]), TEXT_INPUT_MAX))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        return cls(item, match)

    async def callback(self, interaction: discord.Interaction) -> None:
        label = getattr(self.item, "label", None) or ""
        title = label.removeprefix(ANSWER_MARK).strip() or label
        await _adapter(interaction).open_answer_form(interaction, self.token, title, self.limit)


def _adapter(interaction: discord.Interaction) -> DiscordAdapter:
    client = interaction.client
    assert isinstance(client, CrowdPulseClient)
    return client.adapter


# answering one interaction ----------------------------------------------------------------------


class Responder:
    """Answers one interaction: once by its response, then by follow-ups (a second response is 40060).

    After a "thinking…" deferral the first follow-up replaces the placeholder, which is ephemeral: a
    public reply deletes it and posts anew, so nothing private is shown and nothing public is hidden.
    """

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.deferred = False
        self._placeholder = False

    async def defer(self, *, thinking: bool) -> None:
        await self.interaction.response.defer(thinking=thinking, ephemeral=thinking)
        self.deferred, self._placeholder = True, thinking

    async def send(self, message: Outgoing, *, ephemeral: bool) -> None:
        response = self.interaction.response
        if not response.is_done():
            await response.send_message(ephemeral=ephemeral, **message.send_kwargs())
            return
        if self._placeholder:
            self._placeholder = False
            if not ephemeral:
                await self.interaction.delete_original_response()
        await self.interaction.followup.send(ephemeral=ephemeral, **message.send_kwargs())

    async def edit(self, message: Outgoing) -> None:
        """Replace the message the component was on (UPDATE_MESSAGE, or an edit after deferring)."""
        await self._edit(**message.edit_kwargs())

    async def close(self, content: str) -> None:
        """Rewrite the component's message and take its components away, keeping image and files."""
        await self._edit(content=content, view=None, allowed_mentions=NO_MENTIONS)

    async def _edit(self, **changes: Any) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.edit_message(**changes)
        else:
            await self.interaction.edit_original_response(**changes)


def _answered(reply: Reply, message: discord.Message) -> str | None:
    """A question only this member sees, with the confirmation below it and no buttons left to tap twice.

    ``None`` when that does not apply: a shared message, something else than a plain "done", or too long.
    """
    if reply.outcome != Outcome.DONE or not message.flags.ephemeral:
        return None
    if reply.buttons or reply.select or reply.text_input or reply.image or reply.attachment:
        return None
    line = "\n".join(markdown_chunks(reply.text))
    content = f"{message.content}\n{line}" if message.content else line
    return content if len(content) <= CONTENT_LIMIT else None


# the adapter ------------------------------------------------------------------------------------


class CrowdPulseClient(discord.AutoShardedClient):
    """discord.py's client as CrowdPulse needs it: the guilds intent only (no message content), no
    mentions, the command tree, and the adapter behind setup and modal submissions."""

    def __init__(
        self,
        adapter: DiscordAdapter,
        *,
        shard_count: int | None,
        shard_ids: Sequence[int] | None,
        guild_ready_timeout: float,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        # Without shard_ids the client runs every shard; with them, only those (the others are run by
        # other processes on the same database).
        sharding: dict[str, Any] = {} if shard_ids is None else {"shard_ids": list(shard_ids)}
        super().__init__(
            intents=intents,
            shard_count=shard_count,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            **sharding,
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self._closing = asyncio.Event()
        self._waited: set[int] = set()  # shards being launched whose identify wait is already over

    async def setup_hook(self) -> None:
        await self.adapter.setup()

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """Launch a shard, waiting for Discord's identify rate limit *before* its socket opens.

        discord.py 2.7 waits in :meth:`before_identify_hook`, with the socket open; a process stopped
        then (its shards launch 5 s apart, so for a while after every start) never exited: the closed
        client retried launching that shard forever on its closed HTTP session, leaving a socket and a
        heartbeat thread behind each time. Waiting here, cut short by :meth:`close`, a stop while
        launching opens nothing more; a shard that still came up after ``close()`` is disconnected.
        """
        if not initial:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), IDENTIFY_INTERVAL)
        if self.is_closed():
            return
        self._waited.add(shard_id)
        try:
            await super().launch_shard(gateway, shard_id, initial=initial)
        finally:
            self._waited.discard(shard_id)
        late = self.get_shard(shard_id) if self.is_closed() else None
        if late is not None:
            await late.disconnect()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py's wait before an IDENTIFY, except in a launch that has waited already."""
        if shard_id not in self._waited:
            await super().before_identify_hook(shard_id, initial=initial)

    async def close(self) -> None:
        """Close, and wake a shard launch waiting its turn so that it gives up (see :meth:`launch_shard`)."""
        self._closing.set()
        await super().close()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type == discord.InteractionType.modal_submit:
            await self.adapter.on_modal_submit(interaction)


class DiscordAdapter:
    """CrowdPulse's engine behind one Discord client.

    Args:
        guild_ready_timeout: how long discord.py waits for more servers before it calls itself ready (and
            the outbox starts draining); Discord needs the default, tests shorten it.
        ack_budget: seconds the engine may take before an interaction is deferred; 0 defers every one.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        guild_ready_timeout: float = 2.0,
        ack_budget: float = ACK_BUDGET,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.ack_budget = ack_budget
        self.client = CrowdPulseClient(
            self,
            shard_count=settings.discord.shard_count,
            shard_ids=settings.discord.shard_ids,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.tree = self.client.tree
        self.tree.error(self.on_command_error)
        for command in slash_commands(self):
            self.tree.add_command(command)
        self._members: OrderedDict[tuple[int, int], discord.Member] = OrderedDict()
        engine.moderation.register_check(PLATFORM, self.is_moderator)

    # start-up -----------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Before the gateway connects: persistent components, translations, commands synced if changed.

        Commands go to ``discord.guild_ids`` when set (they appear there at once), else globally.
        """
        self.client.add_dynamic_items(ActionItem, AnswerButton)
        await self.tree.set_translator(CatalogTranslator())
        guild_ids = self.settings.discord.guild_ids
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.sync_commands(guild)
        if not guild_ids:
            await self.sync_commands(None)

    async def sync_commands(self, guild: discord.Object | None) -> None:
        """Upload one scope's commands (a server's, or the global ones) unless Discord has these already.

        discord.py's maintainers advise against syncing on every start: global command updates are
        rate limited and slow to reach clients. So the fingerprint of exactly what ``tree.sync`` would
        upload (:func:`command_payload`, translations included) is remembered in the store's ``meta``
        table per application and scope once Discord accepted it, and a start with the same fingerprint
        skips the upload. Any change to a command, option, permission or translation, or to how
        discord.py serialises them, changes the fingerprint. Commands edited on Discord by hand are not
        noticed: deleting the ``discord.commands:…`` rows from ``meta`` forces the next start to upload.
        """
        application_id = self.client.application_id
        if application_id is None:
            raise app_commands.MissingApplicationID
        scope = "global" if guild is None else f"guild:{guild.id}"
        name = f"{SYNCED_COMMANDS}:{application_id}:{scope}"
        fingerprint = commands_fingerprint(await command_payload(self.tree, guild))
        if await self.engine.services.store.meta_value(name) == fingerprint:
            log.info("platform=discord commands for %s unchanged, not synced", scope)
            return
        synced = await self.tree.sync(guild=guild)
        await self.engine.services.store.set_meta_value(name, fingerprint)
        log.info("platform=discord synced %d commands to %s", len(synced), scope)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain the outbox once ready, and close cleanly when ``stop`` is set.

        Raises:
            discord.LoginFailure: the token was refused (and other errors that end the gateway).
        """
        token = self.settings.discord.token
        if token is None:
            raise ValueError("discord.token is not set (CROWDPULSE_DISCORD__TOKEN)")
        try:
            await self.client.login(token.get_secret_value())
        except BaseException:
            await self.client.close()  # the HTTP session login opened
            raise
        connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready(), name="discord-ready")
        stopping = asyncio.create_task(stop.wait(), name="discord-stop")
        halt = asyncio.Event()
        drain: asyncio.Task[None] | None = None
        try:
            await asyncio.wait({connection, ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and not stopping.done():
                drain = asyncio.create_task(self.drainer().run(halt), name="discord-outbox")
                log.info("platform=discord started guilds=%d", len(self.client.guilds))
                await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.set()
            if drain is not None:
                await drain
            await self.client.close()
            for helper in (ready, stopping):
                helper.cancel()
            await asyncio.gather(ready, stopping, return_exceptions=True)
            await connection  # re-raises what ended the gateway (a refused token, say)

    def shard_elsewhere(self, guild_id: int) -> int | None:
        """The shard of a server this process does not run, or ``None`` when it runs that shard.

        The outbox is shared by every process on the database, and only the process whose shard holds
        a server has it (its channels, the bot's permissions there) in its cache: another process would
        give the announcement up as undeliverable. A direct message's channel id is no server id, but
        every shard is run by some process, so it still reaches one that can send it.
        """
        discord_settings = self.settings.discord
        shard_ids, shard_count = discord_settings.shard_ids, discord_settings.shard_count
        if shard_ids is None or shard_count is None:
            return None  # this process runs every shard
        shard = shard_of(guild_id, shard_count)
        return None if shard in shard_ids else shard

    # moderators ---------------------------------------------------------------------------------

    def _remember(self, interaction: discord.Interaction) -> None:
        """Keep the member an interaction carries (roles, permissions) for the engine's moderator check."""
        member = interaction.user
        if isinstance(member, discord.Member) and interaction.guild_id is not None:
            key = (interaction.guild_id, member.id)
            self._members[key] = member
            self._members.move_to_end(key)
            if len(self._members) > REMEMBERED_MEMBERS:
                self._members.popitem(last=False)

    async def is_moderator(self, user: UserRef, space: SpaceRef) -> bool:
        """Manage Server, or a role named ``discord.moderator_role``; nobody moderates a direct message."""
        if space.is_private:
            return False
        guild_id, user_id = int(space.external_id), int(user.platform_user_id)
        member = self._members.get((guild_id, user_id))
        if member is None:
            guild = self.client.get_guild(guild_id)
            if guild is None:
                return False
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                return False
        role = self.settings.discord.moderator_role
        return member.guild_permissions.manage_guild or any(r.name == role for r in member.roles)

    # interactions -------------------------------------------------------------------------------

    def _language(self, interaction: discord.Interaction) -> str:
        return pick_language(interaction.locale.value, self.settings.default_language)

    async def run_command(self, interaction: discord.Interaction, text: str) -> None:
        """A slash command, run as the text command it stands for (``round open coffee 2d``)."""
        user, space = user_ref(interaction), space_ref(interaction)

        async def work() -> Reply:
            reply = await dispatch(self.engine, user, space, f"/{text}", f"dc:{interaction.id}")
            fallback = reply or await dispatch(self.engine, user, space, "/help")
            assert fallback is not None, "/help always answers"
            return fallback

        await self._serve(interaction, "command", text.split(" ", 1)[0], work)

    async def on_action(self, interaction: discord.Interaction, token: str, values: Sequence[str]) -> None:
        """A button or select carrying an engine token; the engine verifies it (forged: "expired")."""
        user, space = user_ref(interaction), space_ref(interaction)
        await self._serve(
            interaction, "component", _verb(token), lambda: self.engine.act(user, space, token, values=values)
        )

    async def open_answer_form(self, interaction: discord.Interaction, token: str, label: str, limit: int) -> None:
        """Show the form the question asked for; the engine sees the submission.

        ``label`` and ``limit`` are what the button knows (its label, its custom_id); the engine rebuilds
        the question's own form from the token (title, placeholder, limit), also after a restart. A modal
        cannot follow a deferral, so the engine gets ``ack_budget``; slower, or failing, the form opens
        as the button describes it, without a placeholder.
        """
        started = time.perf_counter()
        wanted = await self._text_input(interaction, token)
        if wanted is None:
            form = answer_form(token, label, limit)
        else:
            form = answer_form(token, wanted.label, wanted.max_length, wanted.placeholder)
        await interaction.response.send_modal(form)
        self._log(interaction, "form", _verb(token), "form" if wanted else "plain-form", False, started)

    async def _text_input(self, interaction: discord.Interaction, token: str) -> TextInput | None:
        """The engine's form for ``token``, or ``None`` if it has none, is slow or fails: the member's form
        must open within Discord's three seconds, and its details are not worth an "interaction failed"."""
        try:
            return await asyncio.wait_for(self.engine.text_input(user_ref(interaction), token), self.ack_budget)
        except TimeoutError:
            return None
        except Exception:
            log.exception("platform=discord interaction=%s the answer form's details failed", interaction.id)
            return None

    async def open_idea_form(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        categories = await self.engine.idea_categories(user_ref(interaction), space_ref(interaction))
        form = idea_form(self._language(interaction), categories, self.settings.ideas.max_length)
        await interaction.response.send_modal(form)
        self._log(interaction, "form", "idea", "form", False, started)

    async def on_modal_submit(self, interaction: discord.Interaction) -> None:
        """A submitted form: an answer for the token it is named after, or a new idea."""
        data: Any = interaction.data or {}
        custom_id: str = data.get("custom_id", "")
        values = modal_values(data.get("components", []))
        user, space = user_ref(interaction), space_ref(interaction)
        if custom_id == IDEA_FORM:
            categories = values.get(CATEGORY_FIELD) or []
            argument = _join(*(f"#{name}" for name in categories[:1]), values.get(IDEA_FIELD, ""))
            await self.run_command(interaction, f"idea {argument}")
        elif ACTION_ID_PATTERN.fullmatch(custom_id):
            text = str(values.get(ANSWER_FIELD, ""))
            await self._serve(
                interaction,
                "form",
                _verb(custom_id),
                lambda: self.engine.act(user, space, custom_id, text=text),
            )

    async def _serve(
        self,
        interaction: discord.Interaction,
        kind: str,
        name: str,
        work: Callable[[], Coroutine[Any, Any, Reply]],
    ) -> None:
        """Run the engine call, deferring if it outlasts the budget, then deliver the reply.

        Interactions that came from a message (clicks, forms opened by a button) answer the member
        privately or update that message; commands (and forms opened by one) post their reply.
        """
        started = time.perf_counter()
        self._remember(interaction)
        responder = Responder(interaction)
        message = interaction.message if kind != "command" else None
        outcome = "error"
        pending: asyncio.Task[Reply] = asyncio.create_task(work(), name=f"discord-{kind}-{interaction.id}")
        try:
            done, _ = await asyncio.wait({pending}, timeout=self.ack_budget)
            if not done:
                await responder.defer(thinking=message is None)
            reply = await pending
            if message is None:
                await self._post(responder, reply)
            else:
                await self._answer_on(responder, reply, message)
            outcome = reply.outcome.value
        except Exception:
            log.exception("platform=discord interaction=%s kind=%s name=%s failed", interaction.id, kind, name)
            with contextlib.suppress(Exception):
                await pending  # the engine finishes what it started; its own error is logged above
            await self._apologise(responder, self._language(interaction))
        finally:
            self._log(interaction, kind, name, outcome, responder.deferred, started)

    async def _post(self, responder: Responder, reply: Reply) -> None:
        for part in reply.chain():
            for message in await render(part):
                await responder.send(message, ephemeral=part.private or part.is_refusal)

    async def _answer_on(self, responder: Responder, reply: Reply, message: discord.Message) -> None:
        """After a click: update the message when the reply says so, else tell the member privately."""
        first, *rest = reply.chain()
        if first.edit:
            edited, *extra = await render(first)
            await responder.edit(edited)
            for part in extra:
                await responder.send(part, ephemeral=True)
        elif (answered := _answered(first, message)) is not None:
            await responder.close(answered)
        else:
            rest.insert(0, first)
        for follow_up in rest:
            for part in await render(follow_up):
                await responder.send(part, ephemeral=True)

    async def _apologise(self, responder: Responder, language: str) -> None:
        try:
            await responder.send(Outgoing(content=to_markdown(t("error.unexpected", language))), ephemeral=True)
        except (discord.HTTPException, aiohttp.ClientError):
            log.warning("platform=discord could not tell the member about the error")

    async def on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The tree's one fallback (an option that did not convert, say): logged, and the member told."""
        log.error("platform=discord interaction=%s command failed: %s", interaction.id, error, exc_info=error)
        await self._apologise(Responder(interaction), self._language(interaction))

    def _log(
        self,
        interaction: discord.Interaction,
        kind: str,
        name: str,
        outcome: str,
        deferred: bool,
        started: float,
    ) -> None:
        log.info(
            "platform=discord interaction=%s kind=%s name=%s outcome=%s deferred=%s latency_ms=%.1f",
            interaction.id,
            kind,
            name,
            outcome,
            deferred,
            (time.perf_counter() - started) * 1000,
        )

    # autocomplete -------------------------------------------------------------------------------

    async def reward_choices(self, current: str) -> list[app_commands.Choice[str]]:
        wanted = current.strip().casefold()
        return [
            app_commands.Choice(name=_cut(f"{title} ({reward_id})", OPTION_TEXT), value=reward_id)
            for reward_id, title in await self.engine.reward_choices()
            if wanted in reward_id or wanted in title.casefold()
        ][:AUTOCOMPLETE_CHOICES]

    def subject_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Campaigns and idea topics a round can be opened on, from the catalog."""
        language, wanted = self._language(interaction), current.strip().casefold()
        catalog = self.engine.services.catalog
        subjects: list[Campaign | Topic] = [*catalog.campaigns.values(), *catalog.topics.values()]
        return [
            app_commands.Choice(
                name=_cut(f"{text_in(subject.title, language)} ({subject.id})", OPTION_TEXT), value=subject.id
            )
            for subject in subjects
            if wanted in subject.id or wanted in text_in(subject.title, language).casefold()
        ][:AUTOCOMPLETE_CHOICES]

    # outbox -------------------------------------------------------------------------------------

    def drainer(self) -> OutboxDrainer:
        """Discord allows ~50 requests a second and ~5 messages per 5 seconds in a channel."""
        return OutboxDrainer(
            self.engine, PLATFORM, self.send_from_outbox, Pacer(per_second=40.0, per_target_interval=1.0)
        )

    async def send_from_outbox(self, target: str, reply: Reply) -> None:
        """The drainer's sender: ``space:<server>`` posts in its announcement channel, ``user:<id>`` DMs.

        Raises:
            DeliveryFailed: Discord will never take it (DMs closed: 50007, no channel, missing access).
            DeliveryRetry: Discord is failing (5xx) or unreachable, or the server is on a shard another
                process runs; the drainer (of whichever process claims it next) tries again later.
        """
        kind, _, raw_id = target.partition(":")
        try:
            destination = await self._destination(kind, int(raw_id))
            for part in reply.chain():
                for message in await render(part):
                    await destination.send(**message.send_kwargs())
        except discord.HTTPException as error:
            reason = f"{error.status} {error.code}: {error.text}"
            if error.status >= 500:
                raise DeliveryRetry(RETRY_SECONDS, reason) from error
            raise DeliveryFailed(reason) from error
        except (aiohttp.ClientError, OSError) as error:
            raise DeliveryRetry(RETRY_SECONDS, repr(error)) from error

    async def _destination(self, kind: str, ident: int) -> discord.abc.Messageable:
        if kind == "user":
            return self.client.get_user(ident) or await self.client.fetch_user(ident)
        guild = self.client.get_guild(ident)
        if guild is not None:
            channel = announcement_channel(guild)
            if channel is None:
                raise DeliveryFailed(f"no channel in server {ident} takes the bot's messages")
            return channel
        elsewhere = self.shard_elsewhere(ident)
        if elsewhere is not None:
            raise DeliveryRetry(ELSEWHERE_SECONDS, f"shard {elsewhere} (another process's) holds {kind} {ident}")
        found = self.client.get_channel(ident) or await self.client.fetch_channel(ident)  # a direct message
        if not isinstance(found, discord.abc.Messageable):
            raise DeliveryFailed(f"channel {ident} takes no messages")
        return found


# slash commands ---------------------------------------------------------------------------------


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


def _locale(key: str) -> app_commands.locale_str:
    """A command string in English, carrying its catalog key for :class:`CatalogTranslator`."""
    return app_commands.locale_str(_plain(t(key, FALLBACK), OPTION_TEXT), key=key)


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
        translated = _plain(t(key, language), OPTION_TEXT)
        return None if translated == string.message else translated


def slash_commands(
    adapter: DiscordAdapter,
) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
    """One slash command per entry of :data:`bot.commands.COMMANDS`; moderator commands are hidden from
    members by default (``Manage Server``; server admins can change that), and the engine checks anyway."""
    special: dict[str, Callable[[DiscordAdapter, Command], app_commands.Command[Any, ..., None] | app_commands.Group]]
    special = {
        "round": _round_group,
        "idea": _idea_command,
        "ideas": _ideas_command,
        "redeem": _redeem_command,
        "ban": _member_command,
        "unban": _member_command,
        "results": _round_command,
        "export": _export_command,
    }
    commands = []
    for spec in COMMANDS.values():
        command = special.get(spec.name, _plain_command)(adapter, spec)
        if spec.moderator:
            command.default_permissions = MODERATOR_PERMISSIONS
            command.guild_only = True
        commands.append(command)
    return commands


def _command(spec: Command, callback: Callable[..., Coroutine[Any, Any, None]]) -> app_commands.Command[Any, ..., None]:
    return app_commands.Command(name=spec.name, description=_locale(spec.description_key), callback=callback)


def _plain_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    if not spec.takes_argument:

        async def bare(interaction: discord.Interaction) -> None:
            await adapter.run_command(interaction, spec.name)

        return _command(spec, bare)

    @app_commands.describe(text=_locale("discord.option_text"))
    async def with_text(interaction: discord.Interaction, text: str | None = None) -> None:
        await adapter.run_command(interaction, _join(spec.name, text))

    return _command(spec, with_text)


def _idea_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(text=_locale("discord.option_idea"))
    async def idea(interaction: discord.Interaction, text: str | None = None) -> None:
        if text and text.strip():
            await adapter.run_command(interaction, _join(spec.name, text))
        else:
            await adapter.open_idea_form(interaction)

    return _command(spec, idea)


def _ideas_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    orders = [app_commands.Choice(name=_locale(f"ideas.view.{view}"), value=view) for view in IDEA_VIEWS]

    @app_commands.describe(order=_locale("discord.option_order"), page=_locale("discord.option_page"))
    @app_commands.choices(order=orders)
    async def ideas(
        interaction: discord.Interaction,
        order: app_commands.Choice[str] | None = None,
        page: int | None = None,
    ) -> None:
        await adapter.run_command(interaction, _join(spec.name, order.value if order else None, page))

    return _command(spec, ideas)


def _redeem_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(reward=_locale("discord.option_reward"))
    async def redeem(interaction: discord.Interaction, reward: str) -> None:
        await adapter.run_command(interaction, _join(spec.name, reward))

    command = _command(spec, redeem)

    @command.autocomplete("reward")
    async def rewards(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await adapter.reward_choices(current)

    return command


def _member_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    """``/ban`` and ``/unban`` pick the member; the engine gets their id."""

    @app_commands.describe(member=_locale("discord.option_member"))
    async def about_member(interaction: discord.Interaction, member: discord.User) -> None:
        await adapter.run_command(interaction, _join(spec.name, member.id))

    return _command(spec, about_member)


def _round_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    """``/results [round]``."""

    @app_commands.rename(round_id="round")
    @app_commands.describe(round_id=_locale("discord.option_round"))
    async def about_round(interaction: discord.Interaction, round_id: int | None = None) -> None:
        await adapter.run_command(interaction, _join(spec.name, round_id))

    return _command(spec, about_round)


def _export_command(adapter: DiscordAdapter, spec: Command) -> app_commands.Command[Any, ..., None]:
    formats = [app_commands.Choice(name=_locale(f"discord.format_{name}"), value=name) for name in EXPORT_FORMATS]

    @app_commands.rename(round_id="round", file_format="format")
    @app_commands.describe(round_id=_locale("discord.option_round"), file_format=_locale("discord.option_format"))
    @app_commands.choices(file_format=formats)
    async def export(
        interaction: discord.Interaction,
        round_id: int | None = None,
        file_format: app_commands.Choice[str] | None = None,
    ) -> None:
        await adapter.run_command(interaction, _join(spec.name, round_id, file_format.value if file_format else None))

    return _command(spec, export)


def _round_group(adapter: DiscordAdapter, spec: Command) -> app_commands.Group:
    """``/round open <subject> [duration]``, ``/round close [round]``, ``/round list``."""
    group = app_commands.Group(name=spec.name, description=_locale(spec.description_key))

    @group.command(name="open", description=_locale("discord.round_open"))
    @app_commands.describe(subject=_locale("discord.option_subject"), duration=_locale("discord.option_duration"))
    async def open_round(interaction: discord.Interaction, subject: str, duration: str | None = None) -> None:
        await adapter.run_command(interaction, _join(spec.name, "open", subject, duration))

    @open_round.autocomplete("subject")
    async def subjects(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return adapter.subject_choices(interaction, current)

    @group.command(name="close", description=_locale("discord.round_close"))
    @app_commands.rename(round_id="round")
    @app_commands.describe(round_id=_locale("discord.option_round"))
    async def close_round(interaction: discord.Interaction, round_id: int | None = None) -> None:
        await adapter.run_command(interaction, _join(spec.name, "close", round_id))

    @group.command(name="list", description=_locale("discord.round_list"))
    async def list_rounds(interaction: discord.Interaction) -> None:
        await adapter.run_command(interaction, _join(spec.name, "list"))

    return group


async def run_discord(
    engine: Engine,
    settings: Settings,
    stop: asyncio.Event,
    *,
    guild_ready_timeout: float = 2.0,
    ack_budget: float = ACK_BUDGET,
) -> None:
    """Run CrowdPulse on Discord, and drain its outbox, until ``stop`` is set.

    The endpoints come from ``discord.api_base`` and ``discord.gateway_url`` (Discord's by default); the
    keyword arguments are :class:`DiscordAdapter`'s knobs, which tests turn.
    """
    configure_endpoints(settings.discord.api_base, settings.discord.gateway_url)
    adapter = DiscordAdapter(engine, settings, guild_ready_timeout=guild_ready_timeout, ack_budget=ack_budget)
    await adapter.run(stop)
