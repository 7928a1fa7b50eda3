"""The gateway WebSocket: sessions, IDENTIFY and RESUME, heartbeats, sharding and numbered dispatches.

Why a module: the adapter's reconnect and sharding bugs live here — a dropped socket must RESUME with the
events it missed replayed, an invalid session must start over with IDENTIFY, and each client (process) must
get exactly the events of the guilds on its shard. The gateway serves JSON; when the client asks for
``compress=zlib-stream`` (discord.py's default without zstd installed) frames are zlib-stream compressed
exactly like Discord's. For ``zstd-stream`` it falls back to plain text frames, which discord.py also
accepts.

Sessions are per shard: each gets the events of the guilds on its shard (:func:`shard_for`, with the count
its IDENTIFY named) and events outside any guild go to shard 0, so two clients on different shards see
different guilds and two on the same shard both see its events, as on Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .protocol import JSON
from .world import World


def shard_for(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


@dataclass(slots=True)
class Session:
    """One IDENTIFYed gateway session: its shard, its socket (``None`` while dropped) and its numbered
    events, kept for RESUME as the text they were sent as (``(seq, JSON text)``): serialised once, and
    replayed exactly as sent whatever changes later in the dicts they were made of."""

    session_id: str
    shard: tuple[int, int] = (0, 1)
    conn: Connection | None = None
    seq: int = 0
    history: list[tuple[int, str]] = field(default_factory=list)

    def receives(self, guild_id: int | None) -> bool:
        """Whether Discord sends this session an event of ``guild_id`` (``None``: outside a guild, a DM)."""
        shard_id, shard_count = self.shard
        return shard_id == (0 if guild_id is None else shard_for(guild_id, shard_count))


class Connection:
    """One client socket; sends are serialised because zlib-stream frames share one compressor."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._lock = asyncio.Lock()

    async def send(self, frame: JSON | str) -> None:
        """Send a frame, given as a dict or as its JSON text already."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        async with self._lock:
            if self.ws.closed:
                return  # the frame stays in the session history for RESUME
            with contextlib.suppress(ConnectionResetError):
                if self._zlib is None:
                    await self.ws.send_str(text)
                else:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)


class Gateway:
    """Every gateway session of every connected client, and the dispatches sent to them.

    ``identify_count``, ``resume_count``, ``intents`` and ``presence`` record what clients did; setting
    ``invalid_session_next`` makes the next RESUME fail with op 9 so the client IDENTIFYs afresh.
    """

    def __init__(
        self,
        world: World,
        *,
        token: str,
        heartbeat_interval_ms: int,
        crashes: list[Exception],
        notify: Callable[[], Awaitable[None]],
    ) -> None:
        self._world, self._token, self._heartbeat_ms = world, token, heartbeat_interval_ms
        self._crashes, self._notify = crashes, notify
        self.identify_count = 0
        self.resume_count = 0
        self.invalid_session_next = False
        self.intents = 0
        self.presence: JSON | None = None
        self.sessions: dict[str, Session] = {}  # by session id, in IDENTIFY order
        self._sockets: set[web.WebSocketResponse] = set()
        self._dispatch_lock = asyncio.Lock()
        self._ready = asyncio.Event()

    @property
    def online(self) -> bool:
        """Whether any client has a session (connected, or dropped and still resumable)."""
        return bool(self.sessions)

    def shards(self) -> list[tuple[int, int]]:
        """``(shard_id, shard_count)`` of every gateway session open now, in IDENTIFY order: connected, or
        dropped and still resumable. Only a close with 1000 or 1001 ends one (discord.py closes with 4000)."""
        return [session.shard for session in self.sessions.values()]

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the driver API asks for it
        """Waits until a client IDENTIFYed and was sent READY and the GUILD_CREATE of every guild on its shard.

        discord.py fires ``on_ready`` only ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE;
        pass ``guild_ready_timeout=0.1`` to the client and ``await client.wait_until_ready()`` if it matters.
        """
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        """Closes every socket with 1001, as Discord does when it goes away."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            await ws.close(code=4012, message=b"Invalid API version or encoding")
            return ws
        conn = Connection(ws, request.query.get("compress"))
        self._sockets.add(ws)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": self._heartbeat_ms, "_trace": ["fake"]}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_op(conn, json.loads(msg.data))
        except Exception as exc:  # a bug in the fake: surface it at exit instead of a silent reconnect
            self._crashes.append(exc)
            await ws.close(code=1011, message=b"fake gateway crashed")
        finally:
            self._sockets.discard(ws)
            for session in list(self.sessions.values()):
                if session.conn is conn:
                    session.conn = None
                    if ws.close_code in (1000, 1001):  # closed for good (a client shutting down): no RESUME
                        del self.sessions[session.session_id]
        return ws

    async def _on_op(self, conn: Connection, frame: JSON) -> None:
        handlers = {
            1: self._on_heartbeat,
            2: self._on_identify,
            3: self._on_presence,
            6: self._on_resume,
            8: self._on_request_members,
        }
        handler = handlers.get(frame.get("op", -1))
        if handler is None:
            await conn.ws.close(code=4001, message=b"Unknown opcode")
            return
        await handler(conn, frame.get("d"))
        await self._notify()

    async def _on_heartbeat(self, conn: Connection, data: Any) -> None:
        await conn.send({"op": 11, "d": None})

    async def _on_presence(self, conn: Connection, data: Any) -> None:
        self.presence = data

    async def _on_identify(self, conn: Connection, data: JSON) -> None:
        """A new session on the shard IDENTIFY names; it replaces a session of that shard whose socket is
        gone (a restarted client), not one still connected (another client running the same shard)."""
        if data.get("token") != self._token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard", [0, 1])
        valid = isinstance(shard, list) and len(shard) == 2 and all(type(n) is int for n in shard)
        if not valid or not 0 <= shard[0] < shard[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identify_count += 1
        self.intents = data.get("intents", 0)
        for old in list(self.sessions.values()):
            gone = old.conn is None or old.conn.ws.closed
            if old.conn is conn or (gone and old.shard[0] == shard[0]):
                del self.sessions[old.session_id]
        session = Session(secrets.token_hex(16), (shard[0], shard[1]), conn)
        self.sessions[session.session_id] = session
        await self.dispatch("READY", self._ready_payload(data, session), to=session)
        for guild in self._world.guilds.values():
            if session.receives(guild.id):
                await self.dispatch("GUILD_CREATE", self._world.guild_payload(guild), to=session)
        self._ready.set()

    async def _on_resume(self, conn: Connection, data: JSON) -> None:
        """Replays what the client missed, then RESUMED; a stale session (or ``invalid_session_next``)
        gets op 9 with ``d: false`` so the client starts over with IDENTIFY."""
        session = self.sessions.get(str(data.get("session_id")))
        if self.invalid_session_next or session is None or data.get("token") != self._token:
            self.invalid_session_next = False
            if session is not None:
                del self.sessions[session.session_id]
            await conn.send({"op": 9, "d": False})
            return
        self.resume_count += 1
        async with self._dispatch_lock:
            session.conn = conn
            for seq, frame in session.history:
                if seq > (data.get("seq") or 0):
                    await conn.send(frame)
        await conn.send({"op": 0, "t": "RESUMED", "s": None, "d": {"_trace": ["fake"]}})

    async def _on_request_members(self, conn: Connection, data: JSON) -> None:
        guild = self._world.guilds.get(int(data["guild_id"]))
        session = next((s for s in self.sessions.values() if s.conn is conn), None)
        if guild is None or session is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        prefix = (data.get("query") or "").lower()
        members = [
            self._world.member_payload(guild, user_id)
            for user_id in guild.members
            if (not wanted or user_id in wanted) and self._world.users[user_id]["username"].lower().startswith(prefix)
        ]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        await self.dispatch("GUILD_MEMBERS_CHUNK", {**chunk, "nonce": data.get("nonce")}, to=session)

    async def dispatch(
        self, event: str, data: JSON, *, guild_id: int | None = None, to: Session | None = None
    ) -> list[Session]:
        """Sends a numbered dispatch to ``to``, else to every session on the shard of ``guild_id`` (shard 0
        for ``None``); while a session's socket is down it only lands in its history for RESUME.

        Returns the sessions it went to (none when no client runs that shard).
        """
        async with self._dispatch_lock:
            sessions = [to] if to is not None else [s for s in self.sessions.values() if s.receives(guild_id)]
            for session in sessions:
                session.seq += 1
                frame = json.dumps({"op": 0, "t": event, "s": session.seq, "d": data})  # replayed as sent
                session.history.append((session.seq, frame))
                if session.conn is not None:
                    await session.conn.send(frame)
            return sessions

    async def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Closes a client's socket like a network blip; discord.py reconnects and RESUMEs (set
        ``invalid_session_next`` first to force a fresh IDENTIFY instead). With several sessions
        connected, ``shard_id`` says whose."""
        connected = [s for s in self.sessions.values() if s.conn is not None and shard_id in (None, s.shard[0])]
        if not connected:
            raise RuntimeError("no gateway connection to drop")
        if len(connected) > 1:
            raise RuntimeError(f"{len(connected)} gateway connections: pass the shard_id of the one to drop")
        session = connected[0]
        conn, session.conn = session.conn, None
        assert conn is not None
        await conn.ws.close(code=code, message=b"dropped by the test")

    def _ready_payload(self, identify: JSON, session: Session) -> JSON:
        ready: JSON = {
            "v": 10,
            "user": {**self._world.bot, "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self._world.guilds if session.receives(g)],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._world.ws_url,
            "application": {"id": str(self._world.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord-gateway"],
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready
