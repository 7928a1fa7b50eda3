"""A round's results as the dashboard's tables: rows read off the tallies ``/results`` is built from.

The numbers come from :func:`bot.features.rounds.results.round_tallies` (counts, Wilson intervals, rating
means and NPS with their intervals); this module only decides what a table row shows, rounding shares
and intervals to whole percent as the chat's results text does, so a page and ``/results`` agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.catalog import Campaign, TaskKind, text_in
from bot.context import Services
from bot.features.rounds.attention import attention_checks
from bot.features.rounds.tally import TaskTally

TEXTS_READ = 1000  # the latest typed answers per question the page lists and searches


@dataclass(frozen=True, slots=True)
class OptionRow:
    """One option: its count, its share of the answers and, when worth reading, its 95 % interval (%)."""

    label: str
    count: int
    percent: int
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True, slots=True)
class QuestionTable:
    """One question's results: n, skips, its options and its summary (a mean or an NPS, with intervals)."""

    prompt: str
    answers: int
    skips: int
    skip_percent: int
    too_few: bool
    options: tuple[OptionRow, ...]
    summary_kind: str = ""  # "mean" or "nps": which label the summary gets
    summary: str | None = None  # "4.20" or "+35"
    summary_range: str | None = None  # "3.8–4.6" or "+12 to +58", left out when too few answered


@dataclass(frozen=True, slots=True)
class TypedAnswer:
    prompt: str
    text: str


def question_tables(tallies: list[TaskTally], language: str, nps_labels: tuple[str, ...]) -> list[QuestionTable]:
    """A table per poll question; free-text questions are listed with their answers instead."""
    return [_table(tally, language, nps_labels) for tally in tallies if tally.task.kind != TaskKind.FREE_TEXT]


def _table(tally: TaskTally, language: str, nps_labels: tuple[str, ...]) -> QuestionTable:
    sure = not tally.too_few
    kind, summary, summary_range = "", None, None
    labels: tuple[str, ...] = tally.labels
    counts: tuple[int, ...] = tally.counts
    if tally.nps is not None:
        kind = "nps"
        labels, counts = nps_labels, tally.nps_split
        summary = f"{tally.nps:+d}"
        if sure and tally.nps_interval is not None:
            summary_range = f"{round(tally.nps_interval.low):+d} – {round(tally.nps_interval.high):+d}"
    elif tally.mean is not None:
        kind = "mean"
        summary = f"{tally.mean:.2f}"
        if sure and tally.mean_interval is not None:
            summary_range = f"{tally.mean_interval.low:.1f} – {tally.mean_interval.high:.1f}"
    total = tally.answers or 1
    shown = tally.intervals if sure else ()
    options = tuple(
        OptionRow(
            label,
            count,
            round(100 * count / total),
            round(100 * shown[index].low) if shown else None,
            round(100 * shown[index].high) if shown else None,
        )
        for index, (label, count) in enumerate(zip(labels, counts, strict=True))
    )
    return QuestionTable(
        text_in(tally.task.prompt, language),
        tally.answers,
        tally.skips,
        tally.skip_percent(),
        tally.too_few,
        options,
        kind,
        summary,
        summary_range,
    )


async def typed_answers(
    services: Services, round_id: int, campaign: Campaign, language: str, search: str
) -> list[TypedAnswer]:
    """The free-text answers of members whose answers count, latest first, those containing ``search``
    (any case) when it is given: read whole and filtered here, so the search needs no SQL pattern."""
    checks = attention_checks(campaign)
    needle = search.casefold()
    found = []
    for task in campaign.tasks:
        if task.kind != TaskKind.FREE_TEXT or task.is_job:
            continue
        stored = await services.store.rounds.latest_texts(round_id, task.id, False, TEXTS_READ, checks)
        prompt = text_in(task.prompt, language)
        texts = (str(json.loads(value)) for value in reversed(stored))
        found += [TypedAnswer(prompt, text) for text in texts if needle in text.casefold()]
    return found
