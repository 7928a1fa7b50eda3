"""In a burst of taps, the answers go first: a tap's follow-ups wait (a little) for the taps before it.

Why: a platform shows the member a spinner until a tap is answered and gives up on the answer after a
few seconds (Telegram's callback answer, Discord's 3-second acknowledgement), while the edited question
and the next one can come a moment later. Without an order, every tap's answer would queue behind the
earlier taps' follow-ups (two or three requests each) for the bot's time and its connections.

Only the *earlier* taps are waited for, and at most :data:`FOLLOW_UP_PATIENCE`: a member in a steady
stream of taps would otherwise wait the whole patience for taps that came after theirs. Platform-neutral:
the Telegram and Discord adapters each keep one :class:`AnswerOrder`.
"""

from __future__ import annotations

import asyncio
import itertools

FOLLOW_UP_PATIENCE = 1.0  # seconds a tap's follow-ups wait for the earlier taps' answers


class Turn:
    """One tap's place in the order: mark it :meth:`answered`, then :meth:`after_earlier` before its
    follow-ups.

    A turn keeps only its number: the taps before it are those still unanswered with a lower number,
    looked up when (and only if) it has follow-ups. Copying the unanswered taps at every arrival cost
    each tap as many steps as there were taps in flight (200 in the closed-loop benchmark).
    """

    def __init__(self, order: AnswerOrder, number: int) -> None:
        self._order = order
        self._number = number
        self._answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waited = False
        order._unanswered[number] = self._answer

    def answered(self) -> None:
        """The tap's own answer went out (or failed): later taps need not wait for it any more."""
        self._order._unanswered.pop(self._number, None)
        if not self._answer.done():
            self._answer.set_result(None)

    async def after_earlier(self) -> None:
        """Wait up to :data:`FOLLOW_UP_PATIENCE` until the taps that came before this one were answered
        (once: a second call returns at once)."""
        if self._waited:
            return
        self._waited = True
        pending = [future for number, future in self._order._unanswered.items() if number < self._number]
        if pending:
            await asyncio.wait(pending, timeout=FOLLOW_UP_PATIENCE)


class AnswerOrder:
    """The taps being handled whose answer has not gone out yet, by arrival (dicts keep insertion order)."""

    def __init__(self) -> None:
        self._unanswered: dict[int, asyncio.Future[None]] = {}
        self._arrivals = itertools.count()

    def arrived(self) -> Turn:
        """A new tap: its turn, behind every tap still unanswered."""
        return Turn(self, next(self._arrivals))
