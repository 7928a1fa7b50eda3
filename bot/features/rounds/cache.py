"""The open task rounds of each space, cached briefly: almost every tap names one of them.

A round opened or closed by another process shows within :data:`ROUND_CACHE_SECONDS`; an answer to a
round closed meanwhile is still refused by the write that would record it. Campaigns marked
``auto_open`` get a standing round in a space on first use.
"""

from __future__ import annotations

import time

from bot.context import Services
from bot.store.records import NewRound, RoundRecord

ROUND_CACHE_SECONDS = 2.0


class OpenRounds:
    """Open task rounds per space, read through a short-lived cache this process invalidates itself."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._by_space: dict[int, tuple[float, list[RoundRecord]]] = {}

    async def of_space(self, space_id: int) -> list[RoundRecord]:
        """Open task rounds in a space, opening the ``auto_open`` campaigns' rounds when none is."""
        cached = self.cached(space_id)
        if cached is not None:
            return cached
        store, catalog = self.services.store, self.services.catalog
        rounds = await store.rounds.open_in(space_id, "tasks")
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
        return await self.services.store.rounds.round(round_id)

    def forget(self, space_id: int) -> None:
        """Drop a space's cached rounds (this process opened or closed one there)."""
        self._by_space.pop(space_id, None)

    def forget_everywhere(self) -> None:
        self._by_space.clear()
