"""Tallying a round's answers: counts and percentages, rating means, NPS, text samples.

Pure functions over (task, stored values): the same tally feeds the results text, the chart and the
tests, so what people read and what they see can never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.catalog import Task, TaskKind, text_in
from bot.tasks import YES_NO_OTHER
from bot.texts import t

TEXT_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class TaskTally:
    """What a round's answers to one task add up to."""

    task: Task
    answers: int
    labels: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    mean: float | None = None
    nps: int | None = None
    nps_split: tuple[int, int, int] = (0, 0, 0)
    samples: tuple[str, ...] = field(default_factory=tuple)

    def percent(self, index: int) -> int:
        base = self.answers or 1
        return round(100 * self.counts[index] / base)


def tally_task(task: Task, values: Iterable[str], language: str) -> TaskTally:
    """Tally one task's stored values (JSON strings, as recorded)."""
    decoded = [json.loads(value) for value in values]
    answers = len(decoded)
    if task.kind in (TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL, TaskKind.MULTI_CHOICE):
        picks = Counter(index for value in decoded for index in (value if isinstance(value, list) else [value]))
        labels = tuple(text_in(option, language) for option in task.options)
        return TaskTally(task, answers, labels, tuple(picks.get(i, 0) for i in range(len(labels))))
    if task.kind == TaskKind.YES_NO_OTHER:
        keys = ["other" if isinstance(value, dict) else value for value in decoded]
        counted = Counter(keys)
        others = tuple(value["other"] for value in decoded if isinstance(value, dict))[-TEXT_SAMPLES:]
        labels = tuple(str(t(f"choice.{key}", language)) for key in YES_NO_OTHER)
        return TaskTally(task, answers, labels, tuple(counted.get(key, 0) for key in YES_NO_OTHER), samples=others)
    if task.kind == TaskKind.RATING:
        counted = Counter(decoded)
        mean = sum(decoded) / answers if answers else None
        return TaskTally(
            task,
            answers,
            tuple(str(n) for n in range(1, 6)),
            tuple(counted.get(n, 0) for n in range(1, 6)),
            mean=mean,
        )
    if task.kind == TaskKind.NPS:
        counted = Counter(decoded)
        promoters = sum(1 for score in decoded if score >= 9)
        detractors = sum(1 for score in decoded if score <= 6)
        passives = answers - promoters - detractors
        nps = round(100 * (promoters - detractors) / answers) if answers else None
        return TaskTally(
            task,
            answers,
            tuple(str(n) for n in range(11)),
            tuple(counted.get(n, 0) for n in range(11)),
            nps=nps,
            nps_split=(detractors, passives, promoters),
        )
    return TaskTally(task, answers, samples=tuple(str(value) for value in decoded[-TEXT_SAMPLES:]))
