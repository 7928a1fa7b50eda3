"""The Bot API client's HTTP: python-telegram-bot's httpx request, with a gate in front of its pool.

Why a gate: httpcore's connection pool, once every connection is busy, queues requests itself, and on
every request that starts or ends it walks the whole queue against every connection (checking each
idle socket with a system call). With a tap's toast and its follow-ups in flight for hundreds of
members that walk was the largest single cost of a tap in the closed-loop benchmark. Requests beyond
the pool's size wait here instead, on an :class:`asyncio.Semaphore`, which costs nothing per waiter;
httpcore then never queues, and its pool timeout never strikes: a request waits its turn here, as
long as the requests before it take (each bounded by its own read and write timeouts), where httpcore
failed it after a second as :class:`telegram.error.TimedOut` and the send queue apologised for it.
"""

from __future__ import annotations

import asyncio

from telegram._utils.types import ODVInput  # the type of PTB's own signature, to override it exactly
from telegram.request import BaseRequest, HTTPXRequest, RequestData


class GatedRequest(HTTPXRequest):
    """An :class:`HTTPXRequest` that lets at most ``connection_pool_size`` requests reach httpx at once."""

    def __init__(self, connection_pool_size: int) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self._gate = asyncio.Semaphore(connection_pool_size)

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
        async with self._gate:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
