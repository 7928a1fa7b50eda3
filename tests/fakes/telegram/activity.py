"""Whether the bot is still busy, so a test can wait for its handlers to finish instead of sleeping.

Why: PTB handles updates concurrently and a handler's replies arrive after the update was confirmed, so
"consumed" means confirmed *and* quiet: no request in flight and none finished within ``QUIET_PERIOD``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Final

QUIET_PERIOD: Final = 0.2
"""Seconds without bot activity after which ``wait_until_consumed`` deems handlers finished (a handler's
first request can take longer than 0.1 s on a busy CI machine: a first contact writes the member, the
welcome bonus and the question's progress before it replies)."""


class Activity:
    """The bot's requests in flight and the moment anything last happened between bot and fake."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._last = time.monotonic()

    def touch(self) -> None:
        """Something happened (an update was queued or confirmed): restart the quiet period."""
        self._last = time.monotonic()

    @contextlib.contextmanager
    def request(self, method: str) -> Iterator[None]:
        """Track the bot's requests (not its long polls, which wait by design) as busy time."""
        if method == "getUpdates":
            yield
            return
        self.in_flight += 1
        self.touch()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.touch()

    def quiet(self) -> bool:
        """No request in flight and nothing happened for ``QUIET_PERIOD`` seconds."""
        return self.in_flight == 0 and time.monotonic() - self._last >= QUIET_PERIOD
