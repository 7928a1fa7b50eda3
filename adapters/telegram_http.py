"""The Bot API client's HTTP: python-telegram-bot's requests over aiohttp, with a gate in front of the pool.

Why aiohttp, not PTB's default httpx: in the closed-loop benchmark (a member taps, waits for the toast
and the next question, taps again) a tap's CPU was mostly the HTTP client's, not the engine's. Through
httpx a Bot API call went through five layers (httpx, httpcore, anyio, h11, sniffio), and httpcore's
pool, on every request that starts or ends, walks its connections checking each idle socket with system
calls; measured on a loopback server, a small POST cost about 0.85 ms of CPU through httpx and 0.15 ms
through aiohttp (C HTTP parser, one pool lookup). aiohttp is already installed with discord.py.
:class:`GatedRequest` implements PTB's :class:`~telegram.request.BaseRequest` (the documented way to
bring another HTTP library): status code and body back, PTB turns them into results and errors as ever.
Timeouts keep PTB's meaning: a network timeout is PTB's ``TimedOut``, any other client error its
``NetworkError``.

Why a gate: requests beyond the pool's size wait here, at no cost per waiter, so the client's own pool
never queues and never times a request out for waiting: a request waits its turn, as long as the
requests before it take (each bounded by its own timeouts). The gate also lets a tap's answer
(``answerCallbackQuery``) go before every waiting message or edit: Telegram shows the member a spinner
until the answer arrives and refuses it after a few seconds, while a message a moment later costs nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput  # the type of PTB's own signature, to override it exactly
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

URGENT = "/answerCallbackQuery"
READ_TIMEOUT = 5.0  # PTB's defaults (HTTPXRequest): seconds for a response, a request's body, a connection
WRITE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0  # an upload (a photo, a document) gets longer to go out
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


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


class GatedRequest(BaseRequest):
    """PTB's requests over an aiohttp session of ``connection_pool_size`` keep-alive connections, at most
    that many in flight at once, a tap's answer before the rest."""

    def __init__(self, connection_pool_size: int, *, read_timeout: float | None = READ_TIMEOUT) -> None:
        self._size = connection_pool_size
        self._read_timeout = read_timeout
        self._gate = PriorityGate(connection_pool_size)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        if self._session is None:
            raise RuntimeError("this GatedRequest is not initialized")
        uploads = request_data is not None and request_data.contains_files
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        default_write = MEDIA_WRITE_TIMEOUT if uploads else WRITE_TIMEOUT
        write = default_write if isinstance(write_timeout, DefaultValue) else write_timeout
        connect = CONNECT_TIMEOUT if isinstance(connect_timeout, DefaultValue) else connect_timeout
        # aiohttp has no write timeout of its own: the whole exchange is bounded by their sum instead.
        total = None if read is None or write is None else read + write + (connect or 0.0)
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        await self._gate.acquire(urgent=url.endswith(URGENT))
        try:
            body, headers = _body(request_data)
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        finally:
            self._gate.release()


def _body(request_data: RequestData | None) -> tuple[aiohttp.FormData | bytes | None, dict[str, str] | None]:
    """The parameters as PTB's own client sends them (form fields of JSON values, multipart with files),
    and the content type to say so. Without files the form is encoded here: aiohttp's ``FormData`` would
    set up a multipart writer (and draw a random boundary) for every request, to use it for none."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return request_data.url_encoded_parameters().encode(), FORM
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None
