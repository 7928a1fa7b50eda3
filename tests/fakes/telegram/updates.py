"""The queue of updates waiting for the bot, with Telegram's confirmation and long-poll semantics.

Why one owner for the queue: users' actions (driver calls) add updates, ``getUpdates`` confirms and returns
them, a webhook push removes them, and a redelivery after a crash re-adds them; the offset rules, the
``allowed_updates`` filter and waking the pending long poll must behave the same whichever side acts.
"""

from __future__ import annotations

import asyncio
import copy
import enum
from typing import Any, Final

from .activity import Activity
from .protocol import JSON, ApiError

_OPT_IN_UPDATE_TYPES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
"""Update types Telegram sends only when ``allowed_updates`` names them."""


class PollOutcome(enum.Enum):
    """Why a waiting long poll woke up."""

    UPDATE = enum.auto()
    CONFLICT = enum.auto()
    DROP = enum.auto()
    SHUTDOWN = enum.auto()


class UpdateQueue:
    """Pending updates in id order, the ``allowed_updates`` setting, the webhook and the waiting long poll."""

    def __init__(self, activity: Activity) -> None:
        self.pending: list[JSON] = []
        self.allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self.webhook: JSON | None = None
        """``{"url": ..., "secret_token": ...}`` while a webhook is set; getUpdates is refused then."""
        self._next_update_id = 100_000
        self._poll_waiter: asyncio.Future[PollOutcome] | None = None
        self._activity = activity

    def enqueue(self, payload: JSON) -> JSON:
        """Give the update the next id and queue it unless ``allowed_updates`` excludes its type
        (Telegram does not even create such updates)."""
        self._next_update_id += 1
        update = {"update_id": self._next_update_id, **payload}
        if self._accepts(next(iter(payload))):
            self.pending.append(update)
            self._on_new_update()
        return copy.deepcopy(update)

    def redeliver(self, update: JSON) -> None:
        """Queue ``update`` again with its own id, in id order; a no-op while it is still pending."""
        if any(pending["update_id"] == update["update_id"] for pending in self.pending):
            return
        self.pending.append(copy.deepcopy(update))
        self.pending.sort(key=lambda pending: pending["update_id"])
        self._on_new_update()

    def remove(self, update_id: int) -> None:
        """Forget one update, as Telegram does after the webhook accepted it."""
        self.pending = [pending for pending in self.pending if pending["update_id"] != update_id]

    def _on_new_update(self) -> None:
        self._activity.touch()
        self.wake_poll(PollOutcome.UPDATE)

    def wake_poll(self, outcome: PollOutcome) -> bool:
        """End the pending long poll with ``outcome``; False when none is waiting."""
        waiter = self._poll_waiter
        if waiter is None or waiter.done():
            return False
        waiter.set_result(outcome)
        return True

    def confirm(self, offset: int) -> None:
        """Bot API offset semantics: a positive offset forgets every update below it, a negative
        one keeps only the last ``-offset`` updates, 0 changes nothing."""
        if offset > 0:
            kept = [update for update in self.pending if update["update_id"] >= offset]
        elif offset < 0:
            kept = self.pending[offset:]
        else:
            return
        if len(kept) != len(self.pending):
            self._activity.handed_over()
        self.pending = kept

    def _accepts(self, update_type: str) -> bool:
        if self.allowed_updates is None:
            return update_type not in _OPT_IN_UPDATE_TYPES
        return update_type in self.allowed_updates

    def set_allowed_updates(self, value: Any) -> None:
        """Absent keeps the previous setting and ``[]`` restores the default, as on Telegram."""
        if value is None:
            return
        if not isinstance(value, list):
            raise ApiError.bad_request("can't parse allowed_updates JSON array")
        self.allowed_updates = frozenset(value) or None

    async def long_poll(self, seconds: float) -> PollOutcome | None:
        """Wait until an update arrives, another poll replaces this one, or ``seconds`` pass."""
        waiter: asyncio.Future[PollOutcome] = asyncio.get_running_loop().create_future()
        self._poll_waiter = waiter
        try:
            return await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return None
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None
