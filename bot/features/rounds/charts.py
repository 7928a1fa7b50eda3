"""Result charts as PNG: a bar chart per choice or rating task, the NPS split.

Choice bars carry error bars: each share's 95 % Wilson interval as counts (``share × n``), the same
interval the results text prints, left off when there are too few answers to tell. A rating's bars carry
its mean, and the NPS split its score, as a point with its 95 % interval drawn across the bars: the mean
sits above the score it equals (bar 1 to bar 5), the NPS between the detractors' bar (−100) and the
promoters' (+100).

``chart_series`` decides *what* is drawn (tested directly); ``render_png`` only draws it, on a bare
``Figure`` (no pyplot, so no global state and no GUI backend), in a worker thread, so drawing never
blocks the event loop. matplotlib itself is imported the first time a chart is drawn: a bot that has
not closed a round yet does not pay its start-up time and memory.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.catalog import TaskKind
from bot.features.rounds.tally import TaskTally

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_MAX_LABEL = 18
_BAR = "#c0703a"
_NPS_COLOURS = ("#d9534f", "#f0ad4e", "#5cb85c")
_POINT = "#2b4c7e"


@dataclass(frozen=True, slots=True)
class Point:
    """A summary drawn over a chart's bars: at ``x`` (in bar positions, 0 the first bar), from ``low`` to
    ``high``, captioned with ``text`` (numbers only: a chart needs no translation)."""

    x: float
    low: float
    high: float
    text: str


@dataclass(frozen=True, slots=True)
class Series:
    """One chart: a title and its bars."""

    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    colours: tuple[str, ...] = ()
    errors: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # below and above each bar
    point: Point | None = None  # a rating's mean or the NPS, with its 95 % interval


def chart_series(tallies: list[TaskTally], nps_labels: tuple[str, str, str], titles: dict[str, str]) -> list[Series]:
    """The charts worth drawing for a round: choices and ratings as bars, NPS as its three groups."""
    series: list[Series] = []
    for tally in tallies:
        if not tally.answers:
            continue
        title = titles.get(tally.task.id, tally.task.id)
        if tally.task.kind == TaskKind.NPS:
            series.append(Series(title, nps_labels, tally.nps_split, _NPS_COLOURS, point=_summary_point(tally)))
        elif tally.counts:
            labels = tuple(
                label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…" for label in tally.labels
            )
            series.append(Series(title, labels, tally.counts, errors=_error_bars(tally), point=_summary_point(tally)))
    return series


def _summary_point(tally: TaskTally) -> Point | None:
    """A rating's mean or an NPS with its 95 % interval, placed on the bars' axis; none when there are
    too few answers to tell (as the text says), or for a choice question."""
    if tally.too_few:
        return None
    if tally.mean is not None and tally.mean_interval is not None:
        interval = tally.mean_interval
        text = f"{tally.mean:.2f} ({interval.low:.1f}–{interval.high:.1f})"
        return Point(tally.mean - 1, interval.low - 1, interval.high - 1, text)
    if tally.nps is not None and tally.nps_interval is not None:
        interval = tally.nps_interval

        def across(score: float) -> float:  # −100 at the detractors' bar (0), +100 at the promoters' (2)
            return (score + 100) / 100

        detractors, _, promoters = tally.nps_split
        exact = 100 * (promoters - detractors) / sum(tally.nps_split)  # the text's NPS is rounded: with many
        # answers the interval is narrower than that rounding, and the point must sit inside its interval
        text = f"NPS {tally.nps:+d} ({round(interval.low):+d} to {round(interval.high):+d})"
        return Point(across(exact), across(interval.low), across(interval.high), text)
    return None


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
        if one.point is not None:
            _draw_point(axes, one.point, max(one.values, default=0))
        axes.set_xticks(range(len(one.labels)), one.labels, fontsize=8, rotation=20 if len(one.labels) > 5 else 0)
        axes.set_title(one.title if len(one.title) <= 60 else one.title[:59] + "…", fontsize=9)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_yticks([])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_point(axes: Axes, point: Point, top: int) -> None:
    """The point and its interval as a horizontal error bar above the bars, captioned."""
    height = top * 1.25 + 0.5
    axes.errorbar(
        [point.x],
        [height],
        xerr=[[point.x - point.low], [point.high - point.x]],
        fmt="D",
        color=_POINT,
        capsize=4,
        elinewidth=1.5,
        markersize=5,
    )
    axes.annotate(point.text, (point.x, height), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)
    axes.set_ylim(0, height * 1.2)


async def render_png_async(series: list[Series], heading: str) -> bytes:
    return await asyncio.to_thread(render_png, series, heading)
