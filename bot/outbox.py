"""The outbox: what the bot says without being asked, stored with the change that caused it.

Rows are written by :func:`bot.store.outbox_sql.enqueue` inside the unit of work of their cause (a round
closing, an idea changing status), so a crash can never keep the change and lose the message or the other
way round. Adapters drain the outbox at their platform's pace (:class:`OutboxDrainer`): claim due rows,
send, mark sent; a failure is retried later with backoff. A claim is a lease that expires, so a process
that died mid-send does not block its rows forever.

A row's ``target`` is ``space:<external id>`` (a chat, channel or guild) or ``user:<platform user id>``
(a direct message); its payload is a serialised :class:`Reply`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.replies import Attachment, Button, Image, Outcome, Reply
from bot.store.outbox_sql import OutboxQueries, OutboxRow

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)


def space_target(external_id: str) -> str:
    return f"space:{external_id}"


def user_target(platform_user_id: str) -> str:
    return f"user:{platform_user_id}"


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A reply as JSON-ready data (images and files inlined as base64: they must survive a restart)."""
    payload: dict[str, Any] = {"text": reply.text, "outcome": reply.outcome.value, "private": reply.private}
    if reply.buttons:
        payload["buttons"] = [[[b.label, b.action, b.url] for b in row] for row in reply.buttons]
    if reply.image is not None:
        payload["image"] = {
            "path": reply.image.path,
            "url": reply.image.url,
            "data": base64.b64encode(reply.image.data).decode(),
            "filename": reply.image.filename,
        }
    if reply.attachment is not None:
        payload["attachment"] = {
            "filename": reply.attachment.filename,
            "data": base64.b64encode(reply.attachment.data).decode(),
        }
    if reply.follow_up is not None:
        payload["follow_up"] = reply_payload(reply.follow_up)
    return payload


def reply_from_payload(payload: dict[str, Any]) -> Reply:
    image = payload.get("image")
    attachment = payload.get("attachment")
    return Reply(
        text=payload["text"],
        outcome=Outcome(payload.get("outcome", "info")),
        private=bool(payload.get("private", False)),
        buttons=tuple(
            tuple(Button(label, action, url=url) for label, action, url in row) for row in payload.get("buttons", ())
        ),
        image=Image(image["path"], image["url"], base64.b64decode(image["data"]), image["filename"]) if image else None,
        attachment=Attachment(attachment["filename"], base64.b64decode(attachment["data"])) if attachment else None,
        follow_up=reply_from_payload(payload["follow_up"]) if "follow_up" in payload else None,
    )


class DeliveryRetry(Exception):
    """The platform asked us to wait (rate limit, outage): try this message again later."""

    def __init__(self, after_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class DeliveryFailed(Exception):
    """The platform will never take this message (bot blocked, chat gone): stop retrying it."""


Sender = Callable[[str, Reply], Awaitable[None]]


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
    """

    def __init__(
        self,
        engine: Engine,
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
        self.queries = OutboxQueries(engine.services.store)
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
