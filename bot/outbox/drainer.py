"""The outbox's drainer: adapters send what the bot says without being asked, at their platform's pace.

Rows are written by :func:`bot.store.effects.enqueue` inside the unit of work of their cause (a round
closing, an idea changing status), so a crash can never keep the change and lose the message or the other
way round. :class:`OutboxDrainer` claims due rows, renders and sends them, and marks them sent; a failure
is retried later with backoff. A claim is a lease that expires, so a process that died mid-send does not
block its rows forever.

The drainer needs little of the engine (:class:`OutboxSource`: the store, the clock, ``render_outbox``),
and the store nothing of the drainer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.replies import Reply
from bot.store.base import Store
from bot.store.records import OutboxRow

log = logging.getLogger(__name__)


class _Services(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class OutboxSource(Protocol):
    """What the drainer needs of the engine: its store and clock, and how to render a row's payload."""

    @property
    def services(self) -> _Services: ...

    async def render_outbox(self, payload: dict[str, Any]) -> Reply: ...


class DeliveryRetry(Exception):
    """The platform asked us to wait (rate limit, outage): try this message again later."""

    def __init__(self, after_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class DeliveryFailed(Exception):
    """The platform will never take this message (bot blocked, chat gone): stop retrying it."""


Sender = Callable[[str, Reply], Awaitable[None]]

SENDING_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar("outbox_sending_key", default=None)
"""While a sender runs, the key of the outbox row it sends (``cp<row id>``), the same on every attempt.

Why a context variable and not a third argument: only a platform that takes an idempotency key with a
message (Discord's ``nonce``) has a use for it, and every other sender stays ``send(target, reply)``.
"""


class Pacer:
    """Spaces out sends: an overall rate, a minimum interval per target, a cap per minute per group.

    The platform's limits, expressed once per adapter (Telegram: 30/s overall, 1/s per chat, 20/min per
    group), so the outbox never provokes a 429 by design; a 429 that still comes is a retry, not a loss.
    """

    def __init__(
        self,
        per_second: float,
        per_target_interval: float = 0.0,
        group_per_minute: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / per_second
        self._per_target = per_target_interval
        self._group_per_minute = group_per_minute
        self._clock = clock
        self._next_any = 0.0
        self._next_for: dict[str, float] = {}
        self._recent_for: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def wait(self, target: str, is_group: bool = False) -> None:
        """Sleep until a message to ``target`` may go, and book its slot."""
        async with self._lock:
            now = self._clock()
            at = max(now, self._next_any, self._next_for.get(target, 0.0))
            recent = self._recent_for.setdefault(target, deque())
            if is_group and self._group_per_minute:
                while recent and recent[0] <= at - 60:
                    recent.popleft()
                if len(recent) >= self._group_per_minute:
                    at = max(at, recent[0] + 60)
                recent.append(at)
            self._next_any = at + self._interval
            self._next_for[target] = at + self._per_target
        if at > now:
            await asyncio.sleep(at - now)


class OutboxDrainer:
    """Sends one platform's due outbox rows through an adapter's ``send``, forever or once.

    Delivery is at-least-once towards the platform and exactly-once in the normal case: a row is marked
    sent right after the platform accepted it; only a crash in between those two steps repeats it.
    A crash between the commit that queued a row and its send loses nothing: the row waits for the
    next claim (the lease of a dead worker expires).

    The repeat is bounded: a target's rows go one at a time, so a crash leaves at most one message per
    target in doubt, those whose request was on the wire. A platform with an idempotency key closes
    even that window (Discord: each message's ``nonce`` is derived from :data:`SENDING_KEY`, and Discord
    returns the first message for a repeated nonce within a few minutes); Telegram has none, and a bot
    cannot read a private chat's history to check, so there the in-doubt message may come twice. Marking
    first and sending after would turn that duplicate into a possible loss instead, the worse failure
    for a message that says what a member was paid.
    """

    def __init__(
        self,
        engine: OutboxSource,
        platform: str,
        send: Sender,
        pacer: Pacer,
        *,
        worker: str | None = None,
        batch: int = 100,
        lease: timedelta = timedelta(minutes=2),
        idle_seconds: float = 0.5,
        is_group: Callable[[str], bool] = lambda target: False,
    ) -> None:
        self.engine = engine
        self.platform = platform
        self.queries = engine.services.store.outbox
        self.send = send
        self.pacer = pacer
        self.worker = worker or f"{platform}-{uuid.uuid4().hex[:8]}"
        self.batch = batch
        self.lease = lease
        self.idle_seconds = idle_seconds
        self.is_group = is_group
        self.sent = 0

    async def drain_once(self) -> int:
        """Claim and send what is due now; targets are served in parallel, each in order."""
        rows = await self.queries.claim(
            self.platform, self.worker, self.batch, self.lease, self.engine.services.clock()
        )
        by_target: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_target.setdefault(row.target, []).append(row)
        results = await asyncio.gather(*(self._send_in_order(target_rows) for target_rows in by_target.values()))
        return sum(results)

    async def _send_in_order(self, rows: list[OutboxRow]) -> int:
        delivered = 0
        for position, row in enumerate(rows):
            try:
                reply = await self.engine.render_outbox(json.loads(row.payload))
                await self.pacer.wait(row.target, self.is_group(row.target))
                SENDING_KEY.set(f"cp{row.id}")  # this task's own context: gather runs each target in a task
                await self.send(row.target, reply)
            except DeliveryRetry as retry:
                log.warning(
                    "outbox=retry id=%s target=%s after=%.1fs reason=%s",
                    row.id,
                    row.target,
                    retry.after_seconds,
                    retry,
                )
                later = self.engine.services.clock() + timedelta(seconds=retry.after_seconds)
                for waiting in rows[position:]:
                    await self.queries.retry_later(waiting.id, str(retry), later)
                return delivered
            except DeliveryFailed as failure:
                log.warning("outbox=gave_up id=%s target=%s reason=%s", row.id, row.target, failure)
                await self.queries.give_up(row.id, str(failure), self.engine.services.clock())
                continue
            except Exception as error:
                backoff = min(600.0, 2.0 ** min(row.attempts, 9))
                log.exception("outbox=error id=%s target=%s retry_in=%.0fs", row.id, row.target, backoff)
                await self.queries.retry_later(
                    row.id, repr(error), self.engine.services.clock() + timedelta(seconds=backoff)
                )
                continue
            await self.queries.sent(row.id, self.worker, self.engine.services.clock())
            delivered += 1
            self.sent += 1
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set, sleeping briefly whenever nothing is due."""
        while not stop.is_set():
            if await self.drain_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)
