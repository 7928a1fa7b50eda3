"""Benchmark 10: labelling jobs. How often each aggregation finds the truth, what dynamic overlap saves,
and how long aggregating a big job takes (:mod:`bot.features.labelling.aggregation`).

A simulated crowd labels ``ITEMS`` three-option items, ``GOLD_SHARE`` of them gold (truth known). Careful
members are right with a probability drawn uniformly from ``CAREFUL_ACCURACY`` and otherwise pick one
of the other options at random; spammers (0 %, 15 % and 30 % of the crowd) are half uniformly random and
half always the first option. Everything is seeded; each repetition is another seed, and the accuracy
figures are medians over them (the JSON keeps every seed's value).

- Accuracy: every item, gold included, gets ``OVERLAP`` answers from distinct random members. Majority,
  the posterior (``posterior_with_agreement``: members weighed by their gold answers and their agreement
  with the items a first pass is sure of, as the product weighs them) and both Dawid-Skene
  implementations (ours, crowd-kit's when ``.[quality-check]`` is installed; neither uses gold) label
  the items; the figure is the share of non-gold items labelled right.
- Serving: the same crowds with 15 % spammers answer through a simulation of the product's serving,
  once with dynamic overlap (answers until the item's posterior reaches ``CONFIDENCE``, between
  ``MIN_ANSWERS`` and ``MAX_ANSWERS``) and once with a fixed ``OVERLAP``; both mix gold in and hold
  members back as the product does (see ``serve``): a member's vote is weighed by their gold answers and
  their agreement with settled items, pulled towards the crowd's gold accuracy while both are few.
- Time: ``posterior_with_agreement`` and ``dawid_skene`` on 100,000 answers (20,000 items × 5), from the
  ``Vote`` objects to the estimates; beside them one ``item_posterior`` call, made on every answer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import timeit
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.runner import Context, Figure, Stopwatch, Target, compared, interleaved, measured, median
from bot.features.labelling.aggregation import (
    Estimate,
    Vote,
    dawid_skene,
    item_posterior,
    majority,
    posterior_with_agreement,
    smoothed_accuracy,
    weighing_accuracy,
)
from bot.features.labelling.jobs import reliability, right_of_given
from bot.store.records import Evidence

ITEMS = 1_000
OPTIONS = 3
GOLD_SHARE = 0.05
SERVED_GOLD_SHARE = 0.1  # the catalog's default quality.gold_share: how often a serve is a gold item
MEMBERS = 40
OVERLAP = 5
CAREFUL_ACCURACY = (0.7, 0.95)
SPAMMER_SHARES = (0.0, 0.15, 0.30)
SERVING_SPAMMERS = 0.15
SEED = 18  # issue 18

CONFIDENCE = 0.9
MIN_ANSWERS = 3
MAX_ANSWERS = 7
MIN_GOLD = 3
EXCLUDE_BELOW = 0.6

TIMING_ITEMS = 20_000
QUICK_TIMING_ITEMS = 4_000
TIMING_MEMBERS = 1_000
ITEM_POSTERIOR_CALLS = 10_000

VERSUS_CROWDKIT = Target(">=", -0.01)
VERSUS_MAJORITY = Target(">=", 0.05)
ANSWERS_RATIO = Target("<=", 0.7)
ACCURACY_MARGIN = Target(">=", -0.005)  # a noise margin of half a point: 5 of the 950 non-gold items
TIME_TARGET = Target("<", 2.0)
CROWDKIT_MISSING = "install .[quality-check]"

CAREFUL, RANDOM, FIRST = 0, 1, 2

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Labeller = Callable[[list[Vote], dict[int, tuple[int, int]]], dict[int, int] | None]


@dataclass(frozen=True)
class Crowd:
    """The truth of every item, which items are gold, and how every member answers."""

    truth: Ints  # by item: the right option
    gold: NDArray[np.bool_]  # by item
    skill: Floats  # by member: the probability that a careful member is right
    kind: Ints  # by member: CAREFUL, RANDOM or FIRST

    @property
    def members(self) -> int:
        return len(self.kind)

    def answers(self, members: Ints, items: Ints, rng: np.random.Generator) -> Ints:
        """The options the members choose on the items (pairwise): one-coin careful members, spammers."""
        truth = self.truth[items]
        right = rng.random(len(items)) < self.skill[members]
        wrong = (truth + rng.integers(1, OPTIONS, len(items))) % OPTIONS  # another option, uniformly
        chosen = np.where(right, truth, wrong)
        chosen = np.where(self.kind[members] == RANDOM, rng.integers(0, OPTIONS, len(items)), chosen)
        labels: Ints = np.where(self.kind[members] == FIRST, 0, chosen)
        return labels

    def accuracy(self, labels: dict[int, int]) -> float:
        """The share of non-gold items whose label is right (an item without a label counts as wrong)."""
        regular = np.flatnonzero(~self.gold).tolist()
        truth = self.truth.tolist()
        return sum(1 for item in regular if labels.get(item) == truth[item]) / len(regular)


def simulated_crowd(rng: np.random.Generator, spammers: float, items: int = ITEMS, members: int = MEMBERS) -> Crowd:
    """A crowd with ``spammers`` of its members spamming, half at random and half on the first option."""
    spamming = round(spammers * members)
    kind = np.full(members, CAREFUL, dtype=np.int64)
    kind[: spamming // 2] = RANDOM
    kind[spamming // 2 : spamming] = FIRST
    gold = np.zeros(items, dtype=np.bool_)
    gold[rng.choice(items, round(GOLD_SHARE * items), replace=False)] = True
    return Crowd(rng.integers(0, OPTIONS, items), gold, rng.uniform(*CAREFUL_ACCURACY, members), kind)


def fixed_votes(crowd: Crowd, rng: np.random.Generator, overlap: int = OVERLAP) -> list[Vote]:
    """``overlap`` answers on every item (gold too) from distinct members drawn at random."""
    items = np.repeat(np.arange(len(crowd.truth)), overlap)
    members = np.concatenate([rng.choice(crowd.members, overlap, replace=False) for _ in crowd.truth])
    labels = crowd.answers(members, items, rng)
    return [Vote(*row) for row in zip(members.tolist(), items.tolist(), labels.tolist(), strict=True)]


def gold_records(crowd: Crowd, votes: Sequence[Vote]) -> dict[int, tuple[int, int]]:
    """Each member's (right, given) answers on the gold items they answered (members without gold: absent)."""
    right: dict[int, int] = {}
    total: dict[int, int] = {}
    for vote in votes:
        if crowd.gold[vote.item]:
            total[vote.member] = total.get(vote.member, 0) + 1
            right[vote.member] = right.get(vote.member, 0) + int(vote.label == crowd.truth[vote.item])
    return {member: (right.get(member, 0), count) for member, count in total.items()}


def labels_of(estimates: dict[int, Estimate]) -> dict[int, int]:
    return {item: estimate.label for item, estimate in estimates.items()}


def crowdkit_labels(votes: list[Vote], gold: dict[int, tuple[int, int]]) -> dict[int, int] | None:
    """crowd-kit's ``DawidSkene`` on the same votes (it uses no gold records); ``None`` when
    the optional extra is not installed.

    Imported by name at call time, so the benchmark runs without it. Its pandas calls warn about
    deprecations on pandas 3, which are its business, not this run's: silenced.
    """
    try:
        aggregation = importlib.import_module("crowdkit.aggregation")
        pandas = importlib.import_module("pandas")
    except ImportError:
        return None
    frame = pandas.DataFrame(
        {"task": [v.item for v in votes], "worker": [v.member for v in votes], "label": [v.label for v in votes]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found: Any = aggregation.DawidSkene(n_iter=100).fit_predict(frame)
    return {int(item): int(label) for item, label in found.items()}


def crowdkit_version() -> str:
    try:
        return f"crowd-kit {importlib.metadata.version('crowd-kit')}"
    except importlib.metadata.PackageNotFoundError:
        return CROWDKIT_MISSING


LABELLERS: dict[str, Labeller] = {
    "majority": lambda votes, gold: labels_of(majority(votes, OPTIONS)),
    "posterior": lambda votes, gold: labels_of(posterior_with_agreement(votes, OPTIONS, gold)),
    "dawid_skene": lambda votes, gold: labels_of(dawid_skene(votes, OPTIONS).items),
    "crowdkit_ds": crowdkit_labels,
}


def accuracies(rng: np.random.Generator, spammers: float) -> dict[str, float | None]:
    """Each labeller's accuracy on one seeded crowd (``None``: crowd-kit is not installed)."""
    crowd = simulated_crowd(rng, spammers)
    votes = fixed_votes(crowd, rng)
    gold = gold_records(crowd, votes)
    found: dict[str, float | None] = {}
    for name, labeller in LABELLERS.items():
        labels = labeller(votes, gold)
        found[name] = None if labels is None else crowd.accuracy(labels)
    return found


def accuracy_figures(spammers: float, repetitions: int) -> list[Figure]:
    """The four labellers' accuracies on ``repetitions`` seeded crowds; at 30 % also the targets' differences."""
    percent = round(spammers * 100)
    runs = [accuracies(np.random.default_rng((SEED, percent, seed)), spammers) for seed in range(repetitions)]
    prefix = f"quality.spam{percent}"
    note = f"{ITEMS} items x {OVERLAP} answers, {MEMBERS} members, {spammers:.0%} spammers"
    notes = dict.fromkeys(LABELLERS, note) | {"crowdkit_ds": f"{note}; {crowdkit_version()}"}
    figures = [share_figure(f"{prefix}.{name}", [run[name] for run in runs], notes[name]) for name in LABELLERS]
    if spammers == max(SPAMMER_SHARES):
        differences = (
            ("posterior", "crowdkit_ds", VERSUS_CROWDKIT),
            ("dawid_skene", "crowdkit_ds", VERSUS_CROWDKIT),
            ("posterior", "majority", VERSUS_MAJORITY),
        )
        for ours, theirs, target in differences:
            paired = [difference(run[ours], run[theirs]) for run in runs]
            figures.append(share_figure(f"{prefix}.{ours}_minus_{theirs}", paired, notes[theirs], target))
    return figures


def difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def share_figure(name: str, values: list[float | None], note: str, target: Target | None = None) -> Figure:
    """The median over seeds, or n/a when a value is missing (crowd-kit not installed)."""
    present = [value for value in values if value is not None]
    if len(present) < len(values):
        return Figure(name, None, "share", target, CROWDKIT_MISSING)
    return measured(name, present, "share", target, note)


@dataclass(frozen=True)
class Served:
    """What a serving simulation produced: the votes that count on non-gold items, gold accuracies,
    exclusions, and the answers spent per non-gold item (those of members held back later included)."""

    votes: list[Vote]
    gold: dict[int, tuple[int, int]]
    excluded: NDArray[np.bool_]
    answers_per_item: float


def serve(crowd: Crowd, rng: np.random.Generator, *, dynamic: bool) -> Served:
    """The product's serving, one answer at a time, until every non-gold item is closed.

    A random member who is not held back asks for work and gets, as the labelling store serves it, an
    open item they have not answered, the one with the most answers first, then the oldest (a new one
    when there is none); about ``SERVED_GOLD_SHARE`` of the time a gold item instead, chosen the same way
    among gold items with a slot left. Gold only comes mixed in with real work. Every item, gold too,
    takes at most ``MAX_ANSWERS`` (dynamic) or ``OVERLAP`` (fixed) answers. A non-gold item closes at
    ``OVERLAP`` answers (fixed), or (dynamic) once ``item_posterior``, each vote weighed as the labelling
    feature does (the member's gold answers and agreement with closed items, pulled towards the crowd's
    gold accuracy), reaches ``CONFIDENCE`` after at least ``MIN_ANSWERS``, or at ``MAX_ANSWERS``; closing
    credits its voters' agreement. After each gold answer, a member with ``MIN_GOLD`` or more whose
    ``reliability`` is below ``EXCLUDE_BELOW`` is held back: their votes stop counting, and an item they
    helped close that the others' votes alone do not settle opens again.
    """
    cap = MAX_ANSWERS if dynamic else OVERLAP
    gold_taken = dict.fromkeys(np.flatnonzero(crowd.gold).tolist(), 0)  # gold item → answers so far
    waiting = rng.permutation(np.flatnonzero(~crowd.gold)).tolist()[::-1]  # new items, popped from the end
    answers: dict[int, list[tuple[int, int]]] = {}  # open item (oldest first) → (member, label)
    closed: dict[int, list[tuple[int, int]]] = {}  # settled item → the votes that count
    spent = 0  # answers to non-gold items, also those that stopped counting
    right = np.zeros(crowd.members, dtype=np.int64)
    judged = np.zeros(crowd.members, dtype=np.int64)
    excluded = np.zeros(crowd.members, dtype=np.bool_)
    agreed = np.zeros(crowd.members, dtype=np.int64)
    resolved = np.zeros(crowd.members, dtype=np.int64)
    labels: dict[int, int] = {}  # settled item → the label its voters were credited against
    seen: list[set[int]] = [set() for _ in range(crowd.members)]

    def accuracy(member: int) -> float:
        return smoothed_accuracy(int(right[member]), int(judged[member]))

    def weight(member: int) -> float:
        """As the labelling feature weighs a vote: the member's gold record and their agreement with settled
        items, pulled towards the crowd's gold record."""
        counted = ~excluded
        crowd = smoothed_accuracy(int(right[counted].sum()), int(judged[counted].sum()))
        return weighing_accuracy(*right_of_given(evidence(member)), crowd)

    def evidence(member: int) -> Evidence:
        return Evidence(int(judged[member]), int(right[member]), int(resolved[member]), int(agreed[member]))

    def credit(item: int, sign: int) -> None:
        """Count (or, ``sign`` -1, take back) the agreement of an item's voters with its settled label."""
        given = closed[item]
        if sign > 0:
            labels[item] = item_posterior([(label, weight(member)) for member, label in given], OPTIONS).label
        settled = labels[item]
        for member, label in given:
            resolved[member] += sign
            agreed[member] += sign * (label == settled)

    def closes(given: list[tuple[int, int]]) -> bool:
        if not dynamic:
            return len(given) >= OVERLAP
        if len(given) >= MAX_ANSWERS:
            return True
        pairs = [(label, weight(member)) for member, label in given]
        return len(given) >= MIN_ANSWERS and item_posterior(pairs, OPTIONS).confidence >= CONFIDENCE

    def reconsider(member: int) -> None:
        """As the store does when a member is held back: their votes stop counting (their slots come
        back), and an item they helped close that the others' votes alone do not settle opens again."""
        for item, given in [*closed.items(), *answers.items()]:
            kept = [(voter, label) for voter, label in given if voter != member]
            if len(kept) == len(given):
                continue
            if item in closed:
                credit(item, -1)
                closed[item] = kept
                if closes(kept):
                    credit(item, +1)
                else:
                    answers[item] = closed.pop(item)
            else:
                answers[item] = kept

    def nearest(counts: dict[int, int], member: int) -> int | None:
        """The item with the most answers (the oldest of those) the member has not answered, if any."""
        candidates = [item for item, count in counts.items() if count < cap and item not in seen[member]]
        return max(candidates, key=counts.__getitem__) if candidates else None

    while answers or waiting:
        active = np.flatnonzero(~excluded)
        if len(active) < cap:
            raise RuntimeError("the crowd ran out of members")
        member = int(rng.choice(active))
        item = nearest({item: len(given) for item, given in answers.items()}, member)
        if item is None and waiting:
            item = waiting.pop()
            answers[item] = []
        if item is None:
            continue  # every open item already has this member's answer: nothing, gold neither
        gold = nearest(gold_taken, member) if rng.random() < SERVED_GOLD_SHARE else None
        item = item if gold is None else gold
        seen[member].add(item)
        label = int(crowd.answers(np.array([member]), np.array([item]), rng)[0])
        if item in gold_taken:
            gold_taken[item] += 1
            judged[member] += 1
            right[member] += label == crowd.truth[item]
            if judged[member] >= MIN_GOLD and reliability(evidence(member)) < EXCLUDE_BELOW:
                excluded[member] = True
                reconsider(member)
            continue
        answers[item].append((member, label))
        spent += 1
        if closes(answers[item]):
            closed[item] = answers.pop(item)
            credit(item, +1)
    votes = [Vote(member, item, label) for item, given in (closed | answers).items() for member, label in given]
    items = len(closed) + len(answers)
    records = {member: (int(right[member]), int(judged[member])) for member in range(crowd.members)}
    return Served(votes, records, excluded, spent / items)


def serving_figures(repetitions: int) -> list[Figure]:
    """Dynamic against fixed overlap on the 15 % spammer crowds of ``accuracy_figures`` (same seeds), each
    crowd served both ways."""
    spent: dict[str, list[float]] = {"dynamic": [], "fixed": []}
    right: dict[str, list[float]] = {"dynamic": [], "fixed": []}
    excluded: dict[int, list[int]] = {CAREFUL: [], RANDOM: [], FIRST: []}
    for seed in range(repetitions):
        percent = round(SERVING_SPAMMERS * 100)
        crowd = simulated_crowd(np.random.default_rng((SEED, percent, seed)), SERVING_SPAMMERS)
        for turn, name in enumerate(spent):
            served = serve(crowd, np.random.default_rng((SEED, percent, seed, turn)), dynamic=name == "dynamic")
            spent[name].append(served.answers_per_item)
            right[name].append(crowd.accuracy(labels_of(posterior_with_agreement(served.votes, OPTIONS, served.gold))))
            if name == "dynamic":
                for kind, counts in excluded.items():
                    counts.append(int((served.excluded & (crowd.kind == kind)).sum()))
    spammers = round(SERVING_SPAMMERS * MEMBERS)
    note = (
        f"the {SERVING_SPAMMERS:.0%} spammer crowds ({spammers} of {MEMBERS}); dynamic: confidence {CONFIDENCE},"
        f" {MIN_ANSWERS}-{MAX_ANSWERS} answers; fixed: {OVERLAP}; in both gold mixed in at {SERVED_GOLD_SHARE:.0%}"
        f" of serves and members held back below {EXCLUDE_BELOW} after {MIN_GOLD} gold answers"
    )
    exclusions = (
        f"median excluded under dynamic overlap: {median(excluded[RANDOM]) + median(excluded[FIRST]):g} of"
        f" {spammers} spammers, {median(excluded[CAREFUL]):g} of {MEMBERS - spammers} careful members"
    )
    accuracy_note = f"{note}; the final labels by posterior_with_agreement"
    return [
        measured("quality.serving.dynamic_answers_per_item", spent["dynamic"], "answers", note=exclusions),
        measured("quality.serving.fixed_answers_per_item", spent["fixed"], "answers", note=note),
        compared("quality.serving.dynamic_vs_fixed_answers", spent["dynamic"], spent["fixed"], ANSWERS_RATIO, note),
        measured("quality.serving.dynamic_accuracy", right["dynamic"], "share", note=accuracy_note),
        measured("quality.serving.fixed_accuracy", right["fixed"], "share", note=accuracy_note),
        measured(
            "quality.serving.dynamic_minus_fixed_accuracy",
            [a - b for a, b in zip(right["dynamic"], right["fixed"], strict=True)],
            "share",
            ACCURACY_MARGIN,
            "paired by seed; the target is a noise margin of half a point (5 of 950 items)",
        ),
    ]


async def timing_figures(ctx: Context) -> list[Figure]:
    """Seconds to aggregate 5 answers on each of ``TIMING_ITEMS`` items, posterior and Dawid-Skene in turn."""
    items = QUICK_TIMING_ITEMS if ctx.quick else TIMING_ITEMS
    rng = np.random.default_rng(SEED)
    crowd = simulated_crowd(rng, SERVING_SPAMMERS, items=items, members=TIMING_MEMBERS)
    votes = fixed_votes(crowd, rng)
    gold = gold_records(crowd, votes)

    def timed(aggregate: Callable[[], object]) -> Callable[[int], Awaitable[float]]:
        async def run(repetition: int) -> float:
            watch = Stopwatch()
            aggregate()
            return watch.elapsed

        return run

    results = await interleaved(
        [
            ("posterior", timed(lambda: posterior_with_agreement(votes, OPTIONS, gold))),
            ("dawid_skene", timed(lambda: dawid_skene(votes, OPTIONS))),
        ],
        ctx.repetitions,
        warmup=1,
    )
    note = f"{len(votes):,} answers ({items:,} items x {OVERLAP}, {TIMING_MEMBERS:,} members), from Vote objects"
    one_item = [(0, 0.9), (0, 0.8), (1, 0.6), (2, 0.5), (0, 0.75)]
    per_call = [
        timeit.timeit(lambda: item_posterior(one_item, OPTIONS), number=ITEM_POSTERIOR_CALLS) / ITEM_POSTERIOR_CALLS
        for _ in range(ctx.repetitions)
    ]
    return [
        measured(f"quality.aggregate.{name}", seconds, "s", TIME_TARGET, note) for name, seconds in results.items()
    ] + [measured("quality.item_posterior", [s * 1e6 for s in per_call], "µs", note="one item, 5 answers")]


async def run(ctx: Context) -> list[Figure]:
    figures = [figure for spammers in SPAMMER_SHARES for figure in accuracy_figures(spammers, ctx.repetitions)]
    ctx.log(f"quality: accuracy done ({crowdkit_version()})")
    figures += serving_figures(ctx.repetitions)
    return figures + await timing_figures(ctx)
