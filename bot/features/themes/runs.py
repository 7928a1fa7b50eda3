"""The theme worker's side (:mod:`bot.features.themes.worker`): the clusterings it keeps, and a question's
themes as they stand, computed where scikit-learn lives.

Schedule (why: :mod:`bot.features.rounds.themes`): a (round, task)'s full clustering is kept with the
answers it covered, and run again only when their number has grown by ``RECOMPUTE_GROWTH`` or the round
has closed since; answers given in between are attached to the nearest theme
(:func:`~bot.features.themes.clustering.assign`). Moderators' edits are applied on top every time
(:mod:`bot.features.themes.edits`), with the split themes' own runs kept beside the full run.

Runs are keyed by the caller's namespace (one per :class:`~bot.features.rounds.themes.RoundThemes`, so
two engines of a process never share one) and at most ``CACHED_TASKS`` are kept, least recently used
dropped first. The answer is compact: the themes and, per theme, its answers' ids, not a map of every
answer (the bot process builds that).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from bot.features.rounds.themes import CACHED_TASKS, RECOMPUTE_GROWTH, ThemeCount, WorkerThemes
from bot.features.themes.clustering import Clustering, assign, cluster, detect_language
from bot.features.themes.edits import SplitRuns, apply_edits, group_of
from bot.store.records import ThemeEdit


@dataclass(frozen=True, slots=True)
class _Run:
    """A full clustering and what it covered: the answer ids, in the order their texts were clustered."""

    clustering: Clustering
    answer_ids: tuple[int, ...]
    closed: bool
    splits: SplitRuns = field(default_factory=SplitRuns)  # split themes' own runs, redone with this one


_runs: OrderedDict[tuple[str, int, str], _Run] = OrderedDict()


def themes_of(
    namespace: str, round_id: int, task_id: str, answers: list[tuple[int, str]], edits: list[ThemeEdit], closed: bool
) -> WorkerThemes:
    """The themes of ``answers`` ((id, words), oldest first) with ``edits`` applied: a full run when the
    schedule says so, else the kept run with the newer answers attached."""
    key = (namespace, round_id, task_id)
    run = _runs.get(key)
    full = run is None or len(answers) >= RECOMPUTE_GROWTH * len(run.answer_ids) or (closed and not run.closed)
    if run is None or full:
        run = _Run(cluster([text for _, text in answers]), tuple(answer_id for answer_id, _ in answers), closed)
    _runs[key] = run
    _runs.move_to_end(key)
    while len(_runs) > CACHED_TASKS:
        _runs.popitem(last=False)
    return _counted(run, answers, edits, full)


def forget(namespace: str) -> None:
    """Drop a namespace's runs (its engine closed)."""
    for key in [key for key in _runs if key[0] == namespace]:
        del _runs[key]


def languages(texts: list[str]) -> list[str]:
    """Each text's language (:func:`~bot.features.themes.clustering.detect_language`)."""
    return [detect_language(text) for text in texts]


def _counted(run: _Run, answers: list[tuple[int, str]], edits: list[ThemeEdit], full: bool) -> WorkerThemes:
    """Each current answer's theme (from the run, or attached to it), moderators' edits applied, and the
    themes' counts now.

    Counts come from the current answers, so an answer removed since the run (its member left out since)
    counts nowhere, and a theme left with none is not listed.
    """
    found = run.clustering.themes
    index_of = {run.answer_ids[member]: number for number, theme in enumerate(found) for member in theme.members}
    newer = [(answer_id, text) for answer_id, text in answers if answer_id not in index_of]
    attached = assign(run.clustering, [text for _, text in newer]) if newer else []
    for (answer_id, _), number in zip(newer, attached, strict=True):
        if number is not None:
            index_of[answer_id] = number
    texts = dict(answers)
    members: dict[int, list[int]] = {}
    for answer_id, number in index_of.items():
        if answer_id in texts:
            members.setdefault(number, []).append(answer_id)
    groups = [group_of(ids, found[number].name, found[number].terms, texts) for number, ids in members.items()]
    edited = apply_edits(groups, edits, texts, run.splits)
    themes = tuple(ThemeCount(group.key, group.name, group.size, group.terms) for group in edited)
    return WorkerThemes(themes, tuple(group.members for group in edited), full)
