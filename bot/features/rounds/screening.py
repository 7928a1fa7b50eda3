"""Which members of a round answered its polls carelessly: straight-lining and missed attention checks.

Straight-lining is tapping the same place on every scale question without reading them: a member whose
answers to the campaign's rating and NPS questions, taken in catalog order, hold the same position on
the scale (the first star and a 0 are both the first button) ``RUN`` or more times in a row. A question
the member skipped or never reached breaks a run. It is a flag for moderators and the export, not an
exclusion: five honest fours happen. Missed attention checks are counted per member; missing
``FAILURES`` of them leaves the member's answers out (:mod:`bot.features.rounds.attention`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.catalog import Campaign, Task, TaskKind
from bot.context import Services
from bot.features.labelling.aggregation import straight_lining
from bot.features.rounds.attention import FAILURES, attention_checks
from bot.features.tasks.kinds import NPS_RANGE, RATING_RANGE

RUN = 5  # equal positions in a row that make a straight line
SCALE_KINDS = frozenset({TaskKind.RATING, TaskKind.NPS})


@dataclass(frozen=True)
class Screening:
    """A round's careless answering, by member id."""

    straight_lining: frozenset[int] = frozenset()
    missed_checks: dict[int, int] = field(default_factory=dict)

    @property
    def left_out(self) -> frozenset[int]:
        """Members whose answers the attention checks leave out of the tallies."""
        return frozenset(user_id for user_id, missed in self.missed_checks.items() if missed >= FAILURES)


def scale_tasks(campaign: Campaign) -> list[Task]:
    """The campaign's rating and NPS questions, in catalog order."""
    return [task for task in campaign.tasks if task.kind in SCALE_KINDS]


def position(task: Task, value: str) -> int:
    """Where on its scale a stored rating or NPS answer sits: 0 for the first button."""
    scale = RATING_RANGE if task.kind == TaskKind.RATING else NPS_RANGE
    return scale.index(int(json.loads(value)))


async def screen_round(services: Services, round_id: int, campaign: Campaign) -> Screening:
    """Who straight-lined the round's scale questions and how many attention checks each member missed."""
    queries = services.store.rounds
    scales = scale_tasks(campaign)
    ids = [task.id for task in scales]
    liners: set[int] = set()
    after = 0
    while page := await queries.answers_to(round_id, ids, after):  # a page of whole members at a time
        answered: dict[int, dict[str, str]] = {}
        for user_id, task_id, value in page:
            answered.setdefault(user_id, {})[task_id] = value
        liners.update(
            user_id
            for user_id, values in answered.items()
            if straight_lining(
                [position(task, values[task.id]) if task.id in values else None for task in scales], run=RUN
            )
        )
        after = page[-1][0]
    return Screening(frozenset(liners), await queries.missed_checks(round_id, attention_checks(campaign)))
