"""The open task rounds of each space, cached briefly: almost every tap names one of them.

A round opened or closed by another process shows within :data:`ROUND_CACHE_SECONDS`; an answer to a
round closed meanwhile is still refused by the write that would record it. Campaigns marked
``auto_open`` get a standing round in a space on first use.

When the cache runs out, every tap in flight needs the same rows at once: such reads are shared
(:class:`~bot.single_flight.SingleFlight`).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from functools import partial

from bot.context import Services
from bot.single_flight import SingleFlight
from bot.store.records import NewRound, RoundRecord

ROUND_CACHE_SECONDS = 2.0


class OpenRounds:
    """Open task rounds per space, read through a short-lived cache this process invalidates itself."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._by_space: dict[int, tuple[float, list[RoundRecord]]] = {}
        self._space_of_round: dict[int, int] = {}  # the space each round kept here was read for
        self._reads: SingleFlight[tuple[int, Hashable]] = SingleFlight()  # by (space id, what)

    async def of_space(self, space_id: int) -> list[RoundRecord]:
        """Open task rounds in a space, opening the ``auto_open`` campaigns' rounds when none is."""
        cached = self.cached(space_id)
        if cached is not None:
            return cached
        keep = partial(self._keep, space_id)
        return await self._reads.run((space_id, "open"), lambda: self._read_open(space_id), keep)

    async def _read_open(self, space_id: int) -> list[RoundRecord]:
        """The read :meth:`of_space` shares, with the standing rounds it opens: a new space's first taps,
        arriving together, open them once."""
        store, catalog = self.services.store, self.services.catalog
        rounds = await store.rounds.open_in(space_id, "tasks")
        if not rounds:
            for campaign in catalog.campaigns.values():
                if campaign.auto_open:
                    await store.rounds.open(NewRound(space_id, "tasks", campaign.id), self.services.clock())
            rounds = await store.rounds.open_in(space_id, "tasks")
        return rounds

    def _keep(self, space_id: int, rounds: list[RoundRecord]) -> None:
        self._by_space[space_id] = (time.monotonic(), rounds)
        for record in rounds:
            self._space_of_round[record.id] = space_id

    def cached(self, space_id: int) -> list[RoundRecord] | None:
        """The space's open rounds if read within :data:`ROUND_CACHE_SECONDS`, else ``None``."""
        entry = self._by_space.get(space_id)
        if entry is not None and time.monotonic() - entry[0] < ROUND_CACHE_SECONDS:
            return entry[1]
        return None

    async def round(self, space_id: int, round_id: int) -> RoundRecord | None:
        """The round a button names: from the cache when it is open there (as for almost every tap), else read."""
        kept = self._kept(space_id, round_id)
        if kept is not None:
            return kept
        return await self._reads.run((space_id, round_id), lambda: self.services.store.rounds.round(round_id))

    def open_round(self, round_id: int) -> RoundRecord | None:
        """The round, when the rounds kept for its space (read within :data:`ROUND_CACHE_SECONDS`) hold it
        open: for what names a round but no space, such as a free-text form being opened."""
        space_id = self._space_of_round.get(round_id)
        return None if space_id is None else self._kept(space_id, round_id)

    def _kept(self, space_id: int, round_id: int) -> RoundRecord | None:
        """The round among the space's cached open rounds, if it is there."""
        for record in self.cached(space_id) or ():
            if record.id == round_id:
                return record
        return None

    def forget(self, space_id: int) -> None:
        """Drop a space's cached rounds (this process opened or closed one there); a read in flight is
        not joined any more and keeps nothing, so what is asked next is read after the change."""
        self._by_space.pop(space_id, None)
        self._reads.forget(lambda key: key[0] == space_id)

    def forget_everywhere(self) -> None:
        self._by_space.clear()
        self._reads.forget()
