"""Tallying a round's answers: counts and percentages, rating means, NPS, text samples.

Pure functions over (task, stored values): the same tally feeds the results text, the chart and the
tests, so what people read and what they see can never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.catalog import Task, TaskKind, text_in
from bot.features.tasks.kinds import YES_NO_OTHER
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
    skips: int = 0  # members who passed on the task (and did not answer it after all)

    def percent(self, index: int) -> int:
        base = self.answers or 1
        return round(100 * self.counts[index] / base)

    def skip_percent(self) -> int:
        """The share of members asked who skipped: a high one says the question wants rewriting."""
        asked = self.answers + self.skips
        return round(100 * self.skips / asked) if asked else 0


def tally_task(
    task: Task, counted: Iterable[tuple[str, int]], language: str, samples: Sequence[str] = (), skips: int = 0
) -> TaskTally:
    """Tally one task from its distinct stored values (JSON, as recorded) and how often each occurs.

    The store groups the answers (``GROUP BY value``), so a round of a million answers is a few dozen
    rows here; ``samples`` are the latest typed answers, for the kinds that have text; ``skips`` how
    many members passed on it.
    """
    return replace(_tally_answers(task, counted, language, samples), skips=skips)


def _tally_answers(task: Task, counted: Iterable[tuple[str, int]], language: str, samples: Sequence[str]) -> TaskTally:
    pairs = [(json.loads(value), count) for value, count in counted]
    answers = sum(count for _, count in pairs)
    if task.kind in (TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL, TaskKind.MULTI_CHOICE):
        picks: Counter[int] = Counter()
        for value, count in pairs:
            for index in value if isinstance(value, list) else [value]:
                picks[index] += count
        labels = tuple(text_in(option, language) for option in task.options)
        return TaskTally(task, answers, labels, tuple(picks.get(i, 0) for i in range(len(labels))))
    if task.kind == TaskKind.YES_NO_OTHER:
        keyed: Counter[str] = Counter()
        for value, count in pairs:
            keyed["other" if isinstance(value, dict) else value] += count
        labels = tuple(str(t(f"choice.{key}", language)) for key in YES_NO_OTHER)
        return TaskTally(
            task, answers, labels, tuple(keyed.get(key, 0) for key in YES_NO_OTHER), samples=tuple(samples)
        )
    if task.kind not in (TaskKind.RATING, TaskKind.NPS):
        return TaskTally(task, answers, samples=tuple(samples))
    scores: Counter[int] = Counter()
    for value, count in pairs:
        scores[int(value)] += count
    if task.kind == TaskKind.RATING:
        mean = sum(score * count for score, count in scores.items()) / answers if answers else None
        return TaskTally(
            task,
            answers,
            tuple(str(n) for n in range(1, 6)),
            tuple(scores.get(n, 0) for n in range(1, 6)),
            mean=mean,
        )
    if task.kind == TaskKind.NPS:
        promoters = sum(count for score, count in scores.items() if score >= 9)
        detractors = sum(count for score, count in scores.items() if score <= 6)
        passives = answers - promoters - detractors
        nps = round(100 * (promoters - detractors) / answers) if answers else None
        return TaskTally(
            task,
            answers,
            tuple(str(n) for n in range(11)),
            tuple(scores.get(n, 0) for n in range(11)),
            nps=nps,
            nps_split=(detractors, passives, promoters),
        )
