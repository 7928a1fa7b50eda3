"""The Telegram platform limits the fake enforces, each stated once, and the flood control that paces sends.

Why a module of its own: /work/shared/platform-limits.md is the contract the adapters are held to, so the
figures live in one place that reads like that table; the modules that check requests import them from here
and never restate a number.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Final

MAX_TEXT_LENGTH: Final = 4096
"""Characters of a message text after entity parsing."""
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
"""UTF-8 bytes, not characters: an engine action token must fit."""
MAX_INLINE_BUTTONS: Final = 100
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_POLL_QUESTION_LENGTH: Final = 300
MAX_POLL_OPTION_LENGTH: Final = 100
POLL_OPTIONS_RANGE: Final = range(2, 13)
MAX_COMMANDS: Final = 100
MAX_COMMAND_DESCRIPTION_LENGTH: Final = 256
COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""A webhook's ``secret_token``: 1–256 characters of this alphabet."""

GLOBAL_MESSAGES_PER_SECOND: Final = 30
CHAT_BURST: Final = 3
CHAT_SECONDS_PER_MESSAGE: Final = 1.0
GROUP_MESSAGES_PER_MINUTE: Final = 20


@dataclass
class _TokenBucket:
    """``capacity`` messages at once, then one more every ``refill_seconds``."""

    capacity: float
    refill_seconds: float
    updated: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) / self.refill_seconds)
        self.updated = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) * self.refill_seconds

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1


class FloodControl:
    """Telegram's documented limits, as token buckets whose windows are multiplied by ``time_scale``.

    30 messages/s overall, 1 message/s per chat with a burst of 3, 20 messages/min per group
    (a bucket of 20 refilling one every 3 s). Only message-creating methods count, not edits.
    """

    def __init__(self, time_scale: float) -> None:
        self._scale = time_scale
        self._global = self._bucket(GLOBAL_MESSAGES_PER_SECOND, 1 / GLOBAL_MESSAGES_PER_SECOND)
        self._chats: dict[int, _TokenBucket] = {}
        self._groups: dict[int, _TokenBucket] = {}

    def _bucket(self, capacity: int, refill_seconds: float) -> _TokenBucket:
        return _TokenBucket(capacity, refill_seconds * self._scale, time.monotonic())

    def acquire(self, chat_id: int, is_group: bool) -> float:
        """Take a message slot and return 0, or take nothing and return the seconds to wait."""
        buckets = [
            self._global,
            self._chats.setdefault(chat_id, self._bucket(CHAT_BURST, CHAT_SECONDS_PER_MESSAGE)),
        ]
        if is_group:
            refill = 60 / GROUP_MESSAGES_PER_MINUTE
            buckets.append(self._groups.setdefault(chat_id, self._bucket(GROUP_MESSAGES_PER_MINUTE, refill)))
        now = time.monotonic()
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait == 0:
            for bucket in buckets:
                bucket.take(now)
        return wait
