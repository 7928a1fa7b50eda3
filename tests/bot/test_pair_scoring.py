"""The Bradley-Terry fit and the pair chooser on their own: scores recover a crowd's order, uncertainty
falls as an idea is judged, and the chooser prefers fresh ideas and close matches, never repeating a pair."""

from __future__ import annotations

import random

import numpy as np

from bot.features.pairs.index import PairIndex
from bot.features.pairs.scoring import PRIOR_PRECISION, confidence, fit
from bot.store.records import Judged, PoolIdea

STAMP = "2026-11-23T10:00:00.000000+00:00"


def pool(count: int, author: int = 0) -> PairIndex:
    index = PairIndex()
    index.apply_ideas(PoolIdea(idea, author, True, STAMP) for idea in range(1, count + 1))
    return index


def test_the_fit_recovers_the_order_a_logistic_crowd_prefers_and_grows_surer() -> None:
    rng = np.random.default_rng(3)
    appeal = np.linspace(-2, 2, 20)
    firsts = rng.integers(0, 20, 4000)
    seconds = (firsts + rng.integers(1, 20, 4000)) % 20
    first_wins = rng.random(4000) < 1 / (1 + np.exp(appeal[seconds] - appeal[firsts]))
    winners, losers = np.where(first_wins, firsts, seconds), np.where(first_wins, seconds, firsts)
    few = fit(range(20), winners[:100], losers[:100])
    many = fit(range(20), winners, losers)
    assert np.corrcoef(many.theta, appeal)[0, 1] > 0.98
    assert set(many.ranked()[:3]) == {17, 18, 19}
    assert float(np.mean(many.sigma)) < float(np.mean(few.sigma)) < 1 / PRIOR_PRECISION**0.5
    order = many.ranked()
    assert confidence(few, few.ranked(), 0) in ("too_early", "too_close", "likely_ahead", "clearly_ahead")
    assert confidence(many, order, len(order) - 1) in ("clearly_behind", "likely_behind", "too_close")


def test_one_judgement_does_not_put_an_idea_first_by_far() -> None:
    once = fit(range(3), np.array([0]), np.array([1]))
    assert 0 < once.theta[0] < 1.5  # the prior holds a single win back
    assert confidence(once, once.ranked(), 0) == "too_early"


def test_the_chooser_never_offers_ones_own_idea_a_pair_twice_or_an_idea_against_itself() -> None:
    index = pool(4)
    index.apply_ideas([PoolIdea(5, 99, True, STAMP)])  # member 99's own idea
    judged: set[tuple[int, int]] = set()
    rng = random.Random(1)
    while (pair := index.choose(99, judged, rng)) is not None:
        low, high = sorted(pair)
        assert low != high and 5 not in pair and (low, high) not in judged
        judged.add((low, high))
    assert len(judged) == 6  # every pair of the four others, once


def test_a_fresh_idea_is_offered_first_and_matched_with_a_close_one() -> None:
    index = pool(12)
    judged = [Judged(n, 1 + n % 10, 1 + (n + 1) % 10, 1 + n % 10) for n in range(1, 400)]
    index.apply_judgements(judged)  # ideas 1-10 judged many times; 11 and 12 never
    index.adopt(index.fit_listed(), len(index.winners))
    rng = random.Random(2)
    offered = [set(pair) for pair in (index.choose(1000 + n, set(), rng) for n in range(20)) if pair]
    assert all(pair & {11, 12} for pair in offered)


def test_a_hidden_idea_leaves_the_pool_and_a_relisted_one_comes_back() -> None:
    index = pool(3)
    index.apply_ideas([PoolIdea(2, 0, False, STAMP)])
    rng = random.Random(4)
    assert all(2 not in (index.choose(7, set(), rng) or ()) for _ in range(20))
    assert index.choose(7, {(1, 3)}, rng) is None
    index.apply_ideas([PoolIdea(2, 0, True, STAMP)])
    assert index.choose(7, {(1, 3)}, rng) is not None


def test_a_judgement_committed_after_a_higher_id_was_read_still_counts_once() -> None:
    """PostgreSQL hands out ids before commit: id 7 may be read after id 8. The pool re-reads a few ids
    below the highest seen, and counts each judgement once."""
    index = pool(3)
    index.apply_judgements([Judged(8, 1, 2, 1)])
    assert index.judgements_from() < 7
    index.apply_judgements([Judged(7, 2, 3, 2), Judged(8, 1, 2, 1)])  # the late one, and one seen again
    assert sorted(zip(index.winners, index.losers, strict=True)) == [(1, 2), (2, 3)]


def test_a_merged_ideas_judgements_count_for_the_idea_it_was_merged_into() -> None:
    index = pool(3)
    index.apply_judgements([Judged(n, 1, 3, 3) for n in range(1, 6)])  # idea 3 beats idea 1 five times
    index.apply_judgements([Judged(6, 2, 3, 3)])  # and idea 2 once, before 3 is merged into 2
    index.apply_ideas([PoolIdea(3, 0, False, STAMP, merged_into=2)])
    fitted = index.fit_listed()
    assert fitted.ideas == (1, 2)
    assert fitted.ranked() == [1, 0]  # idea 2 now holds idea 3's five wins over idea 1
    assert list(fitted.comparisons) == [5, 5]  # the judgement between 2 and 3 is dropped


def test_a_member_who_judged_every_pair_of_the_most_uncertain_ideas_still_gets_the_rest() -> None:
    index = pool(20)
    index.information[16:] = 50.0  # ideas 17-20 are the surest: last in priority
    judged = {(low, high) for low in range(1, 21) for high in range(low + 1, 21) if low <= 16}
    pair = index.choose(99, judged, random.Random(5))
    assert pair is not None and set(pair) <= {17, 18, 19, 20}


def test_a_member_who_judged_an_idea_before_it_was_merged_is_not_asked_the_same_pair_under_its_new_name() -> None:
    index = pool(3)
    index.apply_ideas([PoolIdea(1, 0, False, STAMP, merged_into=2)])  # idea 1 was merged into idea 2
    assert index.choose(99, {(1, 3)}, random.Random(1)) is None, "(1, 3) judged is (2, 3) judged"
    assert index.choose(99, set(), random.Random(1)) in ((2, 3), (3, 2))
