"""Per-chat send queues: a send that must wait for a chat's rate limit waits here, never in a handler.

Why: a platform limits how fast a bot may write into one chat (Telegram: about a message a second). A
handler that awaits its own reply through such a wait holds one of the few update slots the library
runs at once; a member flooding one chat then fills them all with waits, and everyone else's updates
queue behind the flood (measured on Telegram: another member's ``/help`` answered 7.6 s late). Here,
a handler hands its reply over and is done; each chat with pending sends has one worker task that sends
them in order and sits out the platform's "retry after" itself. Chats never wait for each other.

Contract, platform-neutral (Telegram uses it; Discord can, with a channel id as the key):

* :meth:`SendQueue.put` returns at once. Sends to one chat go out one at a time, in the order they were
  put; the chat's worker exists only while the chat has pending sends.
* A send is an async callable. It raises :class:`RateLimited` when the platform says "wait": the worker
  waits that long and calls the *same* send again, so a send of several requests must resume with the
  request that was refused (never repeat one that went out). After ``max_waits`` waits for one send
  it is given up. Any other exception is the send's own business to handle (it knows what it was
  for); one that escapes anyway is logged and the worker goes on with the next send.
* Bounded: at most ``max_per_chat`` pending sends per chat and ``max_total`` in all. A chat that far
  behind is being flooded, so a further send is dropped (``put`` says so) rather than queued for
  minutes; what waits already was asked first. A send put with a ``coalesce`` key equal to that of a
  send still waiting (not yet started) in the same chat is not queued twice: identical replies to a
  backlogged chat are said once.
* :meth:`SendQueue.close` stops taking sends, gives the pending ones a grace period, then abandons
  (and counts) the rest.

Every wait is one WARNING line (chat, method, wait), never a traceback; :mod:`adapters.log_repeats`
folds repeats of it under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
Send = Callable[[], Awaitable[None]]

MAX_PER_CHAT = 50  # about a minute of Telegram's per-chat pace: more is a flood, not a conversation
MAX_TOTAL = 50_000
MAX_WAITS = 5  # "retry after" answers one send may get before it is given up


class RateLimited(Exception):
    """Raised by a send the platform refused for now: wait ``seconds``, then call the send again."""

    def __init__(self, seconds: float, method: str) -> None:
        super().__init__(f"{method}: retry after {seconds:g} s")
        self.seconds = seconds
        self.method = method


@dataclass(slots=True, eq=False)
class _Pending:
    send: Send
    coalesce: Hashable | None
    started: bool = False


class SendQueue(Generic[K]):
    """One FIFO of sends per chat key, each drained by its own worker task while it is not empty."""

    def __init__(
        self,
        name: str,
        *,
        max_per_chat: int = MAX_PER_CHAT,
        max_total: int = MAX_TOTAL,
        max_waits: int = MAX_WAITS,
    ) -> None:
        self.name = name
        self.max_per_chat = max_per_chat
        self.max_total = max_total
        self.max_waits = max_waits
        self.dropped = 0  # sends refused for a full queue, given up after max_waits, or abandoned at close
        self._queues: dict[K, deque[_Pending]] = {}
        self._workers: dict[K, asyncio.Task[None]] = {}
        self._total = 0
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, chat: K, send: Send, *, coalesce: Hashable | None = None) -> bool:
        """Queue ``send`` for ``chat``; ``False`` when it was dropped (queue full or closed)."""
        queue = self._queues.get(chat)
        if queue is not None and coalesce is not None and any(p.coalesce == coalesce and not p.started for p in queue):
            return True
        pending = len(queue) if queue is not None else 0
        if self._closed or pending >= self.max_per_chat or self._total >= self.max_total:
            self.dropped += 1
            log.warning(
                "send=dropped queue=%s chat=%s pending=%d total=%d closed=%s",
                self.name,
                chat,
                pending,
                self._total,
                self._closed,
            )
            return False
        if queue is None:
            queue = self._queues[chat] = deque()
        queue.append(_Pending(send, coalesce))
        self._total += 1
        if chat not in self._workers:
            self._idle.clear()
            self._workers[chat] = asyncio.create_task(self._drain(chat, queue), name=f"{self.name}-sends-{chat}")
        return True

    def pending(self, chat: K) -> int:
        """Sends waiting for ``chat``, the one being sent included."""
        queue = self._queues.get(chat)
        return len(queue) if queue is not None else 0

    @property
    def total(self) -> int:
        """Sends waiting in all chats."""
        return self._total

    async def join(self) -> None:
        """Wait until every chat's queue is empty."""
        await self._idle.wait()

    async def close(self, grace: float) -> int:
        """Take no more sends; let the pending ones go for up to ``grace`` seconds, then abandon the rest.

        Returns how many sends were abandoned.
        """
        self._closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        before = self.dropped
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        return self.dropped - before

    async def _drain(self, chat: K, queue: deque[_Pending]) -> None:
        try:
            while queue:
                queue[0].started = True
                await self._deliver(chat, queue[0].send)
                queue.popleft()
                self._total -= 1
        finally:
            if queue:  # cancelled by close()
                self.dropped += len(queue)
                self._total -= len(queue)
                log.warning("send=abandoned queue=%s chat=%s pending=%d", self.name, chat, len(queue))
            del self._queues[chat], self._workers[chat]
            if not self._workers:
                self._idle.set()

    async def _deliver(self, chat: K, send: Send) -> None:
        for waits in range(self.max_waits + 1):
            try:
                await send()
                return
            except RateLimited as limited:
                if waits == self.max_waits:
                    self.dropped += 1
                    log.warning(
                        "send=gave_up queue=%s chat=%s method=%s waits=%d", self.name, chat, limited.method, waits
                    )
                    return
                log.warning(
                    "send=rate_limited queue=%s chat=%s method=%s wait=%.1fs",
                    self.name,
                    chat,
                    limited.method,
                    limited.seconds,
                )
                await asyncio.sleep(limited.seconds)
            except Exception:
                log.exception("send=failed queue=%s chat=%s: the send did not handle its own error", self.name, chat)
                return
