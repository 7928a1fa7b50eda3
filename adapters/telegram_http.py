"""The Bot API client's HTTP: python-telegram-bot's httpx request, with a gate in front of its pool.

Why a gate: httpcore's connection pool, once every connection is busy, queues requests itself, and on
every request that starts or ends it walks the whole queue against every connection (checking each
idle socket with a system call). With a tap's toast and its follow-ups in flight for hundreds of
members that walk was the largest single cost of a tap in the closed-loop benchmark. Requests beyond
the pool's size wait here instead, at no cost per waiter; httpcore then never queues, and its pool
timeout never strikes: a request waits its turn here, as long as the requests before it take (each
bounded by its own read and write timeouts), where httpcore failed it after a second as ``TimedOut``
and the send queue apologised for it.

The gate also lets a tap's answer (``answerCallbackQuery``) go before every waiting message or edit:
Telegram shows the member a spinner until the answer arrives and refuses it after a few seconds,
while a message a moment later costs nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque

from telegram._utils.types import ODVInput  # the type of PTB's own signature, to override it exactly
from telegram.request import BaseRequest, HTTPXRequest, RequestData

URGENT = "/answerCallbackQuery"


class PriorityGate:
    """At most ``size`` holders at once; waiting urgent callers are let in before the others, each kind
    in its order of arrival."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool) -> None:
        if self._free > 0 and not self._urgent and not self._others:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._others).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # let in just as it was cancelled: pass the turn on
            raise

    def release(self) -> None:
        for waiting in (self._urgent, self._others):
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._free += 1


class GatedRequest(HTTPXRequest):
    """An :class:`HTTPXRequest` that lets at most ``connection_pool_size`` requests reach httpx at once,
    a tap's answer before the rest."""

    def __init__(self, connection_pool_size: int, *, read_timeout: float | None = 5.0) -> None:
        super().__init__(connection_pool_size=connection_pool_size, read_timeout=read_timeout)
        self._gate = PriorityGate(connection_pool_size)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self._gate.acquire(urgent=url.endswith(URGENT))
        try:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        finally:
            self._gate.release()
