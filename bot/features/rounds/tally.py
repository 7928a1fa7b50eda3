"""Tallying a round's answers: counts and percentages, rating means, NPS, text samples, 95 % intervals.

Pure functions over (task, stored values): the same tally feeds the results text, the chart, the export
and the tests, so what people read, see and download can never disagree. The intervals come from
:mod:`bot.features.rounds.confidence`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.catalog import Task, TaskKind, text_in
from bot.features.rounds.confidence import Interval, leader_tied, margin_of_error, mean_interval, nps_interval, wilson
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
    intervals: tuple[Interval, ...] = ()  # each count's share of the answers, 0–1 (choices only)
    mean_interval: Interval | None = None
    nps_interval: Interval | None = None
    too_few: bool = False  # fewer answers than ``results.min_answers``: the numbers are not worth reading

    @property
    def tie(self) -> tuple[int, int] | None:
        """The leading option and the runner-up when their intervals overlap (choices only)."""
        return leader_tied(self.counts, self.intervals) if self.intervals else None

    @property
    def margin(self) -> float:
        """The margin of error: the widest half-width, in percentage points for shares and NPS, in
        points of the scale for a rating's mean."""
        if self.intervals:
            return 100 * margin_of_error(self.intervals)
        bounds = [interval for interval in (self.mean_interval, self.nps_interval) if interval is not None]
        return margin_of_error(bounds)

    def percent(self, index: int) -> int:
        base = self.answers or 1
        return round(100 * self.counts[index] / base)

    def skip_percent(self) -> int:
        """The share of members asked who skipped: a high one says the question wants rewriting."""
        asked = self.answers + self.skips
        return round(100 * self.skips / asked) if asked else 0


def tally_task(
    task: Task,
    counted: Iterable[tuple[str, int]],
    language: str,
    samples: Sequence[str] = (),
    skips: int = 0,
    min_answers: int = 0,
) -> TaskTally:
    """Tally one task from its distinct stored values (JSON, as recorded) and how often each occurs.

    The store groups the answers (``GROUP BY value``), so a round of a million answers is a few dozen
    rows here; ``samples`` are the latest typed answers, for the kinds that have text; ``skips`` how
    many members passed on it; below ``min_answers`` answers the tally is marked ``too_few``.
    """
    tally = _tally_answers(task, counted, language, samples)
    return replace(tally, skips=skips, too_few=tally.answers < min_answers)


def _tally_answers(task: Task, counted: Iterable[tuple[str, int]], language: str, samples: Sequence[str]) -> TaskTally:
    pairs = [(json.loads(value), count) for value, count in counted]
    answers = sum(count for _, count in pairs)
    if task.kind in (TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL, TaskKind.MULTI_CHOICE):
        picks: Counter[int] = Counter()
        for value, count in pairs:
            for index in value if isinstance(value, list) else [value]:
                picks[index] += count
        labels = tuple(text_in(option, language) for option in task.options)
        return _with_shares(TaskTally(task, answers, labels, tuple(picks.get(i, 0) for i in range(len(labels)))))
    if task.kind == TaskKind.YES_NO_OTHER:
        keyed: Counter[str] = Counter()
        for value, count in pairs:
            keyed["other" if isinstance(value, dict) else value] += count
        labels = tuple(str(t(f"choice.{key}", language)) for key in YES_NO_OTHER)
        return _with_shares(
            TaskTally(task, answers, labels, tuple(keyed.get(key, 0) for key in YES_NO_OTHER), samples=tuple(samples))
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
            mean_interval=mean_interval(scores, (1, 5)),
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
            nps_interval=nps_interval(detractors, passives, promoters),
        )


def _with_shares(tally: TaskTally) -> TaskTally:
    """A choice tally with each count's Wilson interval (a member may pick several: each is a share)."""
    return replace(tally, intervals=tuple(wilson(count, tally.answers) for count in tally.counts))
