"""Answering one interaction: its own answer at once, what follows it through a send queue.

The member waits for the answer, and Discord for the acknowledgement (3 seconds), so the first message
(or the edit, or the deferral) is made by the handler itself: an interaction's response has a
rate-limit bucket of its own and never waits for anyone. What follows it (the next question after an
answer, the rest of a long reply, an apology for a follow-up that failed) is a follow-up, sent on the
interaction's token. Both are posted as prepared JSON (:mod:`adapters.discord.callbacks`), which waits
out a 429 inside the call as discord.py does, so a handler sending its own follow-ups would wait there;
follow-ups therefore go to a queue (:mod:`adapters.send_queue`) whose worker sends them in order and
meets the 429s (a 429 the call gives up on is waited out by the queue and the follow-up resumed), and
the handler is done.

Which queue: a *public* follow-up counts against the channel it appears in (about 30 a minute), so
those of one channel share the channel's queue and alone meet its 429s. An *ephemeral* one is seen by
one member only and is limited by its interaction token's own bucket (the route's major parameter;
counting it against the channel was reported to Discord as a bug, discord-api-docs#3763), so each
interaction's ephemeral follow-ups have a queue of their own: members clicking in one busy channel
never wait for each other's next question, and a burst of clicks is not cut at the channel queue's
bound (50) with the next questions of the rest dropped. Should Discord count them against the channel
after all, each interaction's worker waits out its own 429s (the flood tests' fake counts them so).

In a burst the answers go first: an interaction's follow-ups wait (a little) until the interactions
that arrived before it were answered, so a crowd clicking at once is acknowledged before anyone's next
question competes with the acknowledgements for the bot's time and Discord's 3 seconds.

A flood's repeated refusal (``Reply.quiet``) is acknowledged and shows nothing (:meth:`Responder.hush`).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from typing import Any

import aiohttp
import discord

from adapters.answer_order import Turn
from adapters.discord.callbacks import CHANNEL_MESSAGE, UNSENT, UPDATE_MESSAGE, Callbacks
from adapters.discord.rendering import NO_MENTIONS, NO_MENTIONS_DATA, Outgoing, Upload, text_message
from adapters.send_queue import Request, Requests, SendQueue
from bot.texts import t

log = logging.getLogger(__name__)

UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN = 10015, 50027  # the interaction's token is gone (15 minutes)
DEFAULT_WAIT = 1.0  # seconds to wait after a 429 that says nothing about how long

Message = tuple[Outgoing, bool]  # a message and whether only the member sees it (ephemeral)


def retry_after(error: Exception) -> float | None:
    """The wait a 429 asks for, once discord.py has given up waiting on its own; ``None`` for other errors."""
    if isinstance(error, discord.RateLimited):
        return error.retry_after
    if isinstance(error, discord.HTTPException) and error.status == 429:
        header = error.response.headers.get("Retry-After")
        return float(header) if header else DEFAULT_WAIT
    return None


class Responder:
    """Answers one interaction: once by its response, then by follow-ups (a second response is 40060).

    After a "thinking…" deferral the first follow-up replaces the placeholder, which is ephemeral: a
    public reply deletes it and posts anew, so nothing private is shown and nothing public is hidden.
    Those are the interaction's own answer and sent here; later follow-ups are queued, public ones for
    the channel the interaction came from, ephemeral ones for the interaction (:meth:`follow_up`).

    Responses and follow-ups are posted by :class:`~adapters.discord.callbacks.Callbacks` (discord.py
    would parse every message back into objects nobody reads); only a deferral, and an edit after one,
    go through discord.py, so the responder, not ``interaction.response``, knows whether it responded.
    """

    def __init__(
        self,
        interaction: discord.Interaction,
        sends: SendQueue[int],
        callbacks: Callbacks,
        language: str,
        *,
        turn: Turn | None = None,
    ) -> None:
        self.interaction = interaction
        self.sends = sends
        self.callbacks = callbacks
        self.language = language
        self._turn = turn  # its place among the interactions being answered, which its follow-ups wait for
        self.deferred = False
        self.answered = False  # the interaction's own answer (a message, an edit, silence) was given
        self._placeholder = False
        self._responded = False  # the interaction has its response (a second one would be refused: 40060)

    async def _respond(self, kind: int, data: dict[str, Any], uploads: Sequence[Upload] = ()) -> None:
        await self.callbacks.respond(self.interaction, kind, data, uploads)
        self._responded = self.answered = True

    @property
    def channel(self) -> int:
        """The public follow-ups' queue key: the channel the interaction came from (Discord counts them there)."""
        return self.interaction.channel_id or self.interaction.id

    async def defer(self, *, thinking: bool) -> None:
        await self.interaction.response.defer(thinking=thinking, ephemeral=thinking)
        self.deferred, self._placeholder, self._responded = True, thinking, True

    async def hush(self) -> None:
        """Acknowledge and show nothing (a flood's repeated refusal).

        A button or select gets a silent deferred update. A slash command (or a form it opened) cannot:
        it is deferred privately and the "thinking…" placeholder deleted at once, which leaves the
        member nothing to read, where even the shortest private reply would pile up in their view.
        """
        if not self._responded:
            response = self.interaction.response
            if self.interaction.message is not None:
                await response.defer()
            else:
                await response.defer(thinking=True, ephemeral=True)
                self._placeholder = True
            self._responded = True
        if self._placeholder:
            self._placeholder = False
            await self.interaction.delete_original_response()
        self.answered = True

    async def send(self, message: Outgoing, *, ephemeral: bool) -> None:
        """The interaction's own answer: its response, or after a deferral its first follow-up."""
        data = message.send_data(ephemeral=ephemeral)
        if not self._responded:
            await self._respond(CHANNEL_MESSAGE, data, message.uploads)
            return
        if self._placeholder:
            self._placeholder = False
            if not ephemeral:
                await self.interaction.delete_original_response()
        await self.callbacks.follow_up(self.interaction, data, message.uploads)
        self.answered = True

    async def edit(self, message: Outgoing) -> None:
        """Replace the message the component was on (UPDATE_MESSAGE, or an edit after deferring)."""
        if not self._responded:
            await self._respond(UPDATE_MESSAGE, message.edit_data(), message.uploads)
        else:
            await self._edit_original(**message.edit_kwargs())

    async def close(self, content: str) -> None:
        """Rewrite the component's message and take its components away, keeping image and files."""
        if not self._responded:
            await self._respond(
                UPDATE_MESSAGE, {"content": content, "components": [], "allowed_mentions": NO_MENTIONS_DATA}
            )
        else:
            await self._edit_original(content=content, view=None, allowed_mentions=NO_MENTIONS)

    async def _edit_original(self, **changes: Any) -> None:
        """After a deferral: the response's message edited (discord.py's call; not on a hot path)."""
        await self.interaction.edit_original_response(**changes)
        self.answered = True

    async def answer(self, messages: Sequence[Message]) -> None:
        """The first message as the interaction's own answer (unless it has one already), the rest queued."""
        rest = list(messages)
        if rest and not self.answered:
            message, ephemeral = rest.pop(0)
            await self.send(message, ephemeral=ephemeral)
        self.follow_up(rest)

    def follow_up(self, messages: Sequence[Message]) -> None:
        """Queue ``messages`` as follow-ups, in order: for the channel's worker when one of them is public,
        else for this interaction's own (ephemeral follow-ups do not count against the channel)."""
        if messages:
            requests = [self._request(message, ephemeral) for message, ephemeral in messages]
            key = self.interaction.id if all(ephemeral for _, ephemeral in messages) else self.channel
            self.sends.put(key, Requests(requests, self._failed, retry_after=retry_after, pace=self._answers_first))

    async def _answers_first(self) -> None:
        """Before a follow-up: the earlier interactions' answers first (:mod:`adapters.answer_order`)."""
        if self._turn is not None:
            await self._turn.after_earlier()

    async def apologise(self) -> None:
        """Tell the member something went wrong: as the answer if none was given yet, else as a follow-up."""
        if self.answered:
            self._apologise_later()
            return
        try:
            await self.send(self._apology(), ephemeral=True)
        except UNSENT:
            log.warning("platform=discord could not tell the member about the error")

    def _request(self, message: Outgoing, ephemeral: bool) -> Request:
        data = message.send_data(ephemeral=ephemeral)
        return ("followup", lambda: self.callbacks.follow_up(self.interaction, data, message.uploads))

    def _apology(self) -> Outgoing:
        return text_message(t("error.unexpected", self.language))

    def _apologise_later(self) -> None:
        """One apology waiting per member and channel, however many of their follow-ups failed."""

        async def unheard(method: str, error: Exception) -> None:
            log.warning("send=failed channel=%s method=%s reason=%s (the apology)", self.channel, method, error)

        requests = [self._request(self._apology(), True)]
        apology: Hashable = ("apology", self.interaction.user.id)
        self.sends.put(self.channel, Requests(requests, unheard, retry_after=retry_after), coalesce=apology)

    async def _failed(self, method: str, error: Exception) -> None:
        """A queued follow-up failed for good: one log line (a traceback only for what looks like our bug)
        and, unless the interaction's token is gone, an apology in its place."""
        channel = self.channel
        if isinstance(error, discord.HTTPException):
            if error.code in (UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN):
                log.warning("send=expired channel=%s method=%s reason=%s", channel, method, error)
                return
            level = logging.WARNING if error.status >= 500 else logging.ERROR
            log.log(level, "send=failed channel=%s method=%s reason=%s", channel, method, error)
        elif isinstance(error, aiohttp.ClientError | OSError):
            log.warning("send=failed channel=%s method=%s reason=%r", channel, method, error)
        else:
            log.error("send=failed channel=%s method=%s", channel, method, exc_info=error)
        self._apologise_later()
