"""A round's results as the dashboard's tables: rows read off the tallies ``/results`` is built from.

The numbers come from :func:`bot.features.rounds.results.round_tallies` (counts, Wilson intervals, rating
means and NPS with their intervals); this module only decides what a table row shows, rounding shares
and intervals to whole percent as the chat's results text does, so a page and ``/results`` agree. It also
reads the page's filter (platform, space, language, days) from the query string: the same
:class:`~bot.store.records.AnswerFilter` then narrows the tallies, the chart and both exports in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from adapters.dashboard.params import day
from bot.catalog import Campaign, Task, TaskKind, text_in
from bot.context import Services
from bot.features.rounds.attention import attention_checks
from bot.features.rounds.tally import TaskTally
from bot.features.rounds.themes import THEMED_INLINE, RoundThemes, TaskThemes
from bot.store.dashboard_views_sql import SpaceRow
from bot.store.records import AnswerFilter, AttentionChecks, RoundRecord

TEXTS_READ = 1000  # the latest typed answers per question (of those the filter selects) the page searches


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
class ThemeGroup:
    """A question's typed answers under one theme (``theme`` empty: not in a theme yet)."""

    theme: str
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TypedQuestion:
    """A free-text question's answers on the page, grouped by theme where themes exist."""

    prompt: str
    groups: tuple[ThemeGroup, ...]


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
    services: Services,
    themes: RoundThemes,
    record: RoundRecord,
    campaign: Campaign,
    language: str,
    search: str,
    where: AnswerFilter,
) -> list[TypedQuestion]:
    """The latest free-text answers the filter selects (of members whose answers count), those containing
    ``search`` (any case) when it is given, grouped under the theme ``/results`` lists them under (the
    same cached clustering), largest theme first, answers in no theme last.

    At most :data:`TEXTS_READ` answers per question are read, newest ones, so the page costs the same
    whatever the round's size; the search runs over those in Python, needing no SQL pattern.
    """
    checks = attention_checks(campaign)
    needle = search.casefold()
    found = []
    for task in campaign.tasks:
        if task.kind != TaskKind.FREE_TEXT or task.is_job:
            continue
        stored = await services.store.rounds.latest_typed(record.id, task.id, False, TEXTS_READ, checks, where)
        texts = [(answer_id, str(json.loads(value))) for answer_id, value in reversed(stored)]
        matching = [(answer_id, text) for answer_id, text in texts if needle in text.casefold()]
        if not matching:
            continue
        theme_of = await _themes_of(services, themes, record, task, checks)
        grouped: dict[str, list[str]] = {}
        for answer_id, text in matching:
            grouped.setdefault(theme_of.name_of(answer_id) or "", []).append(text)
        ordered = sorted(grouped.items(), key=lambda item: (item[0] == "", -len(item[1])))
        groups = tuple(ThemeGroup(theme, tuple(answers)) for theme, answers in ordered)
        found.append(TypedQuestion(text_in(task.prompt, language), groups))
    return found


async def _themes_of(
    services: Services, themes: RoundThemes, record: RoundRecord, task: Task, checks: AttentionChecks
) -> TaskThemes:
    """Each typed answer's theme name: clustered now for a task of up to :data:`THEMED_INLINE` answers
    (as ``/results`` does), else what the last clustering found while a fresh one runs in the background,
    so a page over a large round never reads every answer nor waits for scikit-learn."""
    closed = not record.is_open
    if await services.store.dashboard_views.answers_to(record.id, task.id) <= THEMED_INLINE:
        return await themes.of_task(record.id, task, closed, checks)
    themes.warm(record.id, task, closed, checks)
    return themes.known(record.id, task.id)


def answer_filter(
    query: Mapping[str, str], spaces: Sequence[SpaceRow], languages: Sequence[str], default_language: str
) -> AnswerFilter:
    """The filter a round page's query string asks for (``platform``, ``space``, ``language``, ``since``,
    ``until``): a value the community does not have, or a malformed date, filters nothing, so a hand-edited
    URL shows the round rather than an error."""
    platform = query.get("platform", "")
    space = query.get("space", "")
    language = query.get("language", "")
    return AnswerFilter(
        platform=platform if platform in {row.platform for row in spaces} else None,
        space_id=int(space) if space.isdigit() and int(space) in {row.id for row in spaces} else None,
        language=language if language in languages else None,
        since=day(query.get("since", "")),
        until=day(query.get("until", "")),
        default_language=default_language,
    )


def filter_query(where: AnswerFilter) -> str:
    """The query string of a filter (for the export links and the chart), empty when it filters nothing."""
    values = {
        "platform": where.platform,
        "space": where.space_id,
        "language": where.language,
        "since": where.since.isoformat() if where.since else None,
        "until": where.until.isoformat() if where.until else None,
    }
    return urlencode({name: value for name, value in values.items() if value is not None})
