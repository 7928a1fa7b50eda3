"""The interaction callbacks' HTTP client against real sockets: a server on 127.0.0.1 that answers each
request as the test scripts it, in plain TCP and over TLS (a test CA from trustme)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trustme

from adapters.keepalive_http import KeepAliveClient

Answer = Callable[[bytes], bytes | None]  # the request (head and body) -> the bytes to answer; None: hang up

NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class ScriptedServer:
    """Reads whole requests (``Content-Length`` bodies) and answers each with ``answer(request)``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.close_after: set[int] = set()  # the numbers of the requests after whose answer it hangs up
        self.requests: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: list[asyncio.Task[object]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        self.handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answer(request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if len(self.requests) in self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def hang_up_idle(self) -> None:
        """Close every connection, as a server does with keep-alive connections idle too long."""
        for writer in self.writers:
            writer.close()


@asynccontextmanager
async def serving(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[ScriptedServer, int]]:
    server = ScriptedServer(answer)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield server, port
        server.hang_up_idle()
        await asyncio.gather(*server.handlers)


async def test_requests_reuse_one_connection_and_send_what_discord_reads() -> None:
    async with serving(lambda _: NO_CONTENT) as (server, port):
        client = KeepAliveClient(f"http://127.0.0.1:{port}")
        for _ in range(3):
            response = await client.request(
                "POST", "/api/v10/x?wait=1", b'{"a":1}', {"Content-Type": "application/json"}
            )
            assert (response.status, response.reason, response.body) == (204, "No Content", b"")
        await client.close()
    assert server.connections == 1
    assert server.requests[0] == (
        b"POST /api/v10/x?wait=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}' % port
    )


async def test_bodies_by_length_by_chunks_and_until_close_are_read_whole() -> None:
    replies = iter(
        [
            b'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{"code":50}',
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
            # no length, no chunks: the body ends when the server closes the connection
            b"HTTP/1.1 503 Service Unavailable\r\nVia: 1.1 proxy\r\n\r\nupstream gone",
        ]
    )
    async with serving(lambda _: next(replies)) as (server, port):
        client = KeepAliveClient(f"http://127.0.0.1:{port}")
        refused = await client.request("POST", "/a", b"", {})
        assert (refused.status, refused.body) == (400, b'{"code":50}')
        assert refused.headers["Content-Type"] == "application/json"  # names read in any case
        chunked = await client.request("POST", "/b", b"", {})
        assert (chunked.status, chunked.body) == (200, b"abcdefg")
        server.close_after.add(3)
        until_close = await client.request("POST", "/c", b"", {})
        assert (until_close.status, until_close.headers["via"]) == (503, "1.1 proxy")
        assert until_close.body == b"upstream gone"
        await client.close()
    assert server.connections == 1


async def test_a_connection_the_server_closed_is_not_used_again() -> None:
    replies = iter([b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", NO_CONTENT, NO_CONTENT])
    async with serving(lambda _: next(replies)) as (server, port):
        client = KeepAliveClient(f"http://127.0.0.1:{port}")
        assert (await client.request("POST", "/a", b"", {})).status == 204  # then the server closes it
        assert (await client.request("POST", "/b", b"", {})).status == 204
        server.hang_up_idle()  # the second connection, idle
        await asyncio.sleep(0.05)
        assert (await client.request("POST", "/c", b"", {})).status == 204
        await client.close()
    assert server.connections == 3


async def test_a_server_that_hangs_up_or_does_not_speak_http_is_a_connection_error() -> None:
    async with serving(lambda request: None if b"/hang-up" in request else b"SMTP ready\r\n\r\n") as (_, port):
        client = KeepAliveClient(f"http://127.0.0.1:{port}")
        with pytest.raises(ConnectionError, match="closed the connection"):
            await client.request("POST", "/hang-up", b"", {})
        with pytest.raises(ConnectionError, match="not HTTP"):
            await client.request("POST", "/other", b"", {})
        await client.close()
        with pytest.raises(RuntimeError, match="Session is closed"):
            await client.request("POST", "/after", b"", {})


async def test_https_verifies_the_server_and_keeps_the_connection() -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_side)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    async with serving(lambda _: NO_CONTENT, tls=server_side) as (server, port):
        stranger = KeepAliveClient(f"https://127.0.0.1:{port}")  # the system's CAs: ours is unknown
        with pytest.raises(ssl.SSLCertVerificationError):
            await stranger.request("POST", "/a", b"", {})
        await stranger.close()
        client = KeepAliveClient(f"https://127.0.0.1:{port}", ssl_context=trusting)
        for _ in range(2):
            assert (await client.request("POST", "/a", b"{}", {})).status == 204
        await client.close()
    assert server.connections == 1  # the refused handshake never reached the server; then one kept connection
