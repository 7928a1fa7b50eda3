"""Small HTTP/1.1 requests to one origin on kept-alive connections, read by httptools' C parser.

Why not aiohttp's ``ClientSession`` for these: in Discord's closed loop (a member clicks, waits for the
next question, clicks again) the bot answers every click with one small POST, and aiohttp's request
path (URL joining, header multidicts, cookie jar, timers, tracing hooks, its connector's bookkeeping)
cost about 95 µs of CPU per POST against a local server; written straight to a kept-alive socket and
read by httptools (llhttp, the parser uvicorn uses), the same POST costs about 35 µs. The bot process is
what limits how fast members get their next question, so that difference is a member's wait.

What it does and does not do: one origin (``http`` or ``https``, as given), requests with a body of
bytes, a response read whole (``Content-Length``, chunked, or until the server closes). Connections are
reused while the server keeps them alive, newest first, and a connection the server closed while idle
is dropped before it is used. A request that fails is not sent again here: the caller decides (as
with aiohttp, which does not resend a POST either). No proxies, cookies, redirects or compression:
the interaction callbacks need none of them. Failures are ``OSError``: ``ConnectionError`` when the
server closes the connection or answers with something that is not HTTP, ``TimeoutError`` when it
does not answer in time.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httptools
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

CONNECT_TIMEOUT = 30.0  # seconds: aiohttp's defaults for the requests this replaced
REQUEST_TIMEOUT = 300.0
IDLE_KEPT = 100  # connections kept open between requests; more are closed after their response


@dataclass(frozen=True, slots=True)
class Response:
    """A response read whole. ``status`` and ``reason`` are what discord.py's exceptions read from one."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]  # read as aiohttp's are: names in any case
    body: bytes


class _Connection(asyncio.Protocol):
    """One kept-alive connection: a request written, its response parsed as it arrives."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)  # one per connection: it reads response after response
        self._waiter: asyncio.Future[Response] | None = None
        self._reason = ""
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._headers_read = False
        self._body: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def send(self, data: bytes) -> asyncio.Future[Response]:
        """Write a whole request; the future gets its response (at once an error: the connection is gone)."""
        assert self._transport is not None
        if self.closed:  # lost before this request: nothing would ever answer it
            raise ConnectionError("the server closed the connection before it answered")
        self._reason, self._headers, self._headers_read, self._body = "", CIMultiDict(), False, []
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"the server's response is not HTTP/1.1: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._reading_until_close():
                self._complete()
            else:
                self._waiter.set_exception(ConnectionError("the server closed the connection before it answered"))

    def _reading_until_close(self) -> bool:
        """A response with neither a length nor chunks ends when the connection does (RFC 9112, 6.3)."""
        return self._headers_read and "Content-Length" not in self._headers and "Transfer-Encoding" not in self._headers

    # httptools' callbacks ---------------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self._headers_read = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete()
        if not self._parser.should_keep_alive():
            self.close()

    # ------------------------------------------------------------------------------------------------

    def _complete(self) -> None:
        if self._waiter is None or self._waiter.done():
            return
        status = self._parser.get_status_code()
        self._waiter.set_result(Response(status, self._reason, CIMultiDictProxy(self._headers), b"".join(self._body)))

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class KeepAliveClient:
    """Requests to the origin of ``base`` (``http://host:port`` or ``https://host``) on reused connections."""

    def __init__(self, base: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        origin = yarl.URL(base)
        if origin.scheme not in ("http", "https") or not origin.host:
            raise ValueError(f"not an http(s) address: {base!r}")
        self._host = origin.host
        self._port = origin.port or (443 if origin.scheme == "https" else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if origin.scheme == "https" else None
        self._host_header = f"Host: {origin.authority}\r\n".encode("latin-1")
        self._idle: list[_Connection] = []
        self._closed = False

    async def request(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """Send ``method target`` (``target``: the path and query, already encoded) with ``body``."""
        head = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), self._host_header]
        head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1"))
        connection = await self._connection()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await connection.send(b"".join(head) + body)
        except BaseException:
            connection.close()  # a request cut off leaves the connection mid-response: never reused
            raise
        self._release(connection)
        return response

    async def _connection(self) -> _Connection:
        if self._closed:
            raise RuntimeError("Session is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(CONNECT_TIMEOUT):
            server_hostname = self._host if self._ssl is not None else None
            _, connection = await loop.create_connection(
                _Connection, self._host, self._port, ssl=self._ssl, server_hostname=server_hostname
            )
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.closed:
            return
        if self._closed or len(self._idle) >= IDLE_KEPT:
            connection.close()
        else:
            self._idle.append(connection)

    async def close(self) -> None:
        """Close every idle connection; later requests raise, as from a closed aiohttp session."""
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
