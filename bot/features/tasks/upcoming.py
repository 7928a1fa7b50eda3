"""The open task rounds a member is offered, in order, with the query that reads their progress through them.

Every answer needs them (its transaction reads the member's progress for the next question), and they
are the same for every member of a space until a round opens or closes or an option is promoted. So the
rounds with their campaigns, and what the progress query takes from them, are kept per space as a
:class:`Plan`, checked against the very lists the round and promotion caches hold (a new read there is
a new list): a tap then builds only the member's own query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.catalog import Campaign
from bot.store.records import ProgressQuery, PromotedOption, RoundRecord

PLANS_KEPT = 4096  # spaces (and deep-linked campaigns) whose plans are kept; all dropped beyond


@dataclass(frozen=True, slots=True)
class Upcoming:
    """The open task rounds a member is offered, in order, and the query reading their progress through them."""

    rounds: tuple[tuple[RoundRecord, Campaign], ...]
    query: ProgressQuery


@dataclass(frozen=True, slots=True)
class Plan:
    """Open task rounds with their campaigns, in order, and the progress query's parts that are the same
    for every member (see the module)."""

    rounds: tuple[tuple[RoundRecord, Campaign], ...]
    round_ids: tuple[int, ...]
    quota_tasks: tuple[tuple[int, str], ...]  # (round id, task id) of the tasks with a quota: the query counts them
    condition_task_ids: tuple[str, ...]  # tasks whose answer decides who sees a later one

    @classmethod
    def of(cls, rounds: Sequence[tuple[RoundRecord, Campaign]]) -> Plan:
        conditions = frozenset().union(*(campaign.condition_task_ids for _, campaign in rounds))
        return cls(
            tuple(rounds),
            tuple(record.id for record, _ in rounds),
            tuple((record.id, task_id) for record, campaign in rounds for task_id in campaign.quota_task_ids),
            tuple(sorted(conditions)),
        )

    def query(self, space_id: int, user_id: int) -> ProgressQuery:
        """The query that reads one member's progress through these rounds."""
        return ProgressQuery(space_id, user_id, self.round_ids, self.quota_tasks, self.condition_task_ids)

    def upcoming(self, space_id: int, user_id: int) -> Upcoming:
        return Upcoming(self.rounds, self.query(space_id, user_id))


class Plans:
    """The plans of recent spaces, by space and deep-linked campaign (bounded), each with the lists of the
    open-rounds and promotions caches it was made from."""

    def __init__(self) -> None:
        self._plans: dict[tuple[int, str | None], tuple[list[RoundRecord], list[PromotedOption], Plan]] = {}

    def get(
        self, space_id: int, campaign_id: str | None, open_rounds: list[RoundRecord], promoted: list[PromotedOption]
    ) -> Plan | None:
        """The space's plan, when it was made from these very lists (the caches read nothing new since)."""
        kept = self._plans.get((space_id, campaign_id))
        return kept[2] if kept is not None and kept[0] is open_rounds and kept[1] is promoted else None

    def keep(
        self,
        space_id: int,
        campaign_id: str | None,
        open_rounds: list[RoundRecord],
        promoted: list[PromotedOption],
        plan: Plan,
    ) -> None:
        if len(self._plans) >= PLANS_KEPT:
            self._plans.clear()
        self._plans[(space_id, campaign_id)] = (open_rounds, promoted, plan)
