"""A round's labelling jobs read back for moderators and the business: labels, confidence, members' records.

The item rows keep the label each item settled with while the round ran (the one-coin posterior of the
moment). What ``/results``, ``/quality``, ``/member`` and the export show is aggregated again here, once
for all of them, with the campaign's ``quality.aggregation`` method over the votes of members who are
not held back, each weighed by their gold record now (and, for ``posterior``, their agreement with the
items the first pass is sure of): a member held back after their votes were counted no longer sways any
item, and every report agrees with the others.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.catalog import Campaign, Quality, Task, TaskKind
from bot.context import Services
from bot.features.labelling.aggregation import Vote, aggregate, most_common_text, smoothed_accuracy
from bot.features.labelling.jobs import votes_of
from bot.store.records import ItemState, LabelAnswer, MemberQuality

TOO_FAST = "too_fast"  # the flag a label's unit writes on an answer given under ``quality.min_seconds``


@dataclass(frozen=True, slots=True)
class ItemResult:
    """An item with its label as the reports show it: aggregated (a vote), or for gold the known answer.

    ``confidence`` is ``None`` for gold (known, not estimated) and for an item nobody counted has voted on.
    ``answers`` counts every label the item got, held-back members' too (the store's count of the item's
    answers gives a held-back member's slot back).
    """

    state: ItemState
    label: str | None
    confidence: float | None
    answers: int

    @property
    def gold(self) -> bool:
        return self.state.gold is not None


@dataclass(frozen=True)
class JobAnalysis:
    """One job of a round: its items' labels, the round records of the members who labelled it, and
    how many of its answers came too fast."""

    task: Task
    quality: Quality
    items: tuple[ItemResult, ...]
    members: tuple[MemberQuality, ...]
    too_fast: int

    @property
    def settled(self) -> list[ItemResult]:
        """Retired items: enough answers agreed (or the overlap's maximum was reached)."""
        return [item for item in self.items if item.state.status == "retired"]

    @property
    def open(self) -> int:
        """Items still taking answers, gold aside (gold never settles: it is counted apart)."""
        return sum(item.state.status == "open" and not item.gold for item in self.items)

    @property
    def gold_items(self) -> int:
        return sum(item.gold for item in self.items)

    @property
    def withdrawn(self) -> Counter[str]:
        """Withdrawn items by the reason noted when they were withdrawn."""
        return Counter(item.state.note for item in self.items if item.state.status == "withdrawn")

    @property
    def mean_confidence(self) -> float | None:
        """The settled items' mean confidence; ``None`` when none has settled."""
        sure = [item.confidence for item in self.settled if item.confidence is not None]
        return statistics.fmean(sure) if sure else None

    @property
    def judged(self) -> list[float]:
        """The smoothed gold accuracy of each member with ``min_gold`` gold answers or more, ascending."""
        return sorted(
            smoothed_accuracy(member.evidence.gold_correct, member.evidence.gold_answers)
            for member in self.members
            if member.evidence.gold_answers >= self.quality.min_gold
        )

    @property
    def answers(self) -> int:
        """Labels given to the job's items ("can't tell" aside), held-back members' included."""
        return sum(item.answers for item in self.items)

    @property
    def held_back(self) -> int:
        return sum(member.excluded for member in self.members)

    def distribution(self) -> list[tuple[str, int]]:
        """How many settled items got each label, as votes: every option in order for a choice job, the
        most common texts first for a transcription job."""
        counts = Counter(item.label for item in self.settled if item.label is not None)
        if self.task.kind == TaskKind.FREE_TEXT:
            return counts.most_common()
        return [(vote, counts.get(vote, 0)) for vote in votes_of(self.task)]


@dataclass(frozen=True)
class RoundLabels:
    """Every job of a round, with all its labels and every labelling member's round record."""

    jobs: tuple[JobAnalysis, ...]
    answers: tuple[LabelAnswer, ...]
    members: dict[int, MemberQuality]

    def item_labels(self) -> dict[int, str | None]:
        """Each settled non-gold item's label, by item id: what a member's votes are compared with."""
        return {item.state.id: item.label for job in self.jobs for item in job.settled if not item.gold}


async def round_labels(services: Services, round_id: int, campaign: Campaign) -> RoundLabels:
    """Read a round's items, labels and members once and analyse each of the campaign's jobs."""
    labelling = services.store.labelling
    items = await labelling.items_of(round_id)
    answers = await labelling.answers_of(round_id)
    members = {member.user_id: member for member in await labelling.members_of(round_id)}
    jobs = tuple(
        analyse_job(
            task,
            campaign.quality,
            [item for item in items if item.task_id == task.id],
            [answer for answer in answers if answer.task_id == task.id],
            members,
        )
        for task in campaign.tasks
        if task.is_job
    )
    return RoundLabels(jobs, tuple(answers), members)


def analyse_job(
    task: Task,
    quality: Quality,
    items: Sequence[ItemState],
    answers: Sequence[LabelAnswer],
    members: dict[int, MemberQuality],
) -> JobAnalysis:
    """One job's analysis from its rows (pure: the store is read once, by :func:`round_labels`)."""
    counted = [
        answer
        for answer in answers
        if answer.vote is not None and answer.user_id in members and not members[answer.user_id].excluded
    ]
    estimates = _estimates(task, quality, counted, members)
    given = Counter(answer.item_id for answer in answers if answer.value is not None)
    unvoted: tuple[str | None, float | None] = (None, None)
    results = tuple(
        ItemResult(
            item, *((item.gold, None) if item.gold is not None else estimates.get(item.id, unvoted)), given[item.id]
        )
        for item in items
    )
    labellers = sorted({answer.user_id for answer in answers if answer.value is not None})
    return JobAnalysis(
        task,
        quality,
        results,
        tuple(members[user_id] for user_id in labellers if user_id in members),
        sum(TOO_FAST in answer.flags.split(";") for answer in answers),
    )


def _estimates(
    task: Task, quality: Quality, counted: Sequence[LabelAnswer], members: dict[int, MemberQuality]
) -> dict[int, tuple[str, float]]:
    """Each voted item's (label as a vote, confidence): ``quality.aggregation`` over the counted votes of
    a choice job; the most common normalised text and its share for a transcription job."""
    if task.kind == TaskKind.FREE_TEXT:
        texts: defaultdict[int, list[str]] = defaultdict(list)
        for answer in counted:
            texts[answer.item_id].append(answer.vote or "")
        return {item_id: most_common_text(votes)[:2] for item_id, votes in texts.items()}
    options = votes_of(task)
    votes = [
        Vote(answer.user_id, answer.item_id, options.index(answer.vote)) for answer in counted if answer.vote in options
    ]
    if not votes:
        return {}
    gold = {user_id: (m.evidence.gold_correct, m.evidence.gold_answers) for user_id, m in members.items()}
    estimated = aggregate(quality.aggregation, votes, len(options), gold)
    return {item_id: (options[estimate.label], estimate.confidence) for item_id, estimate in estimated.items()}


def accuracy_of(member: MemberQuality) -> float | None:
    """A member's smoothed gold accuracy, or ``None`` before their first gold answer (nothing to judge)."""
    evidence = member.evidence
    return smoothed_accuracy(evidence.gold_correct, evidence.gold_answers) if evidence.gold_answers else None


def agreement_of(member: MemberQuality) -> float | None:
    """The share of a member's votes on settled items that matched the settled label, or ``None`` before
    any of their items settled."""
    evidence = member.evidence
    return evidence.agreed / evidence.resolved if evidence.resolved else None
