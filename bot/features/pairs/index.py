"""The pool of one space's ideas in memory, and the adaptive choice of the next pair for a member.

The pool follows the database incrementally: each look reads the ideas whose status moved since the
last one (new ideas, hidden, merged, declined, approved: ``status_at`` moves with each) and the judgements
added since, so a new idea is in the pool at the next serve, in any process, and the reads stay a few
rows. Scores come from the last Bradley-Terry fit (:mod:`bot.features.pairs.scoring`); between fits each
new judgement adds its information to both ideas, so an idea's uncertainty falls as it is judged.

**The choice** (:meth:`PairIndex.choose`): the first idea is among the ``CANDIDATES`` most uncertain ideas
the member did not write (few comparisons first: an idea never judged has the prior's uncertainty, the
largest), each priority scaled by a random factor so members at the same moment spread over the pool;
its partner is the idea with the most to learn from the match: uncertain, and close in score (a match
whose outcome is foreseen teaches little). Never the same idea, never the member's own, never a pair the
member judged. numpy over arrays of the pool: about a millisecond with 10,000 ideas
(``python -m bench --only insight``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import numpy as np

from bot.features.pairs.scoring import PRIOR_PRECISION, Fit, Floats, fit
from bot.store.records import Judged, PoolIdea
from bot.store.timestamps import to_text

CANDIDATES = 16  # first ideas tried per choice before sorting the whole pool
SPREAD = 0.3  # how much randomness scales a priority: members at once get different pairs
# Changes re-read at every look: a unit in another process may commit a status_at a little older than
# the newest one seen here (clocks, commit order), and re-reading a minute of changes costs a few rows.
OVERLAP = timedelta(seconds=60)
# Judgements re-read at every look, below the highest id seen: on PostgreSQL a judgement may commit after
# one with a higher id was read (ids are handed out before commit), at most one per writer in flight.
ID_OVERLAP = 64
REFIT_SHARE = 0.1  # refit once judgements grew by this share since the last fit (and MIN_REFIT)
MIN_REFIT = 20


class PairIndex:
    """One space's ideas (listed or not), their authors, scores and information, and its judgements."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.position: dict[int, int] = {}
        self.authors = np.zeros(0, dtype=np.int64)
        self.listed = np.zeros(0, dtype=bool)
        self.theta: Floats = np.zeros(0)
        self.information: Floats = np.zeros(0)
        self.winners: list[int] = []  # decisive judgements, as idea ids
        self.losers: list[int] = []
        self.watermark = ""  # the newest status_at seen
        self.last_judgement = 0
        self.recent: set[int] = set()  # ids of the judgements within ID_OVERLAP of the highest seen
        self.merged: dict[int, int] = {}  # a merged idea's target: its judgements count for the target
        self.fitted = 0  # decisive judgements the last fit saw
        self.last_fit: Fit | None = None
        self.version = 0  # moves with every idea joining or leaving and every decisive judgement
        self.fitted_version = -1

    # following the database ---------------------------------------------------------------------

    def since(self) -> str:
        """The ``status_at`` to read changes from: the newest seen, less :data:`OVERLAP`."""
        if not self.watermark:
            return ""
        return to_text(datetime.fromisoformat(self.watermark) - OVERLAP)

    def apply_ideas(self, changed: Iterable[PoolIdea]) -> None:
        """New ideas join; every idea's listed state follows the database (re-applying is harmless)."""
        fresh: list[PoolIdea] = []
        for idea in changed:
            self.watermark = max(self.watermark, idea.changed_at)
            if idea.merged_into is not None and self.merged.get(idea.id) != idea.merged_into:
                self.merged[idea.id] = idea.merged_into
                self.version += 1
            at = self.position.get(idea.id)
            if at is None:
                fresh.append(idea)
            elif self.listed[at] != idea.listed:
                self.listed[at] = idea.listed
                self.version += 1
        if not fresh:
            return
        self.version += 1
        start = len(self.ids)
        for offset, idea in enumerate(fresh):
            self.ids.append(idea.id)
            self.position[idea.id] = start + offset
        self.authors = np.concatenate([self.authors, np.array([idea.author_id for idea in fresh], dtype=np.int64)])
        self.listed = np.concatenate([self.listed, np.array([idea.listed for idea in fresh], dtype=bool)])
        self.theta = np.concatenate([self.theta, np.zeros(len(fresh))])
        self.information = np.concatenate([self.information, np.zeros(len(fresh))])

    def judgements_from(self) -> int:
        """The id to read judgements above: the highest seen, less :data:`ID_OVERLAP`."""
        return max(0, self.last_judgement - ID_OVERLAP)

    def apply_judgements(self, judged: Iterable[Judged]) -> None:
        """Judgements added since the last look (those seen already are skipped): remembered for the next
        fit, their information counted now."""
        for judgement in judged:
            if judgement.id in self.recent or judgement.id <= self.judgements_from():
                continue
            self.recent.add(judgement.id)
            self.last_judgement = max(self.last_judgement, judgement.id)
            if judgement.winner is None:
                continue
            loser = judgement.high if judgement.winner == judgement.low else judgement.low
            self.winners.append(judgement.winner)
            self.losers.append(loser)
            self.version += 1
            at_winner, at_loser = self.position.get(judgement.winner), self.position.get(loser)
            if at_winner is None or at_loser is None:
                continue
            p_win = 1.0 / (1.0 + np.exp(self.theta[at_loser] - self.theta[at_winner]))
            self.information[[at_winner, at_loser]] += p_win * (1.0 - p_win)
        floor = self.judgements_from()
        self.recent = {seen for seen in self.recent if seen > floor}

    # scores -------------------------------------------------------------------------------------

    @property
    def due(self) -> bool:
        """Whether enough judgements came since the last fit to fit again."""
        new = len(self.winners) - self.fitted
        return new >= max(MIN_REFIT, REFIT_SHARE * self.fitted) or (new > 0 and self.last_fit is None)

    @property
    def changed_since_fit(self) -> bool:
        """Whether an idea joined or left, or a judgement came, since the last fit."""
        return self.version != self.fitted_version

    def fit_listed(self) -> Fit:
        """The Bradley-Terry fit of the listed ideas over the judgements between two of them, a merged
        idea's judgements counting for the idea it was merged into (a judgement between the two is
        dropped). CPU-bound: callers run it in a thread."""
        listed = [idea for idea, is_listed in zip(self.ids, self.listed.tolist(), strict=True) if is_listed]
        at = {idea: k for k, idea in enumerate(listed)}
        merged = {idea: self._target(idea) for idea in self.merged}
        kept = [
            (at[winner], at[loser])
            for winner, loser in (
                (merged.get(winner, winner), merged.get(loser, loser))
                for winner, loser in zip(self.winners, self.losers, strict=True)
            )
            if winner in at and loser in at and winner != loser
        ]
        pairs = np.array(kept, dtype=np.int64).reshape(-1, 2)
        return fit(listed, pairs[:, 0], pairs[:, 1])

    def _target(self, idea: int) -> int:
        """Where a merged idea's judgements count: the end of its merge chain (merges are final, so the
        chain has no loop; the bound only guards a corrupt row)."""
        for _ in range(len(self.merged) + 1):
            if idea not in self.merged:
                break
            idea = self.merged[idea]
        return idea

    def adopt(self, fitted: Fit, judgements: int) -> None:
        """Take a fit's scores and information (``judgements``: how many it saw)."""
        for k, idea in enumerate(fitted.ideas):
            at = self.position[idea]
            self.theta[at] = fitted.theta[k]
            self.information[at] = 1.0 / fitted.sigma[k] ** 2 - PRIOR_PRECISION
        self.fitted = judgements
        self.fitted_version = self.version
        self.last_fit = fitted

    # choosing -----------------------------------------------------------------------------------

    def choose(self, user_id: int, judged: set[tuple[int, int]], rng: random.Random) -> tuple[int, int] | None:
        """The next pair for a member (ids, in the order to show), or ``None`` when none is left for them."""
        eligible = self.listed & (self.authors != user_id)
        if int(np.count_nonzero(eligible)) < 2:
            return None
        sigma = 1.0 / np.sqrt(PRIOR_PRECISION + self.information)
        noise = np.random.default_rng(rng.getrandbits(32))
        priority = np.where(eligible, sigma * (1.0 + SPREAD * noise.random(len(self.ids))), -np.inf)
        partners_of = _partners(judged, self._target)
        for first in _by_priority(priority):
            if not np.isfinite(priority[first]):
                break
            partner = self._partner(first, eligible, sigma, partners_of.get(self.ids[first], ()), noise)
            if partner is not None:
                pair = (self.ids[first], self.ids[partner])
                return pair if rng.random() < 0.5 else (pair[1], pair[0])
        return None

    def _partner(
        self, first: int, eligible: np.ndarray, sigma: Floats, judged_with: Sequence[int], noise: np.random.Generator
    ) -> int | None:
        """The partner of ``first`` with the most to learn: uncertain, and with a close score."""
        gap = self.theta - self.theta[first]
        spread = 1.0 + sigma[first] ** 2 + sigma**2
        gain = sigma * np.exp(-(gap**2) / (2.0 * spread)) * (1.0 + SPREAD * noise.random(len(self.ids)))
        gain[~eligible] = -np.inf
        gain[first] = -np.inf
        for idea in judged_with:
            at = self.position.get(idea)
            if at is not None:
                gain[at] = -np.inf
        best = int(np.argmax(gain))
        return best if np.isfinite(gain[best]) else None


def _by_priority(priority: Floats) -> Iterator[int]:
    """Positions by falling priority: the first :data:`CANDIDATES` at the cost of a partition; the rest,
    sorted, only for a member who has judged every partner of all of those (a small pool judged through)."""
    tried = min(CANDIDATES, len(priority))
    firsts = np.argpartition(-priority, tried - 1)[:tried]
    yield from sorted(firsts.tolist(), key=lambda k: -priority[k])
    seen = set(firsts.tolist())
    yield from (k for k in np.argsort(-priority, kind="stable").tolist() if k not in seen)


def _partners(judged: set[tuple[int, int]], target: Callable[[int], int]) -> dict[int, list[int]]:
    """Each idea the member judged, with the ideas they judged it against; a merged idea's pairs count
    as its target's (whoever judged (A, X) before A was merged into B has, in effect, judged (B, X))."""
    partners: dict[int, list[int]] = {}
    for low, high in ((target(low), target(high)) for low, high in judged):
        partners.setdefault(low, []).append(high)
        partners.setdefault(high, []).append(low)
    return partners
