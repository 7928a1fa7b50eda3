"""Per-member rate limits: token buckets in memory, bounded in size.

A flood from one member is refused with a friendly "slow down" before it reaches the database, so it
neither slows the others nor grows memory: at most ``max_keys`` buckets are kept (the least recently
seen are forgotten, which only ever lets a forgotten member start again with a full bucket).
Correctness never depends on these limits (the database guards every invariant), so a per-process
bucket is enough even when several processes share the load.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RateLimiter:
    """``burst`` actions at once, refilled at ``per_second``; ``allow`` spends one when it can."""

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
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        tokens, then = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)
