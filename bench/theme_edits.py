"""Benchmark: moderators' theme edits applied on top of a clustering (:mod:`bot.features.themes.edits`).

Every time a question's themes are read (``/results``, ``/themes``, an export), its moderators' edits are
applied again to whatever the clustering found, so that they hold while answers arrive. This measures that
cost on ``ANSWERS`` generated answers (the insight benchmark's generator) with ``EDITS`` edits (renames,
merges, moves and splits in a fixed mix, seeded), against one full clustering of the same answers in the
same run:

- ``first_read``: the first read after a full run, which clusters each split theme again (kept with the
  run, like the question's own clustering);
- ``read``: every later read (the median of the context's repetitions), which reuses the kept splits.

The ratios to one clustering are what the edits add, relative to the work the recompute schedule bounds.
About 40 s on 2 cores (``--quick``: 2,000 answers, about 10 s).
"""

from __future__ import annotations

import random

from bench.insight import ANSWERS, QUICK_ANSWERS, SEED, generated
from bench.runner import Context, Figure, Stopwatch, Target, median
from bot.features.themes.clustering import cluster
from bot.features.themes.edits import Group, SplitRuns, apply_edits, group_of
from bot.store.records import EditAction, ThemeEdit

EDITS = 100
MIX = (EditAction.RENAME,) * 4 + (EditAction.MERGE,) * 3 + (EditAction.MOVE,) * 2 + (EditAction.SPLIT,)
FIRST_TARGET = Target("<", 1.0)  # the first read after a run: less than one more clustering, splits included
READ_TARGET = Target("<", 0.05)  # any later read: a hundred edits cost under a twentieth of one clustering


def edits_for(groups: list[Group], count: int, rng: random.Random) -> list[ThemeEdit]:
    """``count`` edits over the themes' answers, as moderators would make them (anchors: theme ids)."""
    made = []
    for number in range(count):
        action = MIX[number % len(MIX)]
        theme = rng.choice(groups)
        if action is EditAction.MERGE:
            ids: tuple[int, ...] = (theme.key, *(rng.choice(groups).key for _ in range(2)))
        elif action is EditAction.MOVE:
            ids = tuple(rng.sample(theme.members, min(3, theme.size)))
        else:
            ids = (theme.key,)
        made.append(ThemeEdit(number + 1, action, ids, f"theme {number}" if action is EditAction.RENAME else ""))
    return made


async def run(ctx: Context) -> list[Figure]:
    count = QUICK_ANSWERS if ctx.quick else ANSWERS
    texts, _ = generated(count)
    by_id = {number + 1: text for number, text in enumerate(texts)}  # answer ids start at 1, like the store's
    watch = Stopwatch()
    found = cluster(texts)
    clustering_seconds = watch.elapsed
    groups = [group_of([m + 1 for m in theme.members], theme.name, theme.terms, by_id) for theme in found.themes]
    edits = edits_for(groups, EDITS, random.Random(SEED))
    splits = SplitRuns()
    watch = Stopwatch()
    edited = apply_edits(groups, edits, by_id, splits)
    first_read = watch.elapsed
    timings = []
    for _ in range(ctx.repetitions):
        watch = Stopwatch()
        edited = apply_edits(groups, edits, by_id, splits)
        timings.append(watch.elapsed)
    assert sum(group.size for group in edited) == count, "edits lose no answer"
    read = median(timings)
    note = f"{EDITS} edits on {count:,} answers in {len(groups)} themes; one clustering took {clustering_seconds:.2f} s"
    return [
        Figure("theme_edits.first_read_ms", first_read * 1000, "ms", note=note),
        Figure("theme_edits.first_read_ratio_to_clustering", first_read / clustering_seconds, "×", FIRST_TARGET, note),
        Figure("theme_edits.read_ms", read * 1000, "ms", note=note, samples=tuple(t * 1000 for t in timings)),
        Figure("theme_edits.read_ratio_to_clustering", read / clustering_seconds, "×", READ_TARGET, note),
    ]
