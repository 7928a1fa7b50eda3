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

SILENT_HANDLER_PERIOD: Final = 1.0
"""Seconds ``wait_until_consumed`` gives a handler between its update's confirmation and its first request.

PTB confirms updates when it asks for the next ones, before its handlers ran: on a loaded 2-core CI machine
a handler's first request came more than ``QUIET_PERIOD`` after that, and a test read the chat too early. An
update that gets no reply at all (ignored, or handled quietly) costs this long; every other wait ends
``QUIET_PERIOD`` after the bot's last request."""


class Activity:
    """The bot's requests in flight and the moment anything last happened between bot and fake."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._last = time.monotonic()
        self._reply_due = False  # updates were confirmed and the bot has made no request since

    def touch(self) -> None:
        """Something happened (an update was queued): restart the quiet period."""
        self._last = time.monotonic()

    def handed_over(self) -> None:
        """The bot confirmed updates: its handlers run now, and their first request is still to come."""
        self._reply_due = True
        self.touch()

    @contextlib.contextmanager
    def request(self, method: str) -> Iterator[None]:
        """Track the bot's requests (not its long polls, which wait by design) as busy time."""
        if method == "getUpdates":
            yield
            return
        self.in_flight += 1
        self._reply_due = False
        self.touch()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.touch()

    def quiet(self) -> bool:
        """No request in flight and nothing happened for ``QUIET_PERIOD`` seconds (``SILENT_HANDLER_PERIOD``
        when the bot confirmed updates and has not made a request since)."""
        period = SILENT_HANDLER_PERIOD if self._reply_due else QUIET_PERIOD
        return self.in_flight == 0 and time.monotonic() - self._last >= period
