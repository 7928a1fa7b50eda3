"""Result charts as PNG: a bar chart per choice or rating task, the NPS split.

Choice bars carry error bars: each share's 95 % Wilson interval as counts (``share × n``), the same
interval the results text prints, left off when there are too few answers to tell.

``chart_series`` decides *what* is drawn (tested directly); ``render_png`` only draws it, on a bare
``Figure`` (no pyplot, so no global state and no GUI backend), in a worker thread, so drawing never
blocks the event loop. matplotlib itself is imported the first time a chart is drawn: a bot that has
not closed a round yet does not pay its start-up time and memory.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from bot.catalog import TaskKind
from bot.features.rounds.tally import TaskTally

_MAX_LABEL = 18
_BAR = "#c0703a"
_NPS_COLOURS = ("#d9534f", "#f0ad4e", "#5cb85c")


@dataclass(frozen=True, slots=True)
class Series:
    """One chart: a title and its bars."""

    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    colours: tuple[str, ...] = ()
    errors: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # below and above each bar


def chart_series(tallies: list[TaskTally], nps_labels: tuple[str, str, str], titles: dict[str, str]) -> list[Series]:
    """The charts worth drawing for a round: choices and ratings as bars, NPS as its three groups."""
    series: list[Series] = []
    for tally in tallies:
        if not tally.answers:
            continue
        title = titles.get(tally.task.id, tally.task.id)
        if tally.task.kind == TaskKind.NPS:
            series.append(Series(title, nps_labels, tally.nps_split, _NPS_COLOURS))
        elif tally.counts:
            labels = tuple(
                label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…" for label in tally.labels
            )
            series.append(Series(title, labels, tally.counts, errors=_error_bars(tally)))
    return series


def _error_bars(tally: TaskTally) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """How far each bar's interval reaches below and above it, in answers (matplotlib's ``yerr``)."""
    if tally.too_few or not tally.intervals:
        return None
    n = tally.answers
    below = tuple(max(0.0, count - share.low * n) for count, share in zip(tally.counts, tally.intervals, strict=True))
    above = tuple(max(0.0, share.high * n - count) for count, share in zip(tally.counts, tally.intervals, strict=True))
    return below, above


def render_png(series: list[Series], heading: str) -> bytes:
    """Draw every series in one image (two columns), return the PNG bytes."""
    from matplotlib.figure import Figure  # here, not at the top: see the module docstring

    columns = 2 if len(series) > 1 else 1
    rows = (len(series) + columns - 1) // columns
    figure = Figure(figsize=(5.2 * columns, 2.9 * rows + 0.6), dpi=100)
    figure.suptitle(heading, fontsize=13, fontweight="bold")
    for position, one in enumerate(series, start=1):
        axes = figure.add_subplot(rows, columns, position)
        bars = axes.bar(
            range(len(one.values)),
            one.values,
            color=one.colours or _BAR,
            yerr=one.errors,
            error_kw={"ecolor": "#555555", "capsize": 3, "elinewidth": 1},
        )
        axes.bar_label(bars, fontsize=8)
        axes.set_xticks(range(len(one.labels)), one.labels, fontsize=8, rotation=20 if len(one.labels) > 5 else 0)
        axes.set_title(one.title if len(one.title) <= 60 else one.title[:59] + "…", fontsize=9)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_yticks([])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_png_async(series: list[Series], heading: str) -> bytes:
    return await asyncio.to_thread(render_png, series, heading)
