"""The themes of a round's typed answers (free text, and the words behind yes/no/other's "Other"), for
``/results`` and the exports, at a bounded cost.

Schedule: a full clustering (:func:`bot.features.themes.clustering.cluster`) of a (round, task)'s texts is
cached with the number of answers it covered, and run again only when that number has grown by
:data:`RECOMPUTE_GROWTH` (a quarter) or more, or when the round has closed since. Recomputing on every
answer would cost a core in a busy round (a full run is up to a few seconds); with this schedule the
total work is a constant factor of one full run and a theme list is never more than a quarter out of
date. Answers given since the last full run are attached to the nearest existing theme with
:func:`bot.features.themes.clustering.assign` (one sparse dot product each), so counts move with every
answer in between. Both run in the theme worker process (:mod:`bot.features.themes.worker`), which
keeps the runs (:mod:`bot.features.themes.runs`): this process reads the answers and the edits, sends
them, and gets the themes back; it never imports scikit-learn, and its event loop never waits on it.

Moderators' edits (rename, merge, split, move: :mod:`bot.features.themes.edits`) are read with the
answers and applied on top of the clustering, full run or not, every time: they name answers, not a
run's theme numbers, so they hold whatever the next run finds.

The same schedule themes the ideas of an ideas round (:meth:`RoundThemes.of_ideas`), keyed by idea id.

Only the answers that count are themed (members left out by the attention checks are not), like every
tally of ``/results``; in the exports their answers have no theme.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from bot.catalog import Task, TaskKind
from bot.context import Services
from bot.features.themes import worker
from bot.store.records import AttentionChecks

RECOMPUTE_GROWTH = 1.25
"""A full clustering runs again once the answers are this many times those it covered (or the round closed)."""

IDEAS = "ideas"
"""The task id an ideas round's themes (and their edits) are kept under."""

THEMED_INLINE = 5000
"""A typed question with more answers is themed in the background (:meth:`RoundThemes.warm`), never on a
page's request nor inside an export: theming it reads and sends every text at once, and its clustering
in the worker takes seconds."""

WARM_SECONDS = 60.0
"""A page over a large round themes a task in the background at most this often (see :meth:`RoundThemes.warm`)."""

CACHED_TASKS = 64
"""(round, task) clusterings kept in the worker, least recently used dropped first: each holds fitted
vectorizers. Also the background themings' results kept here (:meth:`RoundThemes.known`)."""


@dataclass(frozen=True, slots=True)
class ThemeCount:
    """One theme as it stands now: its id (an answer of it, for moderators' edits), its name (most
    central answer, or a moderator's), how many answers it has, and its top words."""

    key: int
    name: str
    count: int
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskThemes:
    """A task's themes, largest first, and each themed answer's theme (by answer id)."""

    themes: tuple[ThemeCount, ...]
    of_answer: dict[int, ThemeCount]

    @property
    def by_answer(self) -> dict[int, str]:
        """Each themed answer's theme name, by answer id (an ideas round's export)."""
        return {answer_id: theme.name for answer_id, theme in self.of_answer.items()}

    def name_of(self, answer_id: int) -> str | None:
        """The theme name of one answer (``None``: in no theme), looked up without copying the map."""
        theme = self.of_answer.get(answer_id)
        return theme.name if theme is not None else None


@dataclass(frozen=True, slots=True)
class WorkerThemes:
    """What the theme worker answers (:func:`bot.features.themes.runs.themes_of`), small to pickle: the
    themes, each one's answer ids, and whether it clustered every answer again (a full run)."""

    themes: tuple[ThemeCount, ...]
    members: tuple[tuple[int, ...], ...]
    full_run: bool

    def task_themes(self) -> TaskThemes:
        return TaskThemes(
            self.themes, {answer: theme for theme, ids in zip(self.themes, self.members, strict=True) for answer in ids}
        )


def themed(task: Task) -> bool:
    """Whether a task's answers carry typed words worth theming (labelling jobs are read elsewhere)."""
    return not task.is_job and task.kind in (TaskKind.FREE_TEXT, TaskKind.YES_NO_OTHER)


class RoundThemes:
    """Per (round, task), the cached clustering and the themes of the answers as they stand."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.full_runs = 0  # full clusterings run for this instance: what the schedule bounds (tests read it)
        self.namespace = uuid.uuid4().hex  # this instance's runs in the worker, never another engine's
        self._warming: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._latest: OrderedDict[tuple[int, str], tuple[float, TaskThemes]] = OrderedDict()  # by warm()

    async def of_task(self, round_id: int, task: Task, closed: bool, checks: AttentionChecks) -> TaskThemes:
        """The task's themes now: a full run when the schedule says so, else the cached run plus the newer
        answers attached to its themes (see the module's docstring)."""
        if not themed(task):
            return TaskThemes((), {})
        other_only = task.kind == TaskKind.YES_NO_OTHER
        stored = await self.services.store.rounds.typed_answers(round_id, task.id, other_only, checks)
        answers = [(answer_id, _text(value, other_only)) for answer_id, value in stored]
        return await self.of_texts(round_id, task.id, answers, closed)

    async def of_ideas(self, round_id: int, closed: bool) -> TaskThemes:
        """The themes of an ideas round's ideas (those listed: not hidden, pending or merged), by idea id."""
        ideas = await self.services.store.themes.idea_texts(round_id)
        return await self.of_texts(round_id, IDEAS, ideas, closed)

    async def of_texts(self, round_id: int, task_id: str, answers: list[tuple[int, str]], closed: bool) -> TaskThemes:
        """Themes of ``answers`` ((id, words), oldest first) of a round's task, moderators' edits applied."""
        if not answers:
            return TaskThemes((), {})
        edits = await self.services.store.themes.edits(round_id, task_id)
        found: WorkerThemes = await worker.run(
            "bot.features.themes.runs:themes_of", self.namespace, round_id, task_id, answers, edits, closed
        )
        self.full_runs += found.full_run
        return found.task_themes()

    def known(self, round_id: int, task_id: str) -> TaskThemes:
        """Each answer's theme name as the last background theming (:meth:`warm`) found it, without
        reading the task's answers again (nothing before one finished; newer answers are not in it): what a
        page over a large round can afford on every view."""
        latest = self._latest.get((round_id, task_id))
        return latest[1] if latest else TaskThemes((), {})

    def warm(self, round_id: int, task: Task, closed: bool, checks: AttentionChecks) -> None:
        """Theme the task in the background (:meth:`of_task`, its schedule and cache) unless that is under
        way or finished less than :data:`WARM_SECONDS` ago; the task is kept referenced until it ends."""
        key = (round_id, task.id)
        latest = self._latest.get(key)
        if key in self._warming or (latest is not None and time.monotonic() - latest[0] < WARM_SECONDS):
            return

        async def theme() -> None:
            self._latest[key] = (time.monotonic(), await self.of_task(round_id, task, closed, checks))
            self._latest.move_to_end(key)
            while len(self._latest) > CACHED_TASKS:
                self._latest.popitem(last=False)

        warming = asyncio.create_task(theme(), name=f"themes:{round_id}:{task.id}")
        self._warming[key] = warming
        warming.add_done_callback(lambda _: self._warming.pop(key, None))

    async def settled(self, round_id: int, task: Task, closed: bool, checks: AttentionChecks) -> TaskThemes:
        """The last background theming of the task (see :meth:`warm`), waiting for one when none has
        finished yet, and starting a fresh one when it is old: what an export of a large round reads, so it
        shares the page's clustering and its map of answers instead of building its own."""
        key = (round_id, task.id)
        self.warm(round_id, task, closed, checks)
        if key not in self._latest:
            await self._warming[key]
        return self._latest[key][1]

    async def warmed(self) -> None:
        """Wait for the background themings under way (tests, and a clean shutdown)."""
        await asyncio.gather(*self._warming.values())

    async def forget(self) -> None:
        """Let the worker drop this instance's runs (its engine is closing); a worker never started has none."""
        if worker.running():
            await worker.run("bot.features.themes.runs:forget", self.namespace)


def _text(value: str, other_only: bool) -> str:
    decoded = json.loads(value)
    return str(decoded["other"]) if other_only else str(decoded)
