"""Answering interactions: the initial callback (acknowledgement) and the follow-ups on its token.

Why these together: both act on one interaction under Discord's clocks — the callback must come within
3 seconds and only once (a second is 40060, a late one 10062), the follow-ups and edits of ``@original``
ride on the token for 15 minutes, and the first follow-up after a "thinking" defer replaces the loading
message. The handle of each interaction records when and how it was acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from .interactions import InteractionHandle, Interactions, loop_clock
from .limits import RESPONSE_WINDOW, TOKEN_LIFETIME
from .messages import Files, MessageStore
from .protocol import EPHEMERAL, JSON, LOADING, SENDABLE_FLAGS, ApiError, json_response
from .rest import BODY, FILES, Route
from .validation import Problems, check_choices, check_modal, validate_message
from .world import World

_ALLOWED_RESPONSES = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
"""The callback (response) types Discord accepts for each interaction type."""


class InteractionResponses:
    """The interaction callback route and the webhook routes of follow-ups and ``@original``."""

    def __init__(
        self, world: World, store: MessageStore, interactions: Interactions, time_scale: Callable[[], float]
    ) -> None:
        """``time_scale`` is read at every check: a test may shrink Discord's clocks after starting."""
        self._world, self._store, self._interactions = world, store, interactions
        self._time_scale = time_scale

    def routes(self) -> list[Route]:
        webhook_message = "/webhooks/{app_id}/{token}/messages/{message_id:@original|\\d+}"
        return [
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", webhook_message, self._get_webhook_message),
            ("PATCH", webhook_message, self._edit_webhook_message),
            ("DELETE", webhook_message, self._delete_webhook_message),
        ]

    # ----------------------------------------------------------------- the initial response

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        handle = self._interactions.by_id.get(int(request.match_info["interaction_id"]))
        if handle is None or handle.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if handle.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if loop_clock() - handle.dispatched_at > RESPONSE_WINDOW * self._time_scale():
            raise ApiError(404, 10062, "Unknown interaction")
        body = request[BODY] or {}
        kind = body.get("type", 0)  # 0: no such response type, refused below
        self._check_response_type(handle, kind)
        message = await self._apply_response(handle, kind, body.get("data") or {}, request[FILES])
        original_id = handle.message_id if kind == 6 else None if message is None else int(message["id"])
        handle.acknowledge(body, loop_clock(), original_id)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        return json_response(self._callback_result(handle, kind, message))

    def _check_response_type(self, handle: InteractionHandle, kind: Any) -> None:
        allowed = set(_ALLOWED_RESPONSES[handle.type])
        if handle.message_id is None:
            allowed -= {6, 7}  # nothing to update: a modal submit that did not come from a component
        if kind not in allowed:
            problems = Problems()
            problems.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            problems.raise_if_any()

    async def _apply_response(self, handle: InteractionHandle, kind: int, data: JSON, files: Files) -> JSON | None:
        if kind in (8, 9):
            problems = Problems()
            if kind == 8:
                check_choices(problems, data.get("choices") or [], ("data", "choices"))
            else:
                check_modal(problems, data, ("data",))
            problems.raise_if_any()
            return None
        if kind == 6:
            return None
        if kind == 7:
            message = self._store.messages.get(handle.message_id or 0)
            if message is None:
                raise ApiError(404, 10008, "Unknown Message")
            self._store.edit(message, data, files, path=("data",))
            return message
        return await self._reply_message(handle, kind, data, files)

    async def _reply_message(self, handle: InteractionHandle, kind: int, data: JSON, files: Files) -> JSON:
        channel_id = int(handle.payload["channel_id"])
        flags = data.get("flags", 0) & (EPHEMERAL | SENDABLE_FLAGS)
        if kind == 5:
            message = self._store.build(channel_id, {}, {}, flags=flags | LOADING, handle=handle)
        else:
            message = self._store.build(channel_id, data, files, flags=flags, handle=handle)
            validate_message(message, ("data",))
        self._store.store(message)
        await self._store.announce(message)
        return message

    @staticmethod
    def _callback_result(handle: InteractionHandle, kind: int, message: JSON | None) -> JSON:
        resource: JSON = {"type": kind}
        if message is not None:
            resource["message"] = message
        return {
            "interaction": {
                "id": str(handle.id),
                "type": handle.type,
                "response_message_id": None if message is None else message["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
                "activity_instance_id": None,
            },
            "resource": resource,
        }

    # ----------------------------------------------------------------- REST: follow-ups (webhooks)

    def _webhook_handle(self, request: web.Request) -> InteractionHandle:
        handle = self._interactions.by_token.get(request.match_info["token"])
        if int(request.match_info["app_id"]) != self._world.app_id or handle is None or handle.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if loop_clock() - handle.dispatched_at > TOKEN_LIFETIME * self._time_scale():
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return handle

    def _webhook_message(self, handle: InteractionHandle, raw_id: str) -> JSON:
        message_id = handle.original_id if raw_id == "@original" else int(raw_id)
        mine = message_id is not None and message_id in {handle.original_id, *handle.followup_ids}
        if not mine or message_id not in self._store.messages:
            raise ApiError(404, 10008, "Unknown Message")
        return self._store.messages[message_id]

    async def _followup(self, request: web.Request) -> web.Response:
        """A follow-up; the first one after a "thinking" defer replaces the loading message, as on Discord."""
        handle = self._webhook_handle(request)
        data, files = request[BODY] or {}, request[FILES]
        original = handle.original
        if original is not None and original["flags"] & LOADING:
            self._store.edit(original, data, files, path=())
            message = original
        else:
            flags = data.get("flags", 0) & (EPHEMERAL | SENDABLE_FLAGS)
            message = self._store.build(int(handle.payload["channel_id"]), data, files, flags=flags, handle=handle)
            validate_message(message, ())
            self._store.store(message)
            handle.followup_ids.append(int(message["id"]))
            await self._store.announce(message)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message)
        return web.Response(status=204)

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        return json_response(self._webhook_message(handle, request.match_info["message_id"]))

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        self._store.edit(message, request[BODY] or {}, request[FILES], path=())
        return json_response(message)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        self._store.messages.pop(int(message["id"]))
        return web.Response(status=204)
