"""The statistics of labelling jobs: member reliability from gold, aggregated labels with a confidence.

Pure functions, no storage and no clock: the serving side reads answers from the store and calls these.
An item is answered by several members, each choosing one of ``options`` labels (0 … options-1).

Three aggregations, from the cheapest to the most thorough:

- ``majority``: the most frequent label. Needs nothing else; every vote counts alike, spammers too.
- ``weighted_posterior``: the one-coin model. Each member is right with their probability ``p`` (their
  smoothed accuracy on gold items) and otherwise picks one of the other labels at random. Answers of
  members who do well on gold count more; those of members at chance count for nothing.
- ``dawid_skene``: Dawid and Skene's EM, which needs no gold: it learns a full confusion matrix per
  member from the agreement between members, so it also catches biased members (one who always picks
  the first option is right on a third of a balanced job, which a one-coin model only sees as "weak").

Free-text items (transcriptions) are compared after ``normalise_text`` and aggregated with
``most_common_text``; ``straight_lining`` flags members who answer a scale with the same position again
and again.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

K_SMOOTHING = 0.5
"""Jeffreys' prior for a right/wrong rate: half a right and half a wrong answer before any gold is seen."""

MAX_ACCURACY = 0.99
"""The most a single member's vote is trusted: see ``vote_weights``."""

DS_SMOOTHING = 1.0
"""Laplace's add-one on every confusion cell and class count of ``dawid_skene``."""

METHODS = ("posterior", "dawid_skene", "majority")

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def smoothed_accuracy(correct: int, total: int, k: float = K_SMOOTHING) -> float:
    """``(k + correct) / (2k + total)``: a member's share of right gold answers, pulled towards one half.

    The raw share would call a member with one right gold answer perfect and one with one wrong answer
    useless; the smoothing keeps both near 0.5 until the evidence piles up (3 of 3 gives 0.875, 30 of 30
    0.98), and a member with no gold yet gets exactly 0.5.
    """
    if not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total, got {correct} of {total}")
    if k <= 0:
        raise ValueError(f"the smoothing must be positive, got {k}")
    return (k + correct) / (2 * k + total)


def weighing_accuracy(correct: int, total: int, crowd: float, k: float = K_SMOOTHING) -> float:
    """``(2k·crowd + correct) / (2k + total)``: the accuracy a member's vote is weighed with, pulled towards
    the crowd's pooled gold accuracy instead of one half.

    ``smoothed_accuracy`` is what a member's record says of them, and it rightly starts at one half. But
    weighing a newcomer's vote at one half says "no better than a coin", so on a three-option job four
    agreeing newcomers reach only 0.89 and items need more answers than the crowd deserves. Before a
    member's own gold answers pile up, the best guess of their accuracy is the crowd's (empirical Bayes);
    with ``crowd = 0.5`` this is exactly ``smoothed_accuracy``.
    """
    if not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total, got {correct} of {total}")
    return (2 * k * crowd + correct) / (2 * k + total)


DEFAULT_ACCURACY = smoothed_accuracy(0, 0)
"""A member without gold answers: what their smoothed accuracy would be, so no member is special-cased."""


@dataclass(frozen=True, slots=True)
class Vote:
    """One member's answer to one item."""

    member: int  # member id
    item: int  # item id
    label: int  # option index 0..options-1


@dataclass(frozen=True, slots=True)
class Estimate:
    """An item's aggregated label."""

    label: int  # the aggregated option index
    confidence: float  # posterior probability of that label (0..1); for majority: the share of votes
    answers: int  # how many votes the item had


@dataclass(frozen=True)
class DawidSkeneResult:
    """What ``dawid_skene`` learnt: the items' labels and how reliable each member turned out to be."""

    items: dict[int, Estimate]
    member_accuracy: dict[int, float]  # sum over k of prior_k * C[k, k] of the member's confusion matrix C
    iterations: int


@dataclass(frozen=True, slots=True)
class _Columns:
    """Votes as arrays, items and members renumbered 0…n-1 (``item_ids[item_index[v]]`` is vote v's item)."""

    item_ids: Ints
    item_index: Ints
    member_ids: Ints
    member_index: Ints
    labels: Ints

    @property
    def items(self) -> int:
        return len(self.item_ids)


def _columns(votes: Iterable[Vote], options: int) -> _Columns:
    """One pass over the votes into numpy arrays: every aggregation works on these, never on objects."""
    _check_options(options)
    rows = list(votes)
    count = len(rows)
    items = np.fromiter((vote.item for vote in rows), np.int64, count)
    members = np.fromiter((vote.member for vote in rows), np.int64, count)
    labels = np.fromiter((vote.label for vote in rows), np.int64, count)
    _check_labels(labels, options)
    item_ids, item_index = np.unique(items, return_inverse=True)
    member_ids, member_index = np.unique(members, return_inverse=True)
    return _Columns(item_ids, item_index, member_ids, member_index, labels)


def _check_options(options: int) -> None:
    if options < 2:
        raise ValueError(f"an item needs at least two options, got {options}")


def _check_labels(labels: Ints, options: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= options):
        raise ValueError(f"labels must be option indices 0..{options - 1}")


def _tally(columns: _Columns, options: int, weights: Floats | None = None) -> Floats:
    """An items × options matrix: per item and label, the number of votes (or the sum of their weights)."""
    cells = np.bincount(
        columns.item_index * options + columns.labels, weights=weights, minlength=columns.items * options
    )
    return cells.astype(np.float64).reshape(columns.items, options)


def _normalised_exp(scores: Floats) -> Floats:
    """Each row's ``exp(scores)`` divided by its sum (a softmax), shifted first so nothing overflows."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: Floats = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def _estimates(columns: _Columns, probabilities: Floats, counts: Floats | None = None) -> dict[int, Estimate]:
    """Each item's most probable label by item id. On a tie, the label with the most ``counts`` (votes)
    when given: weights tie when every voter is at chance (a two-option job before any gold is seen),
    and then the majority should decide, not the order of the options; after that the lowest index."""
    if counts is None:
        best = probabilities.argmax(axis=1)
    else:
        tied = probabilities == probabilities.max(axis=1, keepdims=True)
        best = np.where(tied, counts + 1, 0).argmax(axis=1)
    confidence = probabilities[np.arange(columns.items), best]
    answers = np.bincount(columns.item_index, minlength=columns.items)
    return {
        item: Estimate(label, share, count)
        for item, label, share, count in zip(
            columns.item_ids.tolist(), best.tolist(), confidence.tolist(), answers.tolist(), strict=True
        )
    }


def majority(votes: Iterable[Vote], options: int) -> dict[int, Estimate]:
    """Each item's most voted label, its confidence the share of votes it got; ties go to the lowest index.

    The baseline the others are measured against, and the fallback when nothing is known of the members.
    A tie shows as a confidence of 1/2 (or less), which the serving side can read as "ask someone else".
    """
    columns = _columns(votes, options)
    counts = _tally(columns, options)
    return _estimates(columns, counts / counts.sum(axis=1, keepdims=True))


def vote_weights(accuracy: Floats, options: int) -> Floats:
    """The log-likelihood ratio a vote adds to its label under the one-coin model: ``log(p / ((1-p)/(K-1)))``.

    Under the one-coin model the likelihood of true label c is the product over votes of ``p`` when the
    vote says c and ``(1 - p) / (K - 1)`` otherwise. Divided by the product of ``(1 - p) / (K - 1)`` over
    all votes (the same for every c), it is ``exp`` of the sum of these weights over the votes for c.

    ``p`` is clamped into ``[1/K, MAX_ACCURACY]``:

    - At ``p = 1/K`` the weight is zero: a member at chance tells nothing. Below it the model would turn
      their vote into evidence *against* the label they chose. But a low gold score is a spammer (random
      or always the same option) or bad luck on few gold items, not someone who knows the answer and
      avoids it: such votes carry no information, so they must weigh nothing rather than count negative.
    - At ``p = 1`` the weight is infinite: one member with a perfect gold record would overrule any number
      of others, and two such members disagreeing would give ``inf - inf``. ``MAX_ACCURACY`` (0.99) keeps
      every vote finite; smoothed accuracies stay below it until a member has 50 right gold answers of 50.
    """
    clamped = np.clip(accuracy, 1.0 / options, MAX_ACCURACY)
    weights: Floats = np.log(clamped) - np.log((1.0 - clamped) / (options - 1))
    return weights


def weighted_posterior(
    votes: Iterable[Vote],
    options: int,
    accuracy: Mapping[int, float],
    default_accuracy: float = DEFAULT_ACCURACY,
) -> dict[int, Estimate]:
    """Each item's posterior under the one-coin model with a uniform prior, members' ``accuracy`` given.

    ``accuracy`` is by member id (their ``smoothed_accuracy`` on gold); members missing from it get
    ``default_accuracy``, which is what a member without gold answers would have. Every vote is weighed
    with ``vote_weights``; summed per item and label and normalised, the weights are the posterior. All
    in log space and vectorised: 100,000 votes take a few tens of milliseconds, mostly reading the votes.
    One vote per member and item is the caller's business: a repeated vote counts twice.
    """
    columns = _columns(votes, options)
    member_accuracy = np.array([accuracy.get(member, default_accuracy) for member in columns.member_ids.tolist()])
    weights = vote_weights(member_accuracy, options)[columns.member_index]
    return _estimates(columns, _normalised_exp(_tally(columns, options, weights)), _tally(columns, options))


def item_posterior(votes: Sequence[tuple[int, float]], options: int) -> Estimate:
    """The ``weighted_posterior`` of one item from its votes as ``(label, accuracy)`` pairs.

    Called on every answer of a job with dynamic overlap, to decide whether the item is settled (its
    confidence reached the job's threshold) or needs one more answer; so it is plain Python on the few
    votes an item has, a few microseconds. With no votes the posterior is the uniform prior.
    """
    _check_options(options)
    scores = [0.0] * options
    counts = [0] * options
    weights = vote_weights(np.array([p for _, p in votes], dtype=np.float64), options).tolist()
    for (label, _), weight in zip(votes, weights, strict=True):
        if not 0 <= label < options:
            raise ValueError(f"labels must be option indices 0..{options - 1}")
        scores[label] += weight
        counts[label] += 1
    top = max(scores)
    best = max((label for label in range(options) if scores[label] == top), key=lambda label: (counts[label], -label))
    return Estimate(best, 1.0 / sum(math.exp(score - top) for score in scores), len(votes))


def dawid_skene(
    votes: Iterable[Vote], options: int, max_iterations: int = 100, tolerance: float = 1e-6
) -> DawidSkeneResult:
    """Dawid and Skene's EM: each member's confusion matrix, the class priors and the items' posteriors.

    Starts from the soft majority vote (each item's vote shares), so the classes keep their meaning (a
    random start could swap two labels everywhere and still fit as well). Then, until no item's posterior
    moves by more than ``tolerance`` or after ``max_iterations``:

    - M step: the priors are the posteriors' column means; member m's confusion ``C[m, k, l]``, the
      probability that m answers l when the truth is k, is the posterior mass of k on the items m
      answered l. Both get ``DS_SMOOTHING`` added to every cell first (Laplace): a member with two votes
      would otherwise have zeros, log(0) and a confusion matrix that claims certainty.
    - E step: an item's log posterior of k is ``log prior_k + sum over its votes of log C[m, k, l]``.

    Everything is array arithmetic over all votes at once (``bincount``), K passes per step: 100,000
    votes converge in well under a second.
    """
    columns = _columns(votes, options)
    if not columns.items:
        return DawidSkeneResult({}, {}, 0)
    counts = _tally(columns, options)
    posteriors = counts / counts.sum(axis=1, keepdims=True)
    cells = columns.member_index * options + columns.labels  # vote v's (member, label) cell
    members = len(columns.member_ids)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        priors, confusion = _m_step(posteriors, columns, cells, members, options)
        log_confusion = np.log(confusion).transpose(0, 2, 1).reshape(members * options, options)
        scores = np.log(priors) + _summed(
            log_confusion[cells], columns.item_index, columns.items
        )  # log C[m, :, l] for each vote
        updated = _normalised_exp(scores)
        change = float(np.abs(updated - posteriors).max())
        posteriors = updated
        if change < tolerance:
            break
    priors, confusion = _m_step(posteriors, columns, cells, members, options)
    accuracy = np.einsum("k,mkk->m", priors, confusion)
    return DawidSkeneResult(
        _estimates(columns, posteriors),
        dict(zip(columns.member_ids.tolist(), accuracy.tolist(), strict=True)),
        iterations,
    )


def _m_step(posteriors: Floats, columns: _Columns, cells: Ints, members: int, options: int) -> tuple[Floats, Floats]:
    """Class priors (K) and confusion matrices (members × true K × answered K), smoothed and normalised."""
    priors = posteriors.sum(axis=0) + DS_SMOOTHING
    mass = _summed(posteriors[columns.item_index], cells, members * options)  # (member, answered) × true
    confusion = mass.reshape(members, options, options).transpose(0, 2, 1) + DS_SMOOTHING
    return priors / priors.sum(), confusion / confusion.sum(axis=2, keepdims=True)


def _summed(values: Floats, groups: Ints, size: int) -> Floats:
    """Rows of ``values`` summed by ``groups``: one ``bincount`` per column, much faster than ``np.add.at``."""
    return np.stack([np.bincount(groups, weights=column, minlength=size) for column in values.T], axis=1)


def posterior_with_agreement(
    votes: Iterable[Vote], options: int, gold: Mapping[int, tuple[int, int]], settle_at: float = 0.9
) -> dict[int, Estimate]:
    """A round's items by the one-coin posterior, each member weighed as the labelling feature weighs them
    while serving: their gold answers and their agreement with settled items, pulled towards the crowd.

    ``gold`` holds each member's ``(right, given)`` gold answers. A first pass weighs members by gold alone
    (``weighing_accuracy`` towards the crowd's pooled gold accuracy); the items it is sure of (confidence
    at least ``settle_at``) count as settled, and each member's agreement with them joins their gold
    record for the second, final pass. Gold is a few answers per member; agreement is most of their
    answers, so the weights are far better measured (``python -m bench --only quality``: this beats
    Dawid-Skene with 30 % spammers, where gold-only weights fall behind it).
    """
    votes = list(votes)
    crowd = smoothed_accuracy(sum(right for right, _ in gold.values()), sum(given for _, given in gold.values()))
    members = {vote.member for vote in votes}
    own = {member: gold.get(member, (0, 0)) for member in members}
    first = weighted_posterior(votes, options, {m: weighing_accuracy(*own[m], crowd) for m in members}, crowd)
    agreed: Counter[int] = Counter()
    resolved: Counter[int] = Counter()
    for vote in votes:
        estimate = first[vote.item]
        if estimate.confidence >= settle_at:
            resolved[vote.member] += 1
            agreed[vote.member] += vote.label == estimate.label
    second = {m: weighing_accuracy(own[m][0] + agreed[m], own[m][1] + resolved[m], crowd) for m in members}
    return weighted_posterior(votes, options, second, crowd)


def aggregate(
    method: str, votes: Iterable[Vote], options: int, gold: Mapping[int, tuple[int, int]]
) -> dict[int, Estimate]:
    """The items' estimates by the job's ``method``, one of ``METHODS``; ``gold`` (each member's right and
    given gold answers) serves "posterior" (``posterior_with_agreement``)."""
    if method == "posterior":
        return posterior_with_agreement(votes, options, gold)
    if method == "dawid_skene":
        return dawid_skene(votes, options).items
    if method == "majority":
        return majority(votes, options)
    raise ValueError(f"unknown aggregation method {method!r}; one of {', '.join(METHODS)}")


def straight_lining(positions: Sequence[int | None], run: int = 5) -> bool:
    """True when one position was answered ``run`` or more times in a row; ``None`` (a skip) ends a run.

    A member who taps the same place on every scale question is not reading them; a skip in between
    is not an answer, so it neither continues nor counts towards a run.
    """
    if run < 1:
        raise ValueError(f"a run is at least one answer, got {run}")
    length = 0
    previous: int | None = None
    for position in positions:
        length = 0 if position is None else (length + 1 if position == previous else 1)
        previous = position
        if length >= run:
            return True
    return False


def normalise_text(text: str) -> str:
    """A free-text answer reduced to what should not make two answers differ.

    Case (``casefold``, so "STRASSE" and "straße" meet), accents (NFKD, then combining marks dropped:
    members type "Stefan" for "Ștefan" on keyboards without Romanian letters), runs of whitespace, and
    punctuation at the ends ("strudel." and "strudel"); punctuation inside stays ("2,5" is not "25").
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    collapsed = " ".join(bare.split())
    start, end = 0, len(collapsed)
    while start < end and _trimmed(collapsed[start]):
        start += 1
    while end > start and _trimmed(collapsed[end - 1]):
        end -= 1
    return collapsed[start:end]


def _trimmed(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def most_common_text(texts: Iterable[str]) -> tuple[str, float, int]:
    """The most common normalised answer, its share of the answers, and how many answers there were.

    Ties go to the answer seen first (``Counter`` keeps insertion order). No answers: ``("", 0.0, 0)``.
    """
    counts = Counter(normalise_text(text) for text in texts)
    total = counts.total()
    if not total:
        return "", 0.0, 0
    text, count = counts.most_common(1)[0]
    return text, count / total, total
