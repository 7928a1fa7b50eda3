"""The open task rounds of each space, cached briefly: almost every tap names one of them.

A round opened or closed by another process shows within :data:`ROUND_CACHE_SECONDS`; an answer to a
round closed meanwhile is still refused by the write that would record it. Campaigns marked
``auto_open`` get a standing round in a space on first use.

When the cache runs out, every tap in flight needs the same rows at once (a thousand members answering:
a thousand identical reads every two seconds, each a thread hop, and the slowest taps of the run). Such
reads are shared: the first starts it, the others wait for its result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from bot.context import Services
from bot.store.records import NewRound, RoundRecord

T = TypeVar("T")

ROUND_CACHE_SECONDS = 2.0


class OpenRounds:
    """Open task rounds per space, read through a short-lived cache this process invalidates itself."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._by_space: dict[int, tuple[float, list[RoundRecord]]] = {}
        self._reading: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}

    async def of_space(self, space_id: int) -> list[RoundRecord]:
        """Open task rounds in a space, opening the ``auto_open`` campaigns' rounds when none is."""
        cached = self.cached(space_id)
        if cached is not None:
            return cached
        store, catalog = self.services.store, self.services.catalog
        rounds = await self._shared(space_id, "open", lambda: store.rounds.open_in(space_id, "tasks"))
        if not rounds:
            for campaign in catalog.campaigns.values():
                if campaign.auto_open:
                    await store.rounds.open(NewRound(space_id, "tasks", campaign.id), self.services.clock())
            rounds = await store.rounds.open_in(space_id, "tasks")
        self._by_space[space_id] = (time.monotonic(), rounds)
        return rounds

    def cached(self, space_id: int) -> list[RoundRecord] | None:
        """The space's open rounds if read within :data:`ROUND_CACHE_SECONDS`, else ``None``."""
        entry = self._by_space.get(space_id)
        if entry is not None and time.monotonic() - entry[0] < ROUND_CACHE_SECONDS:
            return entry[1]
        return None

    async def round(self, space_id: int, round_id: int) -> RoundRecord | None:
        """The round a button names: from the cache when it is open there (as for almost every tap), else read."""
        for record in self.cached(space_id) or ():
            if record.id == round_id:
                return record
        return await self._shared(space_id, round_id, lambda: self.services.store.rounds.round(round_id))

    def forget(self, space_id: int) -> None:
        """Drop a space's cached rounds (this process opened or closed one there); a read in flight is
        not joined any more, so what is asked next is read after the change."""
        self._by_space.pop(space_id, None)
        for key in [key for key in self._reading if key[0] == space_id]:
            del self._reading[key]

    def forget_everywhere(self) -> None:
        self._by_space.clear()
        self._reading.clear()

    async def _shared(self, space_id: int, what: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``'s result, one read for every caller asking for the same ``what`` meanwhile.

        Shielded: a caller cancelled while waiting (a member's update timed out) leaves the read to the
        others; an exception reaches every caller that waited for it.
        """
        key = (space_id, what)
        flight = self._reading.get(key)
        if flight is None:
            flight = asyncio.ensure_future(read())
            self._reading[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return cast(T, await asyncio.shield(flight))  # the key names what was read

    def _landed(self, key: tuple[int, Hashable], flight: asyncio.Future[Any]) -> None:
        if self._reading.get(key) is flight:
            del self._reading[key]
        if not flight.cancelled():
            flight.exception()  # marked as seen: its callers had it, or were cancelled and want none
