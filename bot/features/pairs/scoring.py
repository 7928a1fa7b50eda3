"""Bradley-Terry scores with uncertainty for ideas judged in pairs, and how sure they are, in words.

The model: idea *i* beats idea *j* with probability ``σ(θᵢ − θⱼ)``. The fit is the posterior mode under a
Gaussian prior ``θ ~ N(0, 1/PRIOR_PRECISION)`` (a few imaginary draws against an average idea, so an idea
judged once is not ranked first or last), found by Newton steps on each score with its own curvature
(the Hessian's diagonal): every step costs O(judgements) with numpy, so 100,000 judgements of 10,000
ideas fit in about a second. The curvature at the mode also gives each score's uncertainty (a Laplace
approximation): ``σᵢ = 1/√(PRIOR_PRECISION + Σ pᵢⱼ(1 − pᵢⱼ))``.

Why not the ``choix`` package: it installs and works with our numpy (0.4.1 was tried), but both its fits
build dense n×n matrices: on 10,000 ideas and 100,000 judgements ``ilsr_pairwise`` took 128 s and
``opt_pairwise`` 26 s on this machine, against about a second here; and it has no uncertainty short of
``ep_pairwise`` (3 s for 200 ideas). The mode found here is ``choix.opt_pairwise``'s with
``alpha = PRIOR_PRECISION / 2`` (its penalty is ``alpha·‖θ‖²``): on 200 ideas and 1,000 judgements the two
agreed to 1e-5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PRIOR_PRECISION = 0.3  # the prior's 1/variance: about one draw against an average idea
MAX_STEPS = 200
TOLERANCE = 1e-6
MIN_COMPARISONS = 5  # fewer decisive judgements of an idea: "too early to say"
CLEARLY = 0.95  # chance of beating the idea ranked just below it
LIKELY = 0.75
EXACT_CHANCES = 2_000  # up to this many ideas, each idea's chance against the others is computed exactly
CHANCE_BINS = 512

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Fit:
    """Scores of ``ideas`` (parallel arrays): ``theta`` the posterior mode, ``sigma`` its uncertainty,
    ``comparisons`` the decisive judgements each took part in, ``wins`` those it won."""

    ideas: tuple[int, ...]
    theta: Floats
    sigma: Floats
    comparisons: Ints
    wins: Ints

    def ranked(self) -> list[int]:
        """Positions of the ideas, best score first (ties: fewer comparisons last, then lower id)."""
        return sorted(range(len(self.ideas)), key=lambda k: (-self.theta[k], -self.comparisons[k], self.ideas[k]))

    def chances(self) -> Floats:
        """Each idea's chance of winning against an idea drawn at random from the others: the plain score
        (0 to 100 once multiplied) a wiki survey shows. Exact up to ``EXACT_CHANCES`` ideas; beyond, the
        others are taken by a fine histogram of their scores (O(n) memory instead of n²)."""
        count = len(self.ideas)
        if count < 2:
            return np.full(count, 0.5)
        if count <= EXACT_CHANCES:
            wins: Floats = (1.0 / (1.0 + np.exp(self.theta[None, :] - self.theta[:, None]))).sum(axis=1)
        else:
            counts, edges = np.histogram(self.theta, bins=CHANCE_BINS)
            centres = (edges[:-1] + edges[1:]) / 2
            wins = 1.0 / (1.0 + np.exp(centres[None, :] - self.theta[:, None])) @ counts
        return (wins - 0.5) / (count - 1)  # less the idea against itself


def fit(ideas: Sequence[int], winners: Ints, losers: Ints) -> Fit:
    """The Bradley-Terry fit of ``ideas`` from decisive judgements given as positions into ``ideas``."""
    count = len(ideas)
    theta = np.zeros(count)
    comparisons = np.bincount(winners, minlength=count) + np.bincount(losers, minlength=count)
    wins = np.bincount(winners, minlength=count).astype(np.float64)
    curvature = np.full(count, PRIOR_PRECISION)
    for _ in range(MAX_STEPS):
        p_win = 1.0 / (1.0 + np.exp(theta[losers] - theta[winners]))  # the winner's modelled chance
        expected = np.bincount(winners, p_win, count) + np.bincount(losers, 1.0 - p_win, count)
        information = p_win * (1.0 - p_win)
        curvature = PRIOR_PRECISION + np.bincount(winners, information, count) + np.bincount(losers, information, count)
        gradient = wins - expected - PRIOR_PRECISION * theta
        step = gradient / curvature
        theta += np.clip(step, -1.0, 1.0)
        if float(np.max(np.abs(step), initial=0.0)) < TOLERANCE:
            break
    return Fit(tuple(ideas), theta, 1.0 / np.sqrt(curvature), comparisons.astype(np.int64), wins.astype(np.int64))


def confidence(fit_: Fit, order: Sequence[int], rank: int) -> str:
    """How sure the ranking is of the idea at ``order[rank]``, as a key under ``pairs.confidence``:
    ``too_early`` (few judgements), ``clearly_ahead`` / ``likely_ahead`` of the idea ranked just below
    it, ``too_close`` to it; the last idea is judged against the one above it (``clearly_behind`` …)."""
    here = order[rank]
    if fit_.comparisons[here] < MIN_COMPARISONS:
        return "too_early"
    neighbour = order[rank + 1] if rank + 1 < len(order) else (order[rank - 1] if rank else None)
    if neighbour is None:
        return "too_early"
    gap = fit_.theta[here] - fit_.theta[neighbour]
    spread = math.hypot(fit_.sigma[here], fit_.sigma[neighbour])
    ahead = 0.5 * (1.0 + math.erf(abs(gap) / (spread * math.sqrt(2.0))))
    side = "ahead" if rank + 1 < len(order) else "behind"
    if ahead >= CLEARLY:
        return f"clearly_{side}"
    if ahead >= LIKELY:
        return f"likely_{side}"
    return "too_close"
