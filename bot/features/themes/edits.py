"""Moderators' edits applied on top of a clustering: pure functions over answer ids, no storage.

A clustering is recomputed as answers arrive (:mod:`bot.features.rounds.themes`), so an edit cannot
name "theme 3": the numbering of the next run is another. An edit names answers instead
(:class:`~bot.store.records.ThemeEdit`: its anchor is the central answer of the theme the moderator
saw, whose id the moderator typed), and every run applies every edit again, in the order they were made,
to whichever theme holds those answers now. So a renamed theme keeps its name when answers arrive and
the clustering moves, a merge stays merged (also of an English and a Romanian theme, which the
clustering never puts together), a split stays split, and an edit whose answers are gone (left out
by the attention checks since) changes nothing. An edited theme keeps its anchor as its id, so the
id a moderator saw in ``/themes`` stays valid across runs.

Nothing here depends on what the ids are: an ideas round's themes are edited by the same functions, with
ideas' ids in place of answers' (stored under the task id ``ideas``; see :mod:`bot.features.themes.moderating`).

Cost: a few set operations per edit. A split clusters its theme's answers again, tighter; like the
question's own clustering (:mod:`bot.features.rounds.themes`), that is kept (:class:`SplitRuns`, one per
full run of the question) and redone only when the theme has grown by :data:`SPLIT_RECOMPUTE_GROWTH`;
answers arriving in between are attached to the nearest part (or wait for the next run, unthemed). So a
read applies the edits in milliseconds, and a split costs at most one clustering of its theme per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from bot.features.themes.clustering import DEFAULT_THRESHOLD, TERMS, Clustering, assign, cluster
from bot.store.records import EditAction, ThemeEdit

SPLIT_FACTOR = 0.75
"""A split clusters the theme's answers again at this times the threshold its answers were last grouped at."""

PartsOf = Callable[[Sequence[int], Mapping[int, str], float], list["Group"]]
"""How a split finds its theme's parts: (answers, their words, threshold) → the parts."""

SPLIT_RECOMPUTE_GROWTH = 1.25
"""A split theme is clustered again once its answers are this many times those its kept run covered."""


@dataclass(frozen=True, slots=True)
class Group:
    """A theme as moderators and ``/results`` see it: an id (an answer of it, see the module's docstring),
    a name, top words and its answers (ids, ascending)."""

    key: int
    name: str
    terms: tuple[str, ...]
    members: tuple[int, ...]
    renamed: bool = False

    @property
    def size(self) -> int:
        return len(self.members)


class SplitRuns:
    """Per split edit, the clustering of its theme's answers and the answers it covered (see the module's
    docstring): kept with the question's full run, so a read does not cluster a split theme again."""

    def __init__(self) -> None:
        self.clusterings = 0  # split themes clustered by this instance: what the schedule bounds (tests read it)
        self._runs: dict[int, tuple[Clustering, tuple[int, ...]]] = {}

    def parts(self, edit_id: int, members: Sequence[int], texts: Mapping[int, str], threshold: float) -> list[Group]:
        """The parts of a theme split by edit ``edit_id``, its answers being ``members`` now."""
        run = self._runs.get(edit_id)
        if run is None or len(members) >= SPLIT_RECOMPUTE_GROWTH * len(run[1]):
            self.clusterings += 1
            run = self._runs[edit_id] = (cluster([texts[member] for member in members], threshold), tuple(members))
        clustering, covered = run
        now = set(members)
        part_of = {covered[i]: number for number, part in enumerate(clustering.themes) for i in part.members}
        newer = [member for member in members if member not in part_of]
        for member, number in zip(newer, assign(clustering, [texts[member] for member in newer]), strict=True):
            if number is not None:
                part_of[member] = number
        answers: dict[int, list[int]] = {}
        for member, number in part_of.items():
            if member in now:
                answers.setdefault(number, []).append(member)
        found = clustering.themes
        return [group_of(ids, found[number].name, found[number].terms, texts) for number, ids in answers.items()]


def apply_edits(
    groups: Sequence[Group], edits: Sequence[ThemeEdit], texts: Mapping[int, str], splits: SplitRuns | None = None
) -> list[Group]:
    """``groups`` with ``edits`` applied in order, largest first (ties: the id); ``texts`` are the answers'
    words by id (a split clusters them again, or reuses ``splits``' run of them)."""
    splits = splits if splits is not None else SplitRuns()
    current = list(groups)
    depth: dict[int, int] = {}  # answer id -> how many splits its theme went through (tighter each time)
    for edit in edits:
        holder = {member: index for index, group in enumerate(current) for member in group.members}
        anchor = holder.get(edit.answer_ids[0]) if edit.answer_ids else None
        if edit.action is EditAction.MOVE:
            current = _moved(current, [answer for answer in edit.answer_ids if answer in holder], texts)
        elif anchor is None:
            continue  # its anchor answer no longer counts: nothing to apply it to
        elif edit.action is EditAction.RENAME:
            current[anchor] = replace(current[anchor], key=edit.answer_ids[0], name=edit.name, renamed=True)
        elif edit.action is EditAction.MERGE:
            joining = {holder[answer] for answer in edit.answer_ids[1:] if answer in holder} - {anchor}
            current = _merged(current, anchor, joining, edit.answer_ids[0])
        else:
            current = _split(current, anchor, texts, depth, partial(splits.parts, edit.id))
    return sorted((group for group in current if group.members), key=lambda group: (-group.size, group.key))


def _merged(groups: list[Group], anchor: int, joining: set[int], key: int) -> list[Group]:
    """The anchor's theme with the joining ones' answers; it keeps its name, its words come first."""
    into = groups[anchor]
    members = sorted({*into.members, *(member for index in joining for member in groups[index].members)})
    terms = list(into.terms)
    for index in sorted(joining):
        terms += [term for term in groups[index].terms if term not in terms]
    merged = replace(into, key=key, members=tuple(members), terms=tuple(terms[:TERMS]))
    return [merged if index == anchor else group for index, group in enumerate(groups) if index not in joining]


def _split(
    groups: list[Group], anchor: int, texts: Mapping[int, str], depth: dict[int, int], parts: PartsOf
) -> list[Group]:
    """The anchor's theme clustered again, tighter: each part named by its own central answer."""
    members = groups[anchor].members
    level = max(depth.get(member, 0) for member in members) + 1
    for member in members:
        depth[member] = level
    pieces = parts(members, texts, DEFAULT_THRESHOLD * SPLIT_FACTOR**level)
    return [*groups[:anchor], *pieces, *groups[anchor + 1 :]]


def _moved(groups: list[Group], answers: list[int], texts: Mapping[int, str]) -> list[Group]:
    """``answers`` taken out of their themes into one new theme, named by the first of them."""
    if not answers:
        return groups
    leaving = set(answers)
    kept = []
    for group in groups:
        staying = tuple(member for member in group.members if member not in leaving)
        if group.key in staying or not staying:
            kept.append(replace(group, members=staying))
        else:  # its id (and, unless renamed, its name) must be one of the answers it keeps
            name = group.name if group.renamed else texts[staying[0]]
            kept.append(replace(group, key=staying[0], name=name, members=staying))
    return [*kept, Group(answers[0], texts[answers[0]], (), tuple(sorted(leaving)))]


def group_of(members: Sequence[int], name: str, terms: tuple[str, ...], texts: Mapping[int, str]) -> Group:
    """A clustering's theme as a group whose id is its central answer (the first answer whose words are
    the name): an answer id stays valid whichever run the moderator saw it in."""
    key = next((member for member in members if texts[member] == name), members[0])
    return Group(key, name, terms, tuple(sorted(members)))
