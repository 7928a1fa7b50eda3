"""How the bot receives updates: ``getUpdates`` long polling and the webhook methods.

Why together: the two ways exclude each other on Telegram (getUpdates is refused with 409 while a webhook
is set, and a newer poll or a setWebhook ends the running poll with a conflict), so the methods that switch
between them live side by side over the one ``UpdateQueue``.
"""

from __future__ import annotations

import copy

from .limits import SECRET_TOKEN
from .params import Handler, Params
from .protocol import JSON, ApiError
from .updates import PollOutcome, UpdateQueue


class DropConnection(Exception):
    """Raised by ``getUpdates`` when the test cut the long poll: the connection is aborted."""


class PollingMethods:
    """getUpdates, setWebhook, deleteWebhook and getWebhookInfo."""

    def __init__(self, updates: UpdateQueue) -> None:
        self._updates = updates

    def handlers(self) -> dict[str, Handler]:
        return {
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    async def _get_updates(self, params: Params) -> list[JSON]:
        updates = self._updates
        if updates.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        updates.wake_poll(PollOutcome.CONFLICT)
        updates.set_allowed_updates(params.get("allowed_updates"))
        updates.confirm(params.opt_int("offset") or 0)
        limit = min(max(params.opt_int("limit") or 100, 1), 100)
        timeout = params.opt_number("timeout") or 0.0
        if not updates.pending and timeout > 0:
            outcome = await updates.long_poll(timeout)
            if outcome is PollOutcome.CONFLICT:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if outcome is PollOutcome.DROP:
                raise DropConnection
        return copy.deepcopy(updates.pending[:limit])

    async def _set_webhook(self, params: Params) -> bool:
        url = params.opt_str("url") or ""
        secret = params.opt_str("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        self._updates.set_allowed_updates(params.get("allowed_updates"))
        if params.flag("drop_pending_updates"):
            self._updates.pending.clear()
        self._updates.webhook = {"url": url, "secret_token": secret} if url else None
        self._updates.wake_poll(PollOutcome.CONFLICT)
        return True

    async def _delete_webhook(self, params: Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.pending.clear()
        self._updates.webhook = None
        return True

    async def _get_webhook_info(self, params: Params) -> JSON:
        updates = self._updates
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(updates.pending)}
        if updates.webhook is not None:
            info |= {"url": updates.webhook["url"], "max_connections": 40}
        if updates.allowed_updates is not None:
            info["allowed_updates"] = sorted(updates.allowed_updates)
        return info
