"""The message store: every message the bot posted, its uploaded files, and the rules for editing them.

Why one store for every way a message is made: a channel send, an interaction reply and a follow-up all
become the same stored message (checked by :mod:`.validation`, echoed as MESSAGE_CREATE when the intents
ask for it), and an edit through any route follows Discord's rules on attachments and flags. Tests read
the chat back from here as a member sees it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence

from .components import numbered
from .gateway import Gateway
from .interactions import InteractionHandle
from .protocol import (
    APPLICATION_COMMAND,
    COMPONENTS_V2,
    EPHEMERAL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    JSON,
    LOADING,
    SUPPRESS_EMBEDS,
    Path,
    int_or_none,
    now_iso,
)
from .validation import Problems, validate_message
from .world import World

Files = Mapping[int, tuple[str, bytes]]
"""Uploaded files of a request by their ``files[n]`` index: ``(filename, contents)``."""


class MessageStore:
    """Messages by id, each channel's messages in order, and attachment contents by attachment id."""

    def __init__(self, world: World, gateway: Gateway) -> None:
        self._world, self._gateway = world, gateway
        self.messages: dict[int, JSON] = {}
        self.blobs: dict[int, bytes] = {}
        self._channel_log: dict[int, list[int]] = {}

    # ----------------------------------------------------------------- inspection (driver API)

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[JSON]:
        """Messages now in a channel, oldest first; ephemeral interaction replies only on request."""
        messages = [self.messages[i] for i in self._channel_log.get(channel_id, []) if i in self.messages]
        return [m for m in messages if include_ephemeral or not m["flags"] & EPHEMERAL]

    def dm_messages(self, user_id: int) -> list[JSON]:
        channel_id = self._world.dm_by_user.get(user_id)
        return [] if channel_id is None else self.channel_messages(channel_id)

    def message(self, message_id: int) -> JSON:
        return self.messages[message_id]

    def attachment_bytes(self, message: JSON | int) -> dict[str, bytes]:
        """Uploaded file contents of a message, by filename."""
        stored = self.stored(message)
        return {a["filename"]: self.blobs[int(a["id"])] for a in stored["attachments"]}

    # ----------------------------------------------------------------- storing and editing

    def build(
        self,
        channel_id: int,
        data: JSON,
        files: Files,
        *,
        flags: int,
        handle: InteractionHandle | None = None,
    ) -> JSON:
        message: JSON = {
            "id": str(self._world.snowflakes.next()),
            "channel_id": str(channel_id),
            "type": 0,
            "author": self._world.bot,
            "content": data.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._attachments(channel_id, data, files, []),
            "embeds": [{"type": "rich", **embed} for embed in data.get("embeds") or []],
            "reactions": [],
            "pinned": False,
            "components": numbered(data.get("components") or []),
            "flags": flags,
        }
        if handle is not None:
            message.update(self._interaction_fields(handle))
        return message

    def _interaction_fields(self, handle: InteractionHandle) -> JSON:
        user = (handle.payload.get("member") or handle.payload)["user"]
        metadata: JSON = {
            "id": str(handle.id),
            "type": handle.type,
            "user": user,
            "authorizing_integration_owners": handle.payload["authorizing_integration_owners"],
        }
        if handle.message_id is not None:
            metadata["interacted_message_id"] = str(handle.message_id)
        kind = 20 if handle.type == APPLICATION_COMMAND else 0
        return {
            "type": kind,
            "webhook_id": str(self._world.app_id),
            "application_id": str(self._world.app_id),
            "interaction_metadata": metadata,
        }

    def _attachments(self, channel_id: int, data: JSON, files: Files, existing: Sequence[JSON]) -> list[JSON]:
        """Discord's rule: ``attachments`` (when sent) lists what to keep plus new uploads by file index;
        without it, every uploaded file is added to what is already there."""
        wanted = data.get("attachments")
        if wanted is None:
            return [*existing, *(self._upload(channel_id, *files[i], None) for i in sorted(files))]
        kept = {a["id"]: a for a in existing}
        result = []
        for index, item in enumerate(wanted):
            ident = item.get("id")
            if str(ident) in kept:
                result.append(kept[str(ident)])
            elif ident is not None and int(ident) in files:
                result.append(self._upload(channel_id, *files[int(ident)], item.get("description")))
            else:
                problems = Problems()
                problems.add(("attachments", index, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
                problems.raise_if_any()
        return result

    def _upload(self, channel_id: int, filename: str, blob: bytes, description: str | None) -> JSON:
        attachment_id = self._world.snowflakes.next()
        self.blobs[attachment_id] = blob
        url = f"{self._world.url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(blob),
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        if description:
            attachment["description"] = description
        return attachment

    def edit(self, message: JSON, data: JSON, files: Files, *, path: Path) -> None:
        """Applies an edit if the result is valid; finishing a deferred "thinking" message clears LOADING."""
        edited = dict(message)
        for key in ("content", "embeds", "components"):
            if key in data:
                edited[key] = data[key] or ([] if key != "content" else "")
        edited["embeds"] = [{"type": "rich", **e} for e in edited["embeds"]]
        edited["components"] = numbered(edited["components"])
        if "attachments" in data or files:
            edited["attachments"] = self._attachments(int(message["channel_id"]), data, files, message["attachments"])
        settable = SUPPRESS_EMBEDS | COMPONENTS_V2
        requested = data["flags"] if "flags" in data else message["flags"]
        edited["flags"] = (message["flags"] & ~(settable | LOADING)) | (requested & settable)
        validate_message(edited, path)
        edited["edited_timestamp"] = now_iso()
        message.update(edited)

    def store(self, message: JSON) -> None:
        message_id = int(message["id"])
        self.messages[message_id] = message
        self._channel_log.setdefault(int(message["channel_id"]), []).append(message_id)

    def stored(self, message: JSON | int) -> JSON:
        message_id = message if isinstance(message, int) else int(message["id"])
        if message_id not in self.messages:
            raise LookupError(f"message {message_id} is not (or no longer) stored")
        return self.messages[message_id]

    async def announce(self, message: JSON) -> None:
        """Echoes a visible bot message as MESSAGE_CREATE when the intents ask for it, as Discord does."""
        channel = self._world.channels[int(message["channel_id"])]
        guild_id = channel.get("guild_id")
        wanted = INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES
        if message["flags"] & EPHEMERAL or not self._gateway.intents & wanted or not self._gateway.online:
            return
        event = dict(message)
        if guild_id:
            member = self._world.member_payload(self._world.guilds[int(guild_id)], self._world.bot_user_id)
            member.pop("user")
            event.update(guild_id=guild_id, member=member)
        await self._gateway.dispatch("MESSAGE_CREATE", event, guild_id=int_or_none(guild_id))
