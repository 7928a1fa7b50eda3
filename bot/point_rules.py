"""Point rules, as pure functions: what a task is worth, the daily cap, streaks, leaderboard scopes.

The store applies them inside the transaction that records the effect; keeping them pure makes them
testable at day boundaries with any clock and shared by every store.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from bot.catalog import Task
from bot.settings import PointsSettings

LEVEL_STEP = 50  # points to level 2 (one short session); each level asks for a little more than the last


def task_points(task: Task, rules: PointsSettings) -> int:
    """The task's own ``points`` when set, else the default for its kind."""
    return task.points if task.points is not None else rules.per_kind.get(task.kind.value, 0)


def capped_delta(delta: int, earned_today: int, daily_cap: int) -> int:
    """How much of ``delta`` still fits under the daily cap (0 disables the cap)."""
    if daily_cap <= 0 or delta <= 0:
        return delta
    return max(0, min(delta, daily_cap - earned_today))


def next_streak(last_day: date | None, length: int, today: date) -> int:
    """The streak length after answering on ``today`` (consecutive calendar days in the settings' zone)."""
    if last_day == today:
        return length
    if last_day == today - timedelta(days=1):
        return length + 1
    return 1


def current_streak(last_day: date | None, length: int, today: date) -> int:
    """The streak still alive on ``today``: it survives until a whole day passes without an answer."""
    return length if last_day is not None and today - last_day <= timedelta(days=1) else 0


def week_key(moment: datetime) -> str:
    """The ISO year and week of ``moment``'s date (``"202650"``), as the weekly leaderboards are keyed."""
    return _week_of(moment.date())


@lru_cache(maxsize=16)
def _week_of(day: date) -> str:
    """:func:`week_key` of a day, kept for the few days in use: every answer asks it twice."""
    year, week, _ = day.isocalendar()
    return f"{year}{week:02d}"


# Leaderboard scopes; EVERYONE also holds each member's lifetime earned points (levels use it).
EVERYONE = "all"


def space_scope(space_id: int) -> str:
    return f"s{space_id}"


def week_scope(space_id: int, now: datetime) -> str:
    return f"s{space_id}w{week_key(now)}"


def round_scope(round_id: int) -> str:
    return f"r{round_id}"


def level_for(points: int) -> tuple[int, int]:
    """(level, points needed for the next level): level 1 at 0, then every step grows by 50."""
    level, threshold, step = 1, LEVEL_STEP, LEVEL_STEP
    while points >= threshold:
        level += 1
        step += LEVEL_STEP // 2
        threshold += step
    return level, threshold
