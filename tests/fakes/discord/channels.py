"""Channels, their messages, DMs, guilds and members over REST, and the uploaded files' URLs.

Why these together: they are the routes a bot uses outside interactions — posting into a channel it has
permission to write in (a closed DM is 403/50007, a missing permission 403/50013), editing only its own
messages, opening a DM, looking a guild or member up — and all read the world and the message store.
A message posted with a ``nonce`` and ``enforce_nonce`` is created once: the same nonce again returns the
message it created, as Discord does within a few minutes.
"""

from __future__ import annotations

import mimetypes

from aiohttp import web

from .messages import MessageStore
from .protocol import (
    ATTACH_FILES,
    JSON,
    SEND_MESSAGES,
    SENDABLE_FLAGS,
    VIEW_CHANNEL,
    ApiError,
    json_response,
)
from .rest import BODY, FILES, Route
from .validation import validate_message
from .world import World

MAX_NONCE_LENGTH = 25
"""Characters of a message's ``nonce`` (Discord: an integer or a string of up to 25)."""


class ChannelRoutes:
    """Channel, message, DM, guild and member routes, plus attachment downloads (outside ``/api/v10``)."""

    def __init__(self, world: World, store: MessageStore) -> None:
        self._world, self._store = world, store
        self._by_nonce: dict[str, JSON] = {}  # Discord keeps them a few minutes; a test lasts seconds

    def routes(self) -> list[Route]:
        return [
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._create_channel_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_channel_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_channel_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_channel_message),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]

    def add_attachment_route(self, router: web.UrlDispatcher) -> None:
        """Uploaded files are served where their ``url`` points, as Discord's CDN serves them."""
        router.add_get(r"/attachments/{channel_id:\d+}/{attachment_id:\d+}/{filename}", self._get_attachment)

    def _channel_or_404(self, request: web.Request) -> JSON:
        channel = self._world.channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message_or_404(self, request: web.Request) -> JSON:
        channel = self._channel_or_404(request)
        message = self._store.messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != channel["id"]:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel_or_404(request))

    async def _create_channel_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        data, files = request[BODY] or {}, request[FILES]
        self._check_can_send(channel, bool(files))
        nonce = str(data["nonce"]) if data.get("nonce") is not None else None
        if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
            raise ApiError(400, 50035, "Invalid Form Body: nonce")
        if nonce is not None and data.get("enforce_nonce") and nonce in self._by_nonce:
            return json_response(self._by_nonce[nonce])  # the message that nonce created, not a new one
        flags = data.get("flags", 0) & SENDABLE_FLAGS
        message = self._store.build(int(channel["id"]), data, files, flags=flags)
        validate_message(message, ())
        if nonce is not None:
            message["nonce"] = nonce
            self._by_nonce[nonce] = message
        self._store.store(message)
        await self._store.announce(message)
        return json_response(message)

    def _check_can_send(self, channel: JSON, with_files: bool) -> None:
        if channel["type"] == 1:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self._world.dms_closed:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        granted = self._world.guilds[int(channel["guild_id"])].permissions(self._world.bot_user_id)
        needed = VIEW_CHANNEL | SEND_MESSAGES | (ATTACH_FILES if with_files else 0)
        if granted & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    async def _get_channel_message(self, request: web.Request) -> web.Response:
        return json_response(self._channel_message_or_404(request))

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_or_404(request)
        if message["author"]["id"] != str(self._world.bot_user_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._store.edit(message, request[BODY] or {}, request[FILES], path=())
        return json_response(message)

    async def _delete_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_or_404(request)
        self._store.messages.pop(int(message["id"]))
        return web.Response(status=204)

    async def _create_dm(self, request: web.Request) -> web.Response:
        recipient = int((request[BODY] or {}).get("recipient_id", 0))
        if recipient not in self._world.users or recipient == self._world.bot_user_id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return json_response(self._world.dm_channel(recipient))

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self._world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return json_response(self._world.guild_payload(guild))

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        user_id = int(request.match_info["user_id"])
        if user_id not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(self._world.member_payload(guild, user_id))

    async def _get_attachment(self, request: web.Request) -> web.Response:
        blob = self._store.blobs.get(int(request.match_info["attachment_id"]))
        if blob is None:
            raise web.HTTPNotFound()
        return web.Response(body=blob, content_type=mimetypes.guess_type(request.match_info["filename"])[0])
