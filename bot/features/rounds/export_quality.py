"""What an export adds for quality: labels as answers, the items' labels, each member's record, and flags.

Every answer of the export says which item it labels (``item``, ``None`` for a poll answer) and carries
``flags``: ``too_fast`` (a label given under ``quality.min_seconds``), ``straight_lining`` (a scale answer
of a member who straight-lined the round) and ``excluded`` (left out of the tallies and labels: missed
attention checks for poll answers, held back by gold accuracy for labels). The document's ``items`` and
``members`` come from the same analysis ``/results`` and ``/quality`` read, so the file agrees with both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.catalog import Campaign, Task, TaskKind
from bot.features.labelling.analysis import TOO_FAST, RoundLabels, accuracy_of, agreement_of
from bot.features.labelling.jobs import vote_label
from bot.features.rounds.screening import Screening, scale_tasks

HELD_BACK = "gold_accuracy"  # why a held-back member's labels are left out (``excluded_reason``)
EXPORT_LANGUAGE = "en"  # labels are exported in the catalog's English, like the answer keys

Whose = Callable[[Any], dict[str, Any]]  # a stored row → round, member (pseudonym) and task fields


@dataclass(frozen=True)
class RoundQuality:
    """What the export needs to flag a round's answers and describe its items and members."""

    campaign: Campaign | None
    labels: RoundLabels | None
    screening: Screening

    @property
    def scale_task_ids(self) -> frozenset[str]:
        return frozenset(task.id for task in scale_tasks(self.campaign)) if self.campaign else frozenset()

    def poll_flags(self, user_id: int, task_id: str, excluded: bool) -> list[str]:
        """A poll answer's flags: straight-lining on the scale questions, and whether it is left out."""
        flags = []
        if user_id in self.screening.straight_lining and task_id in self.scale_task_ids:
            flags.append("straight_lining")
        if excluded:
            flags.append("excluded")
        return flags

    def label_answer(self, row: Any, whose: Whose) -> dict[str, Any]:
        """One stored label as an export answer: the item's key and the label in words."""
        excluded = bool(row["excluded"])
        flags = [flag for flag in str(row["flags"]).split(";") if flag == TOO_FAST]
        return {
            "answer_id": None,
            **whose(row),
            "value": _label_value(self._task(row["task_id"]), row["value"]),
            "answered_at": row["created_at"],
            "excluded": excluded,
            "excluded_reason": HELD_BACK if excluded else None,
            "item": row["item_key"],
            "flags": [*flags, *(["excluded"] if excluded else [])],
        }

    def items(self) -> list[dict[str, Any]]:
        """Every item of the round's jobs with its label (the known answer for gold) and confidence."""
        if self.labels is None:
            return []
        return [
            {
                "task": job.task.id,
                "item": item.state.key,
                "status": item.state.status,
                "label": vote_label(job.task, item.label, EXPORT_LANGUAGE) if item.label is not None else None,
                "confidence": item.confidence,
                "answers": item.answers,
                "gold": item.gold,
            }
            for job in self.labels.jobs
            for item in job.items
        ]

    def members(self, user_ids: Iterable[int], pseudonym: Callable[[int], str]) -> list[dict[str, Any]]:
        """Each member who answered or labelled: gold reliability (the smoothed gold accuracy), agreement with
        settled items (both weigh their votes and decide whether they are held back), exclusion and flags."""
        records = self.labels.members if self.labels is not None else {}
        left_out = self.screening.left_out
        found = []
        for user_id in sorted(set(user_ids)):
            record = records.get(user_id)
            flags = [
                flag
                for flag, raised in (
                    ("too_fast", record is not None and record.too_fast > 0),
                    ("straight_lining", user_id in self.screening.straight_lining),
                    ("held_back", record is not None and record.excluded),
                    ("attention", user_id in left_out),
                )
                if raised
            ]
            found.append(
                {
                    "user": pseudonym(user_id),
                    "reliability": accuracy_of(record) if record is not None else None,
                    "gold_answers": record.evidence.gold_answers if record is not None else 0,
                    "agreement": agreement_of(record) if record is not None else None,
                    "excluded": "held_back" in flags or "attention" in flags,
                    "flags": flags,
                }
            )
        return found

    def _task(self, task_id: str) -> Task | None:
        return self.campaign.task(task_id) if self.campaign is not None else None


def _label_value(task: Task | None, value: str) -> Any:
    """A stored label in words: the option's English text, yes/no/other, or the typed text."""
    if task is None or task.kind == TaskKind.FREE_TEXT:
        return json.loads(value)
    return vote_label(task, value, EXPORT_LANGUAGE)
