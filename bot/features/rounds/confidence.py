"""How sure a poll's numbers are: 95 % intervals for shares, rating means and NPS, and what follows.

A round's answers are a sample of the community, so "62 % chose Latte" means "somewhere around 62 %".
These pure functions say how far around, so the results text, the chart and the export can show it and
nobody crowns a winner that two more answers would have unseated:

- a share (one option's count out of n) gets a **Wilson score interval**: unlike the textbook
  ``p ± 1.96·sqrt(p(1−p)/n)`` it stays inside 0–100 % and is not zero-wide at 0/n or n/n;
- a rating's mean gets a **normal-approximation interval** ``mean ± 1.96·s/sqrt(n)`` with ``s`` the
  sample standard deviation (n − 1) computed from the score counts; the t quantile would be a little
  wider for small n, but below ``results.min_answers`` the results say "too few answers to tell" anyway,
  and the normal quantile needs no statistics library;
- NPS is the mean of per-member scores +1 (promoter), 0 (passive), −1 (detractor), times 100, so its
  interval is a mean's: variance ``p_pro + p_det − (p_pro − p_det)²``, margin ``1.96·sqrt(var/n)·100``.

The **margin of error** of a question is its widest half-width, in percentage points; the leading option
is a **tie** when its interval overlaps the runner-up's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Z95 = 1.96  # the standard normal quantile for a two-sided 95 % interval


@dataclass(frozen=True, slots=True)
class Interval:
    """A 95 % interval, in the unit of what it bounds (a share 0–1, a mean on its scale, NPS points)."""

    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """The Wilson score interval of the share ``successes / n`` (0–1); no answers: anything, 0–1."""
    if n <= 0:
        return Interval(0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - spread), min(1.0, centre + spread))


def mean_interval(scores: Mapping[int, int], scale: tuple[int, int], z: float = Z95) -> Interval | None:
    """A 95 % interval for the mean of scores given as ``{score: how many}``, kept within ``scale``.

    Normal approximation with the sample standard deviation (see the module docstring). One answer says
    nothing about the spread, so its interval is the whole scale; no answers: no interval.
    """
    n = sum(scores.values())
    if n == 0:
        return None
    if n == 1:
        return Interval(float(scale[0]), float(scale[1]))
    mean = sum(score * count for score, count in scores.items()) / n
    variance = sum(count * (score - mean) ** 2 for score, count in scores.items()) / (n - 1)
    margin = z * math.sqrt(variance / n)
    return Interval(max(float(scale[0]), mean - margin), min(float(scale[1]), mean + margin))


def nps_interval(detractors: int, passives: int, promoters: int, z: float = Z95) -> Interval | None:
    """A 95 % interval for the NPS (−100 to +100) of a split; no answers: no interval."""
    n = detractors + passives + promoters
    if n == 0:
        return None
    p_pro, p_det = promoters / n, detractors / n
    variance = p_pro + p_det - (p_pro - p_det) ** 2
    margin = z * math.sqrt(variance / n) * 100
    nps = (p_pro - p_det) * 100
    return Interval(max(-100.0, nps - margin), min(100.0, nps + margin))


def margin_of_error(intervals: Sequence[Interval]) -> float:
    """A question's margin of error: the widest half-width among its intervals (0 without any)."""
    return max((interval.half_width for interval in intervals), default=0.0)


def too_few(n: int, minimum: int) -> bool:
    """Below ``minimum`` answers (the ``results.min_answers`` setting) the numbers are not worth reading."""
    return n < minimum


def leader_tied(counts: Sequence[int], intervals: Sequence[Interval]) -> tuple[int, int] | None:
    """The leading option and the runner-up (their indexes) when their intervals overlap, else None.

    Equal counts are a tie too (their intervals are the same). Fewer than two options, or nobody
    answering, is no race at all.
    """
    if len(counts) < 2 or not any(counts):
        return None
    first, second = sorted(range(len(counts)), key=lambda index: -counts[index])[:2]
    return (first, second) if intervals[first].overlaps(intervals[second]) else None
