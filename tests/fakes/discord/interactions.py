"""Interactions: the handle a test awaits, and the registry that creates and dispatches them.

Why a module: Discord's hardest rules for a bot are about interactions — answer within 3 seconds, exactly
once, then follow up on the token for 15 minutes. The registry mints each interaction as Discord would
(payload, token, the member's permissions in that channel) and sends it to the shard that runs its guild;
the handle records how and when the bot acknowledged it, which is what tests assert on.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping

from .gateway import Gateway
from .protocol import EPHEMERAL, EVERYONE_PERMISSIONS, JSON, copied
from .world import Guild, World


def loop_clock() -> float:
    """The event loop's clock, which every interaction deadline is measured on."""
    return asyncio.get_running_loop().time()


class InteractionHandle:
    """A dispatched interaction: await the bot's answer and inspect what it produced.

    ``original`` and ``followups`` read the message store, so they show messages as they are now (after
    edits); a deleted message disappears from them.
    """

    def __init__(self, payload: JSON, dispatched_at: float, messages: Mapping[int, JSON]) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.dispatched_at = dispatched_at
        self.callback: JSON | None = None
        self.acked_at: float | None = None
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        self.modal_open = False
        self.lapse_expected = False  # set by :meth:`FakeDiscordServer.expect_unacknowledged`
        # ``(shard_id, shard_count)`` of each gateway session INTERACTION_CREATE went to: one for a client
        # running the guild's shard, none when no client does (nobody can answer, as on Discord).
        self.shards: list[tuple[int, int]] = []
        self._messages = messages
        self._answered: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} callback={self.callback!r}>"

    async def response(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109 - the driver API asks for it
        """The initial callback body (``{"type": ..., "data": ...}``) once the bot sends an accepted one."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._answered), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not answer interaction {self.id} within {timeout}s") from None

    @property
    def original(self) -> JSON | None:
        return None if self.original_id is None else self._messages.get(self.original_id)

    @property
    def followups(self) -> list[JSON]:
        return [self._messages[i] for i in self.followup_ids if i in self._messages]

    @property
    def ephemeral(self) -> bool:
        original = self.original
        if original is not None:
            return bool(original["flags"] & EPHEMERAL)
        data = (self.callback or {}).get("data") or {}
        return bool(data.get("flags", 0) & EPHEMERAL)

    @property
    def acked_within(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def message_id(self) -> int | None:
        """The message a component or component-born modal interaction came from."""
        message = self.payload.get("message")
        return None if message is None else int(message["id"])

    def acknowledge(self, body: JSON, at: float, original_id: int | None) -> None:
        self.callback, self.acked_at, self.original_id = body, at, original_id
        self.modal_open = body.get("type") == 9
        if not self._answered.done():
            self._answered.set_result(body)


class Interactions:
    """Every interaction dispatched so far, by id and by token, in the order users started them."""

    def __init__(self, world: World, gateway: Gateway, messages: Mapping[int, JSON]) -> None:
        self._world, self._gateway, self._messages = world, gateway, messages
        self.handles: list[InteractionHandle] = []
        self.by_id: dict[int, InteractionHandle] = {}
        self.by_token: dict[str, InteractionHandle] = {}
        self._by_user: dict[str, list[InteractionHandle]] = {}  # each user's, for the modal they submit

    def channel_of_token(self, token: str) -> int | None:
        """The channel an interaction token's follow-ups go to; ``None`` for a token nobody was given."""
        handle = self.by_token.get(token)
        return None if handle is None else int(handle.payload["channel_id"])

    @property
    def unacknowledged(self) -> list[InteractionHandle]:
        """Interactions not acknowledged within the response window (a late answer is refused with 10062,
        so these never were): on Discord the member sees "This interaction failed". Those a test lets
        lapse on purpose (:meth:`expect_unacknowledged`) are left out."""
        return [handle for handle in self.handles if handle.acked_at is None and not handle.lapse_expected]

    def expect_unacknowledged(self, handle: InteractionHandle) -> None:
        """This interaction is meant to go unanswered (a test of the fake's 10062, say)."""
        handle.lapse_expected = True

    def open_modal(self, user_id: int, custom_id: str) -> InteractionHandle:
        """The newest interaction that showed ``user_id`` the modal ``custom_id``, still open. Among the
        user's own interactions only: scanning everyone's went back through all the interactions since
        the modal opened (a couple of hundred per submitted form in the closed-loop benchmark)."""
        for handle in reversed(self._by_user.get(str(user_id), [])):
            modal = (handle.callback or {}).get("data") or {}
            if handle.modal_open and modal.get("custom_id") == custom_id:
                return handle
        raise LookupError(f"no open modal {custom_id!r} was shown to user {user_id}")

    async def interact(
        self,
        kind: int,
        user: int,
        guild_id: int | None,
        channel_id: int | None,
        data: JSON,
        message: JSON | None = None,
    ) -> InteractionHandle:
        if not self._gateway.online:
            raise RuntimeError("no client has IDENTIFYed yet; await dc.wait_ready() first")
        if user not in self._world.users:
            raise LookupError(f"unknown user {user}; register it with dc.user() or dc.member()")
        payload = self._interaction_payload(kind, user, guild_id, channel_id, data, message)
        handle = InteractionHandle(payload, loop_clock(), self._messages)
        self.by_id[handle.id], self.by_token[handle.token] = handle, handle
        self.handles.append(handle)
        self._by_user.setdefault((payload.get("member") or payload)["user"]["id"], []).append(handle)
        delivered = await self._gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        handle.shards = [session.shard for session in delivered]
        return handle

    def _interaction_payload(
        self,
        kind: int,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        data: JSON,
        message: JSON | None,
    ) -> JSON:
        payload: JSON = {
            "id": str(self._world.snowflakes.next()),
            "application_id": str(self._world.app_id),
            "type": kind,
            "data": data,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is None:
            channel = self._world.dm_channel(user_id)
            payload.update(channel=channel, channel_id=channel["id"], user=self._world.users[user_id], context=1)
            payload.update(app_permissions=str(EVERYONE_PERMISSIONS), authorizing_integration_owners={"0": "0"})
        else:
            payload.update(self._guild_context(self._world.guilds[guild_id], user_id, channel_id))
        if message is not None:
            payload["message"] = copied(message)  # as the user saw it, not as later edited
        return payload

    def _guild_context(self, guild: Guild, user_id: int, channel_id: int | None) -> JSON:
        if user_id not in guild.members:
            raise LookupError(f"user {user_id} is not a member of guild {guild.id}; call dc.member() first")
        if channel_id not in guild.channel_ids:
            raise LookupError(f"channel {channel_id} is not in guild {guild.id}")
        member = {**self._world.member_payload(guild, user_id), "permissions": str(guild.permissions(user_id))}
        channel = {**self._world.channels[channel_id], "permissions": str(guild.permissions(user_id))}
        return {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel": channel,
            "channel_id": str(channel_id),
            "member": member,
            "app_permissions": str(guild.permissions(self._world.bot_user_id)),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }
