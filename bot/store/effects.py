"""The effects a unit of work writes beside its cause, in the same transaction: audit rows, outbox
messages, points, badges and levels.

Everything here runs inside the caller's unit (a plain function over a :class:`Connection`), so an
effect and the change that caused it commit or vanish together: nobody is told about a change that
was rolled back, and no point is paid for an answer that was not kept. The query modules of every
feature use these; this module uses none of them, which keeps the store free of import cycles.

Awards: days (cap, streak) and weeks (weekly leaderboard) are those of the settings' time zone; the
rules themselves (cap arithmetic, what a streak is, levels) are pure functions in
:mod:`bot.point_rules`. Badges are decided in the unit of the effect that earns them, and the primary
key of ``user_badges`` hands each one out once however many units race.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.point_rules import EVERYONE, capped_delta, level_for, next_streak, week_key
from bot.settings import BadgeCounter, BadgeRule
from bot.store.database import Connection
from bot.store.dialects import lock_member
from bot.store.records import Award, Awarded, PointRules
from bot.store.timestamps import to_text

# audit and outbox ---------------------------------------------------------------------------------


def enqueue(
    db: Connection,
    *,
    platform: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    dedup_key: str | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue a message; a ``dedup_key`` seen before queues nothing (returns ``False``)."""
    cursor = db.execute(
        "INSERT INTO outbox (platform, target, payload, dedup_key, not_before) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (dedup_key) DO NOTHING",
        (platform, target, json.dumps(payload, ensure_ascii=False), dedup_key, to_text(not_before or now)),
    )
    return cursor.rowcount == 1


def announce(db: Connection, *, community_id: int, payload: dict[str, Any], now: datetime, dedup_key: str) -> int:
    """Queue ``payload`` once for every space of the community (its home and the spaces that joined it),
    each with its own platform and target; returns how many rows were queued.

    The home space's row keeps ``dedup_key`` itself (a community of one queues exactly what it did before
    communities existed); every other space's key ends in ``:<space id>``, so a retry or a second process
    queues each space's message once.
    """
    spaces = db.execute(
        "SELECT id, platform, external_id FROM spaces WHERE id = ? OR community_id = ? ORDER BY id",
        (community_id, community_id),
    ).fetchall()
    queued = 0
    for space_id, platform, external_id in spaces:
        key = dedup_key if space_id == community_id else f"{dedup_key}:{space_id}"
        queued += enqueue(db, platform=platform, target=f"space:{external_id}", payload=payload, now=now, dedup_key=key)
    return queued


def audit(
    db: Connection,
    *,
    space_id: int | None,
    moderator_id: int | None,
    action: str,
    target: str = "",
    detail: str = "",
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO audit (space_id, moderator_id, action, target, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (space_id, moderator_id, action, target, detail, to_text(now)),
    )


# points -------------------------------------------------------------------------------------------


def apply_award(db: Connection, award: Award, rules: PointRules, now: datetime) -> Awarded:
    """Write ``award`` (idempotent on its source_key) and everything derived from it.

    Days (cap, streak) and weeks (weekly leaderboard) are those of the settings' time zone. The member's
    lock comes first, so the cap and the streak read here are still true when written.
    """
    lock_member(db, award.user_id)
    now = now.astimezone(ZoneInfo(rules.timezone))
    today = now.date()
    delta = award.delta
    capped = False
    streak_days = 0
    streak_bonus = 0
    if award.capped:
        row = db.execute(
            "SELECT earned FROM daily_points WHERE user_id = ? AND day = ?",
            (award.user_id, today.isoformat()),
        ).fetchone()
        earned_today = row[0] if row else 0
        delta = capped_delta(award.delta, earned_today, rules.daily_cap)
        capped = delta < award.delta
    if not _insert_ledger(db, award, delta, now):
        return Awarded(0)
    if award.capped:
        db.execute(
            "INSERT INTO daily_points (user_id, day, earned) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, day) DO UPDATE SET earned = daily_points.earned + excluded.earned",
            (award.user_id, today.isoformat(), delta),
        )
        streak_days, streak_bonus = _advance_streak(db, award, rules, today, now)
    return Awarded(delta + streak_bonus, streak_days, streak_bonus, capped)


def _insert_ledger(db: Connection, award: Award, delta: int, now: datetime) -> bool:
    """One ledger row; the leaderboards follow by trigger (migration 0006). ``False`` for a repeat."""
    cursor = db.execute(
        "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_key) DO NOTHING",
        (
            award.user_id,
            award.space_id,
            award.round_id,
            week_key(now),
            delta,
            award.reason,
            award.detail,
            award.source_key,
            to_text(now),
        ),
    )
    return cursor.rowcount == 1


def _advance_streak(db: Connection, award: Award, rules: PointRules, today: date, now: datetime) -> tuple[int, int]:
    row = db.execute("SELECT last_day, length, best FROM streaks WHERE user_id = ?", (award.user_id,)).fetchone()
    last_day = datetime.fromisoformat(row[0]).date() if row else None
    length = next_streak(last_day, row[1] if row else 0, today)
    if row is not None and last_day == today:
        return length, 0
    db.execute(
        "INSERT INTO streaks (user_id, last_day, length, best) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE"
        " SET last_day = excluded.last_day, length = excluded.length,"
        " best = CASE WHEN streaks.best > excluded.length THEN streaks.best ELSE excluded.length END",
        (award.user_id, today.isoformat(), length, length),
    )
    if length < 2 or rules.streak_bonus <= 0:
        return length, 0
    bonus = Award(
        user_id=award.user_id,
        space_id=award.space_id,
        round_id=award.round_id,
        delta=rules.streak_bonus,
        reason="streak",
        detail=str(length),
        source_key=f"streak:{award.user_id}:{today.isoformat()}",
    )
    return length, rules.streak_bonus if _insert_ledger(db, bonus, bonus.delta, now) else 0


# badges and levels --------------------------------------------------------------------------------


def award_badges(
    db: Connection,
    user_id: int,
    counter: BadgeCounter,
    rules: PointRules,
    now: datetime,
    step: int = 1,
) -> tuple[str, ...]:
    """Count ``step`` more of ``counter`` for the member; returns the ids of the badges this newly earned.

    Call it in the unit of the effect being counted (an idea stored, a vote cast, an idea accepted) and
    only when that effect happened, so the count and the effect commit together. Only rules whose
    threshold lies between the old and the new count are tried: the usual cost is one upsert.
    """
    row = db.execute(
        "INSERT INTO user_counters (user_id, counter, value) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, counter) DO UPDATE SET value = user_counters.value + excluded.value RETURNING value",
        (user_id, counter, step),
    ).fetchone()
    new = int(row[0])
    old = new - step
    return _grant(
        db,
        user_id,
        (rule for rule in rules.badges if rule.counter == counter and old < rule.at_least <= new),
        now,
    )


def after_answer(db: Connection, user_id: int, awarded: Awarded, rules: PointRules, now: datetime) -> Awarded:
    """An answer's badges (answer count, streak) and level-up, decided in the answer's own unit."""
    badges = award_badges(db, user_id, "answers", rules, now)
    # A streak grows by one a day, so reaching a threshold means being equal to it.
    reached = (rule for rule in rules.badges if rule.counter == "streak" and rule.at_least == awarded.streak_days)
    badges += _grant(db, user_id, reached, now)
    return replace(awarded, badges=badges, level_up=_level_up(db, user_id, awarded.points))


def _grant(db: Connection, user_id: int, rules: Iterable[BadgeRule], now: datetime) -> tuple[str, ...]:
    granted = []
    for rule in rules:
        cursor = db.execute(
            "INSERT INTO user_badges (user_id, badge, earned_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, rule.id, to_text(now)),
        )
        if cursor.rowcount == 1:
            granted.append(rule.id)
    return tuple(granted)


def _level_up(db: Connection, user_id: int, gained: int) -> int:
    """The level just reached when ``gained`` points crossed a level threshold, else 0."""
    if gained <= 0:
        return 0
    row = db.execute("SELECT points FROM scores WHERE scope = ? AND user_id = ?", (EVERYONE, user_id)).fetchone()
    earned = int(row[0]) if row else 0
    level = level_for(earned)[0]
    return level if level > level_for(earned - gained)[0] else 0
