"""Databases of a chosen size, built fast: plain ``sqlite3`` inserts into a schema the migrations made.

Answering a million tasks through the engine would take longer than the whole benchmark may, so the rows
are written directly, the way the engine's units would have left them and consistent with each other:

* one space, the ``coffee`` campaign's rounds in it (the first open, the rest closed), and ``users``
  members; member *i* answered *kᵢ* tasks, long-tailed around the requested mean (about half answered
  none, a few dozens), filling the campaign's tasks round after round, all on one day last week;
* ``task_counts``, the ledger (a welcome bonus per member, an award per answer worth the task's points
  under the daily cap), ``daily_points``, ``streaks``, ``user_counters`` and answer badges;
* the scores of every leaderboard scope and the score histogram (members above zero), summed from the
  ledger by the same rules as the writer's (:mod:`bot.store.scores`); the guards' triggers are dropped
  for the load and recreated unchanged.

Answer values come from the engine's own parser (:func:`bot.features.tasks.kinds.parse_answer`), so results tally them.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.world import CATALOG, PLATFORM
from bot.catalog import Campaign, Task, TaskKind, load_catalog
from bot.features.tasks.kinds import Accepted, parse_answer
from bot.point_rules import capped_delta, task_points, week_key
from bot.settings import Settings, load_settings
from bot.store import migrations
from bot.store.timestamps import to_text

CAMPAIGN = "coffee"
DEFERRED_TABLES = ("answers", "ledger", "scores")
PLATFORM_ID = "g%08d"
PROGRESS_EVERY = 50_000  # rows between two progress reports
SPACE_ID = 1
WELCOME = "welcome"
_SAMPLE_INPUTS: dict[TaskKind, tuple[str, str | None, tuple[str, ...]]] = {
    TaskKind.SINGLE_CHOICE: ("0", None, ()),
    TaskKind.IMAGE_LABEL: ("0", None, ()),
    TaskKind.MULTI_CHOICE: ("", None, ("0",)),
    TaskKind.YES_NO_OTHER: ("0", None, ()),
    TaskKind.RATING: ("4", None, ()),
    TaskKind.NPS: ("9", None, ()),
    TaskKind.FREE_TEXT: ("", "More seats by the window", ()),
}
SCOPES = (  # scope expression, extra condition, grouping: as bot.store.scores.scopes gives them
    ("'all'", "1", "user_id"),
    ("'s' || space_id", "space_id IS NOT NULL", "space_id, user_id"),
    ("'s' || space_id || 'w' || week", "space_id IS NOT NULL AND week != ''", "space_id, week, user_id"),
    ("'r' || round_id", "round_id IS NOT NULL", "round_id, user_id"),
)


@dataclass(frozen=True, slots=True)
class Population:
    """What was generated: the space's external id, the open round, its members and answers."""

    path: Path
    space: str
    open_round: int
    users: int
    answers: int
    answers_per_user: tuple[int, ...]  # index i is member i + 1


def platform_id(number: int) -> str:
    """Member ``number``'s platform id (zero-padded: text order is number order, so inserts append)."""
    return PLATFORM_ID % number


_BUILT: dict[Path, Population] = {}


def populated(folder: Path, users: int, answers: int) -> Population:
    """The database of this size in ``folder``, built on first use (benchmarks of one run share it)."""
    path = folder / f"community-{users}-{answers}.db"
    if path not in _BUILT:
        _BUILT[path] = build(path, users, answers)
    return _BUILT[path]


def answer_counts(users: int, answers: int, seed: int) -> list[int]:
    """How many tasks each member answered: geometric around the mean, adjusted to sum to ``answers``."""
    chooser = random.Random(seed)
    mean = answers / users
    keep = 1 - 1 / (1 + mean)  # geometric on 0, 1, 2, … with this mean
    counts = [int(math.log(1 - chooser.random()) / math.log(keep)) if keep else 0 for _ in range(users)]
    surplus = sum(counts) - answers
    while surplus:
        member = chooser.randrange(users)
        step = 1 if surplus > 0 else -1
        if counts[member] >= step:
            counts[member] -= step
            surplus -= step
    return counts


def sample_value(task: Task) -> str:
    payload, text, values = _SAMPLE_INPUTS[task.kind]
    parsed = parse_answer(task, payload, text, values, "en")
    assert isinstance(parsed, Accepted), (task.id, parsed)
    return parsed.value


def coffee_campaign() -> Campaign:
    """The shipped campaign whose rounds the generated answers fill."""
    campaign = load_catalog(CATALOG).campaign(CAMPAIGN)
    assert campaign is not None, f"the shipped catalog has no {CAMPAIGN!r} campaign"
    return campaign


def build(
    path: Path,
    users: int,
    answers: int,
    seed: int = 7,
    *,
    counts: Sequence[int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Population:
    """Create ``path`` (which must not exist) holding ``users`` members and ``answers`` answers.

    ``counts`` (member *i + 1* answered ``counts[i]`` tasks) replaces the long-tailed spread, for a
    benchmark that needs another shape (every member answering the whole first round);
    ``on_progress(rows, total)`` follows the answers and their ledger rows as they are written.
    """
    settings: Settings = load_settings(catalog_dir=CATALOG)
    campaign = coffee_campaign()
    tasks = campaign.tasks
    counts = list(counts) if counts is not None else answer_counts(users, answers, seed)
    assert len(counts) == users, "one count per member"
    assert sum(counts) == answers, "the counts sum to the answers"
    written = _Written(2 * answers, on_progress)
    rounds = max(1, math.ceil(max(counts) / len(tasks)))
    moment = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=7)
    stamp, local = to_text(moment), moment.astimezone(settings.zone)
    day, week = local.date().isoformat(), week_key(local)
    values = [sample_value(task) for task in tasks]
    points = [task_points(task, settings.points) for task in tasks]
    cap = settings.points.daily_cap

    db = sqlite3.connect(path, isolation_level=None)
    try:
        migrations.apply(db)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -262144", "temp_store = MEMORY"):
            db.execute(f"PRAGMA {pragma}")
        # Triggers would score every ledger row one by one, and indexes grow faster built once at the end.
        deferred = db.execute(
            "SELECT type, tbl_name, name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') AND sql IS NOT NULL"
            " AND tbl_name IN (?, ?, ?)",
            DEFERRED_TABLES,
        ).fetchall()
        db.execute("BEGIN")
        for kind, _, name, _ in deferred:
            db.execute(f'DROP {kind.upper()} "{name}"')
        db.execute(
            "INSERT INTO spaces (id, platform, external_id, title) VALUES (?, ?, 'growth', 'Growth')",
            (SPACE_ID, PLATFORM),
        )
        db.executemany(
            "INSERT INTO rounds (id, space_id, kind, subject, status, opened_at, closed_at, title)"
            " VALUES (?, ?, 'tasks', ?, ?, ?, ?, ?)",
            [
                (
                    number,
                    SPACE_ID,
                    CAMPAIGN,
                    "open" if number == 1 else "closed",
                    stamp,
                    None if number == 1 else stamp,
                    campaign.id,
                )
                for number in range(1, rounds + 1)
            ],
        )
        db.execute(  # members 1…users, in C: the Python loop would cost seconds per million
            f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) INSERT INTO users"
            f" (id, platform, platform_user_id, display_name, language, created_at)"
            f" SELECT x, ?, printf('{PLATFORM_ID}', x), 'Member ' || x, 'en', ? FROM n",
            (users, PLATFORM, stamp),
        )
        db.executemany(
            "INSERT INTO answers (id, round_id, task_id, user_id, value, created_at, space_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (  # every answer given in the one space, as the bot records it since migration 0018
                (answer_id, round_id, tasks[index].id, member, values[index], stamp, SPACE_ID)
                for answer_id, member, round_id, index in written.counted(_answers(counts, len(tasks)))
            ),
        )
        db.execute(
            "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
            " SELECT id, ?, NULL, ?, ?, ?, '', ? || ':' || id, ? FROM users ORDER BY id",
            (SPACE_ID, week, settings.points.welcome_bonus, WELCOME, WELCOME, stamp),
        )
        earned = [0] * (users + 1)  # today's points per member, for the daily cap

        def awards() -> Iterator[tuple[int, int, int, str, int, str, str, str]]:
            for answer_id, member, round_id, index in written.counted(_answers(counts, len(tasks))):
                delta = capped_delta(points[index], earned[member], cap)
                earned[member] += delta
                yield member, SPACE_ID, round_id, week, delta, tasks[index].id, f"answer:{answer_id}", stamp

        db.executemany(
            "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'answer', ?, ?, ?)",
            awards(),
        )
        _rebuild(db, deferred, ("index", "answers"), ("index", "ledger"))
        _derive(db, settings, day, stamp)
        _rebuild(db, deferred, ("index", "scores"))
        db.execute(
            "INSERT INTO score_counts (scope, points, users) SELECT scope, points, COUNT(*) FROM scores"
            " WHERE points > 0 GROUP BY scope, points"
        )
        _rebuild(db, deferred, ("trigger", "answers"), ("trigger", "ledger"), ("trigger", "scores"))
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")
    finally:
        db.close()
    return Population(path, "growth", 1, users, answers, tuple(counts))


class _Written:
    """Rows written so far of ``total``, reported every :data:`PROGRESS_EVERY` rows."""

    def __init__(self, total: int, on_progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.on_progress = total, 0, on_progress

    def counted(self, rows: Iterator[tuple[int, int, int, int]]) -> Iterator[tuple[int, int, int, int]]:
        for row in rows:
            self.done += 1
            if self.on_progress is not None and (self.done % PROGRESS_EVERY == 0 or self.done == self.total):
                self.on_progress(self.done, self.total)
            yield row


def _answers(counts: list[int], tasks: int) -> Iterator[tuple[int, int, int, int]]:
    """(answer id, member, round id, task index) for every answer: each member's tasks in catalog order."""
    answer_id = 0
    for member, count in enumerate(counts, 1):
        for position in range(count):
            answer_id += 1
            yield answer_id, member, position // tasks + 1, position % tasks


def _rebuild(db: sqlite3.Connection, deferred: list[tuple[str, str, str, str]], *which: tuple[str, str]) -> None:
    """Recreate the dropped triggers or indexes of the given (type, table) pairs, as they were."""
    for kind, table, _, sql in deferred:
        if (kind, table) in which:
            db.execute(sql)


def _derive(db: sqlite3.Connection, settings: Settings, day: str, stamp: str) -> None:
    """What the answer units keep beside the ledger, summed from the rows just written (the histogram after)."""
    db.execute(
        "INSERT INTO task_counts (round_id, task_id, answers) SELECT round_id, task_id, COUNT(*)"
        " FROM answers GROUP BY round_id, task_id"
    )
    db.execute(
        "INSERT INTO daily_points (user_id, day, earned) SELECT user_id, ?, SUM(delta) FROM ledger"
        " WHERE reason = 'answer' GROUP BY user_id",
        (day,),
    )
    db.execute(
        "INSERT INTO streaks (user_id, last_day, length, best) SELECT DISTINCT user_id, ?, 1, 1 FROM answers", (day,)
    )
    db.execute(
        "INSERT INTO user_counters (user_id, counter, value) SELECT user_id, 'answers', COUNT(*)"
        " FROM answers GROUP BY user_id"
    )
    for rule in settings.points.badges:
        if rule.counter == "answers":
            db.execute(
                "INSERT INTO user_badges (user_id, badge, earned_at) SELECT user_id, ?, ?"
                " FROM user_counters WHERE counter = 'answers' AND value >= ?",
                (rule.id, stamp, rule.at_least),
            )
    for scope, condition, grouping in SCOPES:
        db.execute(
            f"INSERT INTO scores (scope, user_id, points) SELECT {scope}, user_id, SUM(delta) FROM ledger"
            f" WHERE delta != 0 AND reason != 'redeem' AND {condition} GROUP BY {grouping}"
        )
