"""Answering interactions: every command, click and form gets exactly one acknowledgement in time.

Discord drops an interaction not acknowledged within 3 seconds ("This interaction failed"). The engine
call runs as a task; nearly always it answers within ``ack_budget`` and the reply goes out as the
interaction's response, with the right type. When it has not (a chart, an export, a slow disk), the
interaction is deferred first (a private "thinking…" for commands, a silent deferred update for
components) and the reply follows. What CrowdPulse does not claim (a forged or retired custom_id) is
answered too, privately (:meth:`Interactions.refuse_retired`).

Replies that concern one member (``Reply.private``, refusals, the answers to their clicks) are
ephemeral; reward codes only ever go ephemerally or by direct message. The first message of a reply is
the interaction's own answer; what follows it goes through the channel's send queue, and a flood's
repeated refusal is acknowledged without a word (:mod:`~adapters.discord.responding`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.answer_order import AnswerOrder
from adapters.discord.callbacks import MODAL, UNSENT, Callbacks
from adapters.discord.components import (
    ACTION_ID_PATTERN,
    ANSWER_FIELD,
    CATEGORY_FIELD,
    IDEA_FIELD,
    IDEA_FORM,
    answer_form,
    form_title,
    idea_form,
    modal_values,
    parse_custom_id,
)
from adapters.discord.incoming import Origin, origin
from adapters.discord.limits import ACK_BUDGET
from adapters.discord.rendering import answered, closes, render, replaced, text_message
from adapters.discord.responding import Message, Responder
from adapters.send_queue import SendQueue
from bot.engine import Engine, UseCase
from bot.identity import SpaceRef, UserRef
from bot.replies import Reply, TextInput
from bot.settings import Settings
from bot.texts import pick_language, t

log = logging.getLogger(__name__)

PLATFORM = "discord"
REMEMBERED_MEMBERS = 10_000


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


def update_key(interaction: discord.Interaction) -> str:
    """What makes a redelivered interaction change nothing twice (an idea, a round, a redemption)."""
    return f"dc:{interaction.id}"


def _verb(token: str) -> str:
    """What a token does, for the log; the token itself is never logged."""
    return token.split(".", 1)[0]


class Interactions:
    """The engine behind Discord's interactions, and the members they carry.

    Args:
        client: the client the interactions arrive on; its cached servers answer :meth:`is_moderator`.
        sends: the per-channel queue follow-ups go through.
        callbacks: what posts the interactions' responses (:mod:`adapters.discord.callbacks`).
        ack_budget: seconds the engine may take before an interaction is deferred; 0 defers every one.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        client: discord.Client,
        sends: SendQueue[int],
        callbacks: Callbacks,
        *,
        ack_budget: float = ACK_BUDGET,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.sends = sends
        self.callbacks = callbacks
        self.ack_budget = ack_budget
        self._members: OrderedDict[tuple[int, int], discord.Member] = OrderedDict()
        self._answer_order = AnswerOrder()  # a burst's acknowledgements before its follow-ups

    def language(self, interaction: discord.Interaction) -> str:
        return pick_language(interaction.locale.value, self.settings.default_language)

    def responder(self, interaction: discord.Interaction) -> Responder:
        return Responder(interaction, self.sends, self.callbacks, self.language(interaction))

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

    # what arrives -------------------------------------------------------------------------------

    async def run(self, interaction: discord.Interaction, name: str, use_case: UseCase) -> None:
        """A slash command: its typed use case, for the member who ran it where they ran it."""
        user, space = user_ref(interaction), space_ref(interaction)
        await self._serve(interaction, "command", name, lambda: self.engine.run(user, space, use_case))

    def authentic(self, token: str) -> bool:
        """Whether the engine signed ``token`` (it re-checks everything the token names when it runs)."""
        return self.engine.services.codec.parse(token) is not None

    async def on_component(self, interaction: discord.Interaction) -> None:
        """A button or select: its token acted on, the "✍️" button's form opened, or a forged or retired
        custom_id refused privately."""
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        clicked = parse_custom_id(custom_id)
        if clicked is None or not self.authentic(clicked.token):
            await self.refuse_retired(interaction)
        elif clicked.form_limit is None:
            await self.on_action(interaction, clicked.token, tuple(data.get("values", ())))
        else:
            title = form_title(origin(interaction), custom_id)
            await self.open_answer_form(interaction, clicked.token, title, clicked.form_limit)

    async def on_action(self, interaction: discord.Interaction, token: str, values: Sequence[str]) -> None:
        """A button or select carrying an engine token."""
        user, space = user_ref(interaction), space_ref(interaction)
        await self._serve(
            interaction, "component", _verb(token), lambda: self.engine.act(user, space, token, values=values)
        )

    async def refuse_retired(self, interaction: discord.Interaction) -> None:
        """A component or form CrowdPulse does not claim (forged, or from a retired kind of message): the
        member is told privately where to get a fresh one, and nothing else happens."""
        started = time.perf_counter()
        kind = "form" if interaction.type == discord.InteractionType.modal_submit else "component"
        text = t("discord.retired_component", self.language(interaction))
        try:
            await self.responder(interaction).send(text_message(text), ephemeral=True)
        except UNSENT:
            log.warning("platform=discord interaction=%s could not refuse a retired %s", interaction.id, kind)
        self._log(interaction, kind, "retired", "stale", False, started)

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
        await self.callbacks.respond(interaction, MODAL, form.to_dict())
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
        form = idea_form(self.language(interaction), categories, self.settings.ideas.max_length)
        await self.callbacks.respond(interaction, MODAL, form.to_dict())
        self._log(interaction, "form", "idea", "form", False, started)

    async def on_modal_submit(self, interaction: discord.Interaction) -> None:
        """A submitted form: a new idea, an answer for the token it is named after, or nothing of ours."""
        data: Any = interaction.data or {}
        custom_id: str = data.get("custom_id", "")
        values = modal_values(data.get("components", []))
        user, space = user_ref(interaction), space_ref(interaction)
        if custom_id == IDEA_FORM:
            text, category = str(values.get(IDEA_FIELD, "")), next(iter(values.get(CATEGORY_FIELD) or []), None)
            key = update_key(interaction)
            await self.run(
                interaction, "idea", lambda ctx: self.engine.ideas.submit(ctx, text, category=category, update_key=key)
            )
        elif ACTION_ID_PATTERN.fullmatch(custom_id) and self.authentic(custom_id):
            text = str(values.get(ANSWER_FIELD, ""))
            await self._serve(
                interaction,
                "form",
                _verb(custom_id),
                lambda: self.engine.act(user, space, custom_id, text=text),
            )
        else:
            await self.refuse_retired(interaction)

    async def on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The tree's one fallback (an option that did not convert, say): logged, and the member told."""
        log.error("platform=discord interaction=%s command failed: %s", interaction.id, error, exc_info=error)
        await self.responder(interaction).apologise()

    # answering ----------------------------------------------------------------------------------

    async def _serve(
        self,
        interaction: discord.Interaction,
        kind: str,
        name: str,
        work: Callable[[], Coroutine[Any, Any, Reply]],
    ) -> None:
        """Run the engine call, deferring if it outlasts the budget, then deliver the reply.

        Interactions that came from a message (clicks, forms opened by a button) answer the member
        privately or update that message; commands (and forms opened by one) post their reply. A quiet
        reply (a flood's repeated refusal) is acknowledged and shows nothing.
        """
        started = time.perf_counter()
        self._remember(interaction)
        turn = self._answer_order.arrived()
        responder = Responder(interaction, self.sends, self.callbacks, self.language(interaction), turn=turn)
        message = origin(interaction) if kind != "command" else None
        outcome, quiet = "error", False
        try:
            reply = await self._in_time(responder, work, thinking=message is None)
            quiet = reply.quiet
            if quiet:
                await responder.hush()
            elif message is None:
                await self._post(responder, reply)
            else:
                await self._answer_on(responder, reply, message)
            outcome = reply.outcome.value
        except Exception:
            log.exception("platform=discord interaction=%s kind=%s name=%s failed", interaction.id, kind, name)
            await responder.apologise()
        finally:
            turn.answered()
            self._log(interaction, kind, name, outcome, responder.deferred, started, quiet=quiet)

    async def _in_time(
        self, responder: Responder, work: Callable[[], Coroutine[Any, Any, Reply]], *, thinking: bool
    ) -> Reply:
        """The engine's reply; should the engine outlast ``ack_budget``, the interaction is deferred
        meanwhile (by the time the reply is returned, the deferral has gone out, or raised).

        A timer, not a task around the engine call and ``asyncio.wait``: the call is awaited as it is (a
        task and a wait fewer per tap, a few per cent of the bot's CPU in the closed loop), the deferral
        runs in a task of its own once the timer fires, and the engine always finishes what it started.
        """
        deferrals: list[asyncio.Task[None]] = []

        def defer() -> None:
            deferrals.append(asyncio.create_task(responder.defer(thinking=thinking)))

        timer = asyncio.get_running_loop().call_later(self.ack_budget, defer) if self.ack_budget > 0 else None
        if timer is None:
            defer()  # a budget of 0 defers every interaction
        try:
            return await work()
        finally:
            if timer is not None:
                timer.cancel()
            for deferral in deferrals:
                await deferral

    async def _post(self, responder: Responder, reply: Reply) -> None:
        messages: list[Message] = []
        for part in reply.chain():
            messages += [(message, part.private or part.is_refusal) for message in await render(part)]
        await responder.answer(messages)

    async def _answer_on(self, responder: Responder, reply: Reply, message: Origin) -> None:
        """After a click: update the message when the reply says so, else tell the member privately.

        A question only the member sees, once answered, turns into the next one with the confirmation
        above it (``[chat] follow_up = "edit"``: one request a click), or keeps the confirmation below
        it while the next one follows (``"keep"``: two).
        """
        first, *rest = reply.chain()
        later: list[Message] = []
        if first.edit:
            edited, *extra = await render(first)
            await responder.edit(edited)
            later += [(part, True) for part in extra]
        elif closes(first, message):
            turned = await replaced(first, rest) if self.settings.chat.follow_up == "edit" else None
            if turned is not None:
                await responder.edit(turned)
                rest = rest[1:]
            elif (closing := answered(first, message)) is not None:
                await responder.close(closing)
            else:
                rest.insert(0, first)
        else:
            rest.insert(0, first)
        for follow_up in rest:
            later += [(part, True) for part in await render(follow_up)]
        await responder.answer(later)

    def _log(
        self,
        interaction: discord.Interaction,
        kind: str,
        name: str,
        outcome: str,
        deferred: bool,
        started: float,
        *,
        quiet: bool = False,
    ) -> None:
        """One line per interaction; a flood's quiet refusals only at DEBUG, so a flood does not flood
        the log either."""
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "platform=discord interaction=%s kind=%s name=%s outcome=%s deferred=%s latency_ms=%.1f",
            interaction.id,
            kind,
            name,
            outcome,
            deferred,
            (time.perf_counter() - started) * 1000,
        )
