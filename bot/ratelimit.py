"""Per-member rate limits: token buckets in memory, bounded in size.

A flood from one member is refused with a friendly "slow down" before it reaches the database, so it
neither slows the others nor grows memory: at most ``max_keys`` buckets are kept (the least recently
seen are forgotten, which only ever lets a forgotten member start again with a full bucket).
Correctness never depends on these limits (the database guards every invariant), so a per-process
bucket is enough even when several processes share the load.

A refusal is worth telling once: on a chat platform every "slow down" is itself a message, and
Telegram lets a bot send about one a second into a chat, so a flooder answered every time would queue
hundreds of them. :meth:`RateLimiter.admit` therefore tells the first refusal of a window (the time an
empty bucket takes to fill again) apart from the rest, which the adapters keep silent.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Admission(enum.Enum):
    """What the limiter says to one action."""

    ALLOWED = "allowed"
    REFUSED = "refused"  # the first refusal of the window: tell the member to slow down
    REFUSED_QUIETLY = "refused_quietly"  # told already within the window: say nothing more


class RateLimiter:
    """``burst`` actions at once, refilled at ``per_second``; ``admit`` spends one when it can.

    The notice window is ``burst / per_second``: a member refused now is not told again before a bucket
    emptied now could have filled up again, whatever they send in between.
    """

    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._notice_window = burst / per_second
        self._max_keys = max_keys
        self._clock = clock
        # key -> (tokens, when they were counted, when a refusal was last told or None)
        self._buckets: OrderedDict[Hashable, tuple[float, float, float | None]] = OrderedDict()

    def admit(self, key: Hashable) -> Admission:
        """Spend a token for ``key`` if there is one; else say whether this refusal is news."""
        now = self._clock()
        tokens, then, told = self._buckets.pop(key, (self._burst, now, None))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            admission, tokens = Admission.ALLOWED, tokens - 1.0
        elif told is None or now - told >= self._notice_window:
            admission, told = Admission.REFUSED, now
        else:
            admission = Admission.REFUSED_QUIETLY
        self._buckets[key] = (tokens, now, told)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return admission

    def allow(self, key: Hashable) -> bool:
        """Whether ``key`` may act now (spending a token), for callers that word every refusal alike."""
        return self.admit(key) is Admission.ALLOWED

    def __len__(self) -> int:
        return len(self._buckets)
