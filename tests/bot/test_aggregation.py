"""Labelling jobs' statistics: smoothed gold accuracy, majority, the one-coin posterior, Dawid-Skene,
straight-lining and free-text answers.

Posteriors are checked against the one-coin likelihood written out as a plain product over the votes
(``p`` for a vote on the candidate label, ``(1 - p) / (K - 1)`` otherwise), normalised by hand: the
module computes them another way (summed log-odds, softmax). The simulated crowds are the benchmark's
(:mod:`bench.quality`), seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.quality import CAREFUL, FIRST, RANDOM, Crowd, fixed_votes, labels_of, simulated_crowd
from bot.features.labelling.aggregation import (
    DEFAULT_ACCURACY,
    MAX_ACCURACY,
    METHODS,
    Estimate,
    Vote,
    aggregate,
    dawid_skene,
    item_posterior,
    majority,
    most_common_text,
    normalise_text,
    posterior_with_agreement,
    smoothed_accuracy,
    straight_lining,
    weighing_accuracy,
    weighted_posterior,
)

A, B, C = 0, 1, 2


def one_coin(votes: list[tuple[int, float]], options: int) -> list[float]:
    """The posterior over the options by the product of the votes' likelihoods, uniform prior."""
    likelihoods = [
        math.prod(p if label == truth else (1 - p) / (options - 1) for label, p in votes) for truth in range(options)
    ]
    return [likelihood / sum(likelihoods) for likelihood in likelihoods]


def fields(estimate: Estimate) -> tuple[int, float, int]:
    """An estimate as a tuple, to compare its confidence with ``approx``."""
    return estimate.label, estimate.confidence, estimate.answers


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9)


def crowd_votes(seed: int, spammers: float) -> tuple[Crowd, list[Vote]]:
    rng = np.random.default_rng(seed)
    crowd = simulated_crowd(rng, spammers)
    return crowd, fixed_votes(crowd, rng)


# smoothed accuracy ---------------------------------------------------------------------------------------


def test_smoothed_accuracy_adds_half_a_right_and_half_a_wrong_answer() -> None:
    assert smoothed_accuracy(0, 0) == DEFAULT_ACCURACY == 0.5
    assert smoothed_accuracy(3, 3) == 3.5 / 4
    assert smoothed_accuracy(0, 4) == 0.5 / 5
    assert smoothed_accuracy(9, 10) == 9.5 / 11
    assert smoothed_accuracy(1, 2, k=1) == 2 / 4


@pytest.mark.parametrize(("correct", "total", "k"), [(3, 2, 0.5), (-1, 2, 0.5), (1, 2, 0.0)])
def test_smoothed_accuracy_refuses_impossible_counts(correct: int, total: int, k: float) -> None:
    with pytest.raises(ValueError, match=r"need|smoothing"):
        smoothed_accuracy(correct, total, k)


# the one-coin posterior ------------------------------------------------------------------------------------


def test_two_votes_for_a_at_0_9_and_one_for_b_at_0_6() -> None:
    # A: 0.9 * 0.9 * (0.4 / 2) = 0.162, B: 0.05 * 0.05 * 0.6 = 0.0015, C: 0.05 * 0.05 * 0.2 = 0.0005
    votes = [(A, 0.9), (A, 0.9), (B, 0.6)]
    expected = 0.162 / (0.162 + 0.0015 + 0.0005)
    assert one_coin(votes, 3)[A] == pytest.approx(expected, rel=1e-12)
    estimate = item_posterior(votes, 3)
    assert estimate.label == A and estimate.answers == 3
    assert estimate.confidence == pytest.approx(expected, rel=1e-12)


def test_the_vectorised_posterior_agrees_with_the_product_item_by_item() -> None:
    rng = np.random.default_rng(1)
    accuracy = {member: float(p) for member, p in enumerate(rng.uniform(0.4, 0.98, 12))}
    votes = [
        Vote(int(member), item, int(rng.integers(0, 4)))
        for item in range(200)
        for member in rng.choice(12, int(rng.integers(1, 7)), replace=False)
    ]
    estimates = weighted_posterior(votes, 4, accuracy)
    assert set(estimates) == set(range(200))
    for item, estimate in estimates.items():
        pairs = [(vote.label, accuracy[vote.member]) for vote in votes if vote.item == item]
        posterior = one_coin(pairs, 4)
        assert estimate.confidence == pytest.approx(max(posterior), rel=1e-9)
        assert posterior[estimate.label] == pytest.approx(max(posterior), rel=1e-9)
        assert estimate.answers == len(pairs)
        assert fields(item_posterior(pairs, 4)) == (estimate.label, approx(estimate.confidence), estimate.answers)


def test_members_without_an_accuracy_count_with_the_default() -> None:
    votes = [Vote(1, 10, A), Vote(2, 10, B), Vote(3, 10, B)]
    (estimate,) = weighted_posterior(votes, 3, {1: 0.9}).values()
    expected = one_coin([(A, 0.9), (B, DEFAULT_ACCURACY), (B, DEFAULT_ACCURACY)], 3)
    assert fields(estimate) == (A, approx(expected[A]), 3)


def test_a_member_below_chance_weighs_nothing_rather_than_voting_against() -> None:
    without = item_posterior([(A, 0.8), (B, 0.7)], 3)
    assert fields(item_posterior([(A, 0.8), (B, 0.7), (B, 0.1)], 3)) == (A, approx(without.confidence), 3)
    assert fields(item_posterior([(C, 1 / 3)], 3)) == (A, approx(1 / 3), 1)  # at chance: the prior


def test_a_perfect_record_is_trusted_up_to_the_cap_only() -> None:
    estimate = item_posterior([(A, 1.0), (B, 1.0)], 3)
    cap = one_coin([(A, MAX_ACCURACY), (B, MAX_ACCURACY)], 3)
    assert fields(estimate) == (A, approx(cap[A]), 2)  # a tie: finite, the lower index
    # capped at 0.99, one vote is worth 0.99 / 0.005 = 198 to 1: more than two at 0.8 (8² = 64), less than two at 0.9
    # (18² = 324)
    assert item_posterior([(B, 1.0), (A, 0.8), (A, 0.8)], 3).label == B
    assert item_posterior([(B, 1.0), (A, 0.9), (A, 0.9)], 3).label == A


# majority ----------------------------------------------------------------------------------------------------


def test_majority_is_the_most_voted_label_with_its_share() -> None:
    votes = [Vote(1, 5, B), Vote(2, 5, B), Vote(3, 5, A), Vote(1, 6, C)]
    assert majority(votes, 3) == {5: Estimate(B, 2 / 3, 3), 6: Estimate(C, 1.0, 1)}


def test_a_majority_tie_goes_to_the_lowest_option_at_half_confidence() -> None:
    votes = [Vote(1, 5, C), Vote(2, 5, B), Vote(3, 7, C), Vote(4, 7, A), Vote(5, 7, B)]
    assert majority(votes, 3) == {5: Estimate(B, 0.5, 2), 7: Estimate(A, 1 / 3, 3)}


# Dawid-Skene ---------------------------------------------------------------------------------------------------


def test_dawid_skene_beats_majority_with_30_percent_spammers() -> None:
    crowd, votes = crowd_votes(7, 0.30)
    result = dawid_skene(votes, 3)
    majority_accuracy = crowd.accuracy(labels_of(majority(votes, 3)))
    ds_accuracy = crowd.accuracy(labels_of(result.items))
    assert ds_accuracy >= 0.92
    assert ds_accuracy >= majority_accuracy + 0.05
    assert 1 <= result.iterations < 100  # converged


def test_dawid_skene_finds_the_spammers_including_the_always_first_option_ones() -> None:
    crowd, votes = crowd_votes(7, 0.30)
    accuracy = dawid_skene(votes, 3).member_accuracy
    by_kind = {
        kind: [accuracy[m] for m in range(crowd.members) if crowd.kind[m] == kind] for kind in (CAREFUL, RANDOM, FIRST)
    }
    assert max(by_kind[FIRST]) < 0.4  # right only when the truth is the first option: about a third
    assert max(by_kind[RANDOM]) < 0.45
    assert min(by_kind[CAREFUL]) > 0.55
    assert all(0.0 <= value <= 1.0 for value in accuracy.values())


def test_dawid_skene_on_unanimous_votes_keeps_the_labels() -> None:
    votes = [Vote(member, item, item % 3) for item in range(6) for member in range(4)]
    result = dawid_skene(votes, 3)
    assert {item: estimate.label for item, estimate in result.items.items()} == {i: i % 3 for i in range(6)}
    assert all(estimate.confidence > 0.95 and estimate.answers == 4 for estimate in result.items.values())
    assert set(result.member_accuracy) == {0, 1, 2, 3}


# dispatch, empty and invalid input ------------------------------------------------------------------------------


def test_aggregate_dispatches_every_method() -> None:
    _, votes = crowd_votes(3, 0.15)
    gold = {member: (4, 5) for member in range(40)}
    assert set(METHODS) == {"posterior", "dawid_skene", "majority"}
    assert aggregate("majority", votes, 3, gold) == majority(votes, 3)
    assert aggregate("posterior", votes, 3, gold) == posterior_with_agreement(votes, 3, gold)
    assert aggregate("dawid_skene", votes, 3, gold) == dawid_skene(votes, 3).items
    with pytest.raises(ValueError, match="unknown aggregation method"):
        aggregate("median", votes, 3, gold)


def test_agreement_with_what_the_crowd_is_sure_of_weighs_members_better_than_gold_alone() -> None:
    """30 % spammers, a few gold answers each: gold alone leaves the weights noisy; adding each member's
    agreement with the items a first pass is sure of labels more items right."""
    crowd, votes = crowd_votes(7, 0.30)
    gold: dict[int, tuple[int, int]] = {}
    for vote in votes:
        if crowd.gold[vote.item]:
            right, given = gold.get(vote.member, (0, 0))
            gold[vote.member] = (right + int(vote.label == crowd.truth[vote.item]), given + 1)
    by_gold = {member: smoothed_accuracy(*record) for member, record in gold.items()}
    with_agreement = crowd.accuracy(labels_of(posterior_with_agreement(votes, 3, gold)))
    assert with_agreement > crowd.accuracy(labels_of(weighted_posterior(votes, 3, by_gold)))


def test_empty_inputs() -> None:
    assert majority([], 3) == {}
    assert weighted_posterior([], 3, {}) == {}
    result = dawid_skene([], 3)
    assert (result.items, result.member_accuracy, result.iterations) == ({}, {}, 0)
    assert fields(item_posterior([], 3)) == (A, approx(1 / 3), 0)
    assert most_common_text([]) == ("", 0.0, 0)
    assert not straight_lining([])
    assert normalise_text("  ...  ") == ""


def test_labels_outside_the_options_and_fewer_than_two_options_are_refused() -> None:
    with pytest.raises(ValueError, match="option indices"):
        majority([Vote(1, 1, 3)], 3)
    with pytest.raises(ValueError, match="option indices"):
        dawid_skene([Vote(1, 1, -1)], 3)
    with pytest.raises(ValueError, match="option indices"):
        item_posterior([(3, 0.9)], 3)
    with pytest.raises(ValueError, match="two options"):
        weighted_posterior([Vote(1, 1, 0)], 1, {})


# straight-lining ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "run", "expected"),
    [
        ([2, 2, 2, 2, 2], 5, True),
        ([2, 2, 2, 2], 5, False),
        ([0, 3, 3, 3, 3, 3, 1], 5, True),
        ([3, 3, None, 3, 3, 3], 5, False),  # a skip ends the run
        ([3, 3, 1, 3, 3, 3], 5, False),
        ([1, 1, 1], 3, True),
        ([None, None, None, None, None], 5, False),
    ],
)
def test_straight_lining(positions: list[int | None], run: int, expected: bool) -> None:
    assert straight_lining(positions, run) is expected


def test_straight_lining_needs_a_run_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        straight_lining([1, 1], run=0)


# free text ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ștrudel  ", "strudel"),
        ("ştrudel", "strudel"),  # the cedilla form Romanian keyboards often type
        ("  Hello,\t  WORLD!! ", "hello, world"),
        ("«Mărțișor»", "martisor"),
        ("Straße", "strasse"),
        ("2,5 kg.", "2,5 kg"),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


def test_most_common_text_compares_normalised_answers() -> None:
    assert most_common_text(["Ștrudel", "strudel.", " STRUDEL", "apple pie"]) == ("strudel", 0.75, 4)


def test_most_common_text_breaks_ties_by_first_seen() -> None:
    assert most_common_text(["Pear", "apple", "APPLE", "pear!"]) == ("pear", 0.5, 4)


def test_when_every_voter_is_at_chance_the_majority_decides_not_the_option_order() -> None:
    """Two options and no gold yet: every vote weighs nothing, so the votes themselves break the tie."""
    alone = item_posterior([(1, 0.5), (1, 0.5), (0, 0.5)], 2)
    assert (alone.label, alone.confidence) == (1, pytest.approx(0.5))
    votes = [Vote(member, 7, label) for member, label in enumerate([1, 1, 0])]
    assert weighted_posterior(votes, 2, {})[7].label == 1


def test_a_newcomers_vote_is_weighed_with_the_crowds_accuracy_until_their_own_gold_says_more() -> None:
    assert weighing_accuracy(0, 0, 0.8) == pytest.approx(0.8)
    assert weighing_accuracy(0, 0, 0.5) == smoothed_accuracy(0, 0)
    assert weighing_accuracy(3, 3, 0.5) == smoothed_accuracy(3, 3)
    assert weighing_accuracy(0, 10, 0.8) == pytest.approx(0.8 / 11)  # ten wrong gold answers outweigh the crowd
