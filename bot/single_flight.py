"""One read in flight per key: whoever asks for the same thing meanwhile waits for that read's result.

The engine keeps what almost every tap needs (a space's open rounds, a space's community, the promoted
options) in caches that live a few seconds. When one runs out, every tap in flight misses it at the
same moment: a thousand members answering would read the same rows a thousand times, each read a
thread hop (about 0.18 ms of CPU on a small virtual machine), and those taps would be the slowest of
the run. With a :class:`SingleFlight` the first caller starts the read and the others await it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K]):
    """Reads in flight by key (the name is Go's ``singleflight``, which does the same for goroutines)."""

    def __init__(self) -> None:
        self._reading: dict[K, asyncio.Future[Any]] = {}

    async def run(self, key: K, read: Callable[[], Awaitable[T]], keep: Callable[[T], None] | None = None) -> T:
        """``read()``'s result, one read for every caller asking for ``key`` while it runs; ``keep`` gets
        the result as it lands (to cache it), unless :meth:`forget` dropped the key meanwhile.

        Shielded: a caller cancelled while waiting (a member's update timed out) leaves the read to the
        others; an exception reaches every caller that waited for it, and nothing is kept.
        """
        flight = self._reading.get(key)
        if flight is None:
            flight = asyncio.ensure_future(read())
            self._reading[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done, keep))  # runs before the callers wake
        return cast(T, await asyncio.shield(flight))  # one key, one kind of result

    def forget(self, which: Callable[[K], bool] = lambda key: True) -> None:
        """The data of the keys ``which`` selects (all by default) just changed here: a read in flight for
        them is joined no more and keeps nothing, so what is asked next is read after the change."""
        for key in [key for key in self._reading if which(key)]:
            del self._reading[key]

    def _landed(self, key: K, flight: asyncio.Future[Any], keep: Callable[[Any], None] | None) -> None:
        current = self._reading.get(key) is flight
        if current:
            del self._reading[key]
        if flight.cancelled():
            return
        failed = flight.exception()  # marked as seen: its callers had it, or were cancelled and want none
        if current and failed is None and keep is not None:
            keep(flight.result())
