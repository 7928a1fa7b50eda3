"""Benchmark 12, second part: ideas judged in pairs (:mod:`bot.features.pairs`) against upvotes.

- Quality: ``IDEAS`` ideas whose true appeal is drawn from N(0, 1) (seeded). *Pairs:* members (a new one
  every ``PER_MEMBER`` judgements) are served pairs by the real chooser (:class:`PairIndex`, the same
  adaptive choice as the bot, refitting as it does) and pick A with the logistic model's chance
  ``σ(appeal_A − appeal_B)``. *Upvotes:* each member action is one upvote: the member reads the list
  sorted by votes (ties: the older idea first, as ``/ideas top`` lists them) from the top and upvotes the
  first idea they like, liking an idea with chance ``σ(appeal − LIKE_BAR)``; so members upvote the ideas
  they see first. *Random pairs* (context): the same members judging pairs drawn uniformly at random.
  Reported: Spearman's rank correlation of each signal with the true appeal after 1,000, 5,000 and 20,000
  actions (judgements, upvotes). Target: pairs beat upvotes at 5,000. Each simulation draws from its own
  generator seeded alike, so a quick run's figures at 1,000 and 5,000 are the full run's.
- Cost: choosing a member's next pair among ``POOL`` ideas with ``POOL_JUDGEMENTS`` judgements fitted
  and ``MEMBER_PAIRS`` pairs the member judged already: median milliseconds of the choice in memory
  (target < 5), and of the whole ``next_pair`` of a running engine on SQLite (the pool's incremental reads,
  the member's judged pairs, the choice; target < 5), the ideas written over ``SPREAD_DAYS`` days as
  members would; the fit of that pool and the first load of the pool, for context.
"""

from __future__ import annotations

import math
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from bench.runner import Context, Figure, Stopwatch, Target, measured
from bench.world import engine_on, person, space
from bot.context import Context as MemberContext
from bot.engine import Engine
from bot.features.pairs.index import PairIndex
from bot.features.pairs.scoring import fit
from bot.store.database import Connection
from bot.store.records import Judged, PoolIdea
from bot.store.timestamps import to_text

SEED = 21
IDEAS = 200
CHECKPOINTS = (1_000, 5_000, 20_000)
QUICK_CHECKPOINTS = (1_000, 5_000)
PER_MEMBER = 20  # judgements per simulated member before the next one comes
LIKE_BAR = 1.0  # an idea is liked with chance σ(appeal − LIKE_BAR): about one in four
POOL = 10_000
POOL_JUDGEMENTS = 100_000
QUICK_POOL_JUDGEMENTS = 20_000
MEMBER_PAIRS = 200
CHOICES = 200
QUICK_CHOICES = 50
CHOICE_TARGET = Target("<", 5.0)
BEATS_TARGET = Target(">=", 0.01)  # pairs ahead of upvotes by at least a hundredth of rho
STAMP = "2026-01-01T00:00:00.000000+00:00"
AUTHOR = -1  # the simulated ideas' author judges nothing
SPREAD_DAYS = 30
AUTHORS = 100
SERVES = 100
QUICK_SERVES = 20


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def _pool(count: int) -> PairIndex:
    index = PairIndex()
    index.apply_ideas(PoolIdea(idea, AUTHOR, True, STAMP) for idea in range(1, count + 1))
    return index


def _correlation(scores: np.ndarray, appeal: np.ndarray) -> float:
    return float(spearmanr(scores, appeal).statistic)


def pairwise_correlations(appeal: np.ndarray, checkpoints: tuple[int, ...], rng: random.Random) -> list[float]:
    """Spearman's correlation of the fitted scores with ``appeal`` after each checkpoint's judgements."""
    index = _pool(len(appeal))
    judged: set[tuple[int, int]] = set()
    found = []
    for step in range(1, checkpoints[-1] + 1):
        if step % PER_MEMBER == 1:
            judged = set()
        pair = index.choose(step // PER_MEMBER, judged, rng)
        assert pair is not None
        first, second = pair
        winner = first if rng.random() < _sigmoid(appeal[first - 1] - appeal[second - 1]) else second
        low, high = min(pair), max(pair)
        judged.add((low, high))
        index.apply_judgements([Judged(step, low, high, winner)])
        if index.due:
            index.adopt(index.fit_listed(), len(index.winners))
        if step in checkpoints:
            fitted = index.fit_listed()
            found.append(_correlation(fitted.theta, appeal[np.array(fitted.ideas) - 1]))
    return found


def random_pair_correlations(appeal: np.ndarray, checkpoints: tuple[int, ...], rng: random.Random) -> list[float]:
    """The same, with pairs drawn uniformly at random (the baseline the adaptive choice should not lose to)."""
    winners: list[int] = []
    losers: list[int] = []
    found = []
    for step in range(1, checkpoints[-1] + 1):
        first, second = rng.sample(range(len(appeal)), 2)
        first_wins = rng.random() < _sigmoid(appeal[first] - appeal[second])
        winners.append(first if first_wins else second)
        losers.append(second if first_wins else first)
        if step in checkpoints:
            fitted = fit(range(len(appeal)), np.array(winners), np.array(losers))
            found.append(_correlation(fitted.theta, appeal))
    return found


def upvote_correlations(appeal: np.ndarray, checkpoints: tuple[int, ...], rng: random.Random) -> list[float]:
    """Spearman's correlation of upvote counts with ``appeal`` after each checkpoint's upvotes."""
    votes = np.zeros(len(appeal), dtype=np.int64)
    liking = [_sigmoid(value - LIKE_BAR) for value in appeal]
    found = []
    for step in range(1, checkpoints[-1] + 1):
        for idea in sorted(range(len(appeal)), key=lambda k: (-votes[k], k)):
            if rng.random() < liking[idea]:
                votes[idea] += 1
                break
        if step in checkpoints:
            found.append(_correlation(votes, appeal))
    return found


def choice_cost(quick: bool, rng: random.Random) -> tuple[list[float], float]:
    """Milliseconds of each choice in a fitted pool of :data:`POOL` ideas, and the fit's seconds."""
    index = _pool(POOL)
    numbers = np.random.default_rng(SEED)
    count = QUICK_POOL_JUDGEMENTS if quick else POOL_JUDGEMENTS
    firsts = numbers.integers(1, POOL + 1, count)
    seconds = (firsts + numbers.integers(1, POOL, count) - 1) % POOL + 1
    index.apply_judgements(
        Judged(k + 1, min(a, b), max(a, b), int(a)) for k, (a, b) in enumerate(zip(firsts, seconds, strict=True))
    )
    watch = Stopwatch()
    index.adopt(index.fit_listed(), len(index.winners))
    fit_seconds = watch.elapsed
    member = 7
    judged = {(min(a, b), max(a, b)) for a, b in (rng.sample(range(1, POOL + 1), 2) for _ in range(MEMBER_PAIRS))}
    timings = []
    for _ in range(QUICK_CHOICES if quick else CHOICES):
        watch = Stopwatch()
        index.choose(member, judged, rng)
        timings.append(watch.elapsed * 1000)
    return timings, fit_seconds


async def serve_cost(quick: bool, rng: random.Random) -> tuple[list[float], float]:
    """Milliseconds of each ``next_pair`` of a running engine on SQLite with :data:`POOL` ideas, and the
    first one's (the pool loaded from the database)."""
    count = QUICK_POOL_JUDGEMENTS if quick else POOL_JUDGEMENTS
    with tempfile.TemporaryDirectory() as folder:
        async with engine_on(Path(folder) / "pairs.db") as engine:
            cafe = space("cafe")
            authors = [(await engine.context(person(n, "author"), cafe)).user_id for n in range(AUTHORS)]
            judges = [(await engine.context(person(n, "judge"), cafe)).user_id for n in range(AUTHORS)]
            member = await engine.context(person(0, "member"), cafe)
            await engine.services.store.write(lambda db: _fill(db, member.space_id, authors, judges, count, rng))
            await engine.services.store.write(lambda db: _member_pairs(db, member.space_id, member.user_id, rng))
            watch = Stopwatch()
            await engine.pairs.next_pair(member, member.space_id)
            first = watch.elapsed * 1000
            return [await _timed(engine, member) for _ in range(QUICK_SERVES if quick else SERVES)], first


async def _timed(engine: Engine, member: MemberContext) -> float:
    watch = Stopwatch()
    await engine.pairs.next_pair(member, member.space_id)
    return watch.elapsed * 1000


def _fill(db: Connection, space_id: int, authors: list[int], judges: list[int], count: int, rng: random.Random) -> None:
    """:data:`POOL` ideas written over :data:`SPREAD_DAYS` days, and ``count`` judgements of random pairs."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(POOL):
        at = to_text(start + timedelta(days=SPREAD_DAYS) * number / POOL)
        db.execute(
            "INSERT INTO ideas (space_id, author_id, text, status, created_at, status_at)"
            " VALUES (?, ?, ?, 'new', ?, ?)",
            (space_id, rng.choice(authors), f"Idea number {number}", at, at),
        )
    seen: set[tuple[int, int, int]] = set()
    while len(seen) < count:
        judge = rng.choice(judges)
        low, high = sorted(rng.sample(range(1, POOL + 1), 2))
        if (judge, low, high) in seen:
            continue
        seen.add((judge, low, high))
        db.execute(
            "INSERT INTO idea_judgements (space_id, user_id, low_id, high_id, winner_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (space_id, judge, low, high, rng.choice((low, high)), to_text(start)),
        )


def _member_pairs(db: Connection, space_id: int, user_id: int, rng: random.Random) -> None:
    for _ in range(MEMBER_PAIRS):
        low, high = sorted(rng.sample(range(1, POOL + 1), 2))
        db.execute(
            "INSERT INTO idea_judgements (space_id, user_id, low_id, high_id, winner_id, created_at)"
            " VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING",
            (space_id, user_id, low, high, "2026-01-01T00:00:00.000000+00:00"),
        )


async def run(ctx: Context) -> list[Figure]:
    rng = random.Random(SEED)  # the costs' draws; each simulation has its own, seeded alike
    appeal = np.random.default_rng(SEED).normal(size=IDEAS)
    checkpoints = QUICK_CHECKPOINTS if ctx.quick else CHECKPOINTS
    pairs = pairwise_correlations(appeal, checkpoints, random.Random(SEED))
    ctx.log("insight: pairs simulated")
    upvotes = upvote_correlations(appeal, checkpoints, random.Random(SEED))
    randomly = random_pair_correlations(appeal, checkpoints, random.Random(SEED))
    figures = []
    for actions, by_pairs, by_votes, by_chance in zip(checkpoints, pairs, upvotes, randomly, strict=True):
        note = f"{IDEAS} ideas, Spearman with the true appeal after {actions:,} member actions"
        figures.append(Figure(f"insight.pairs.spearman_pairs_{actions}", by_pairs, "rho", note=note))
        figures.append(Figure(f"insight.pairs.spearman_random_pairs_{actions}", by_chance, "rho", note=note))
        figures.append(Figure(f"insight.pairs.spearman_upvotes_{actions}", by_votes, "rho", note=note))
        target = BEATS_TARGET if actions == 5_000 else None
        figures.append(
            Figure(
                f"insight.pairs.pairs_minus_upvotes_{actions}",
                by_pairs - by_votes,
                "rho",
                target,
                "pairs' correlation less the upvotes' at the same number of actions",
            )
        )
    timings, fit_seconds = choice_cost(ctx.quick, rng)
    judgements = QUICK_POOL_JUDGEMENTS if ctx.quick else POOL_JUDGEMENTS
    note = f"{POOL:,} ideas, {judgements:,} judgements fitted, a member with {MEMBER_PAIRS} pairs judged"
    figures.append(measured("insight.pairs.choice_ms", timings, "ms", CHOICE_TARGET, note))
    figures.append(
        Figure("insight.pairs.fit_seconds", fit_seconds, "s", note=f"{POOL:,} ideas, {judgements:,} judgements")
    )
    serves, first = await serve_cost(ctx.quick, rng)
    note = f"engine.pairs.next_pair on SQLite: {POOL:,} ideas over {SPREAD_DAYS} days, {judgements:,} judgements"
    figures.append(measured("insight.pairs.next_pair_ms", serves, "ms", CHOICE_TARGET, note))
    figures.append(
        Figure("insight.pairs.first_load_ms", first, "ms", note="the pool read and fitted at the first serve")
    )
    return figures
