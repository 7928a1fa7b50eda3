"""Applying an award inside a write unit: ledger row, daily cap, streak, leaderboard scopes.

Everything here runs in the caller's transaction, so an award and the effect that earned it commit or
vanish together. The rules themselves (cap arithmetic, what a streak is) are pure functions in
:mod:`bot.points`; this module only reads and writes the rows they need.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.points import capped_delta, next_streak, week_key
from bot.store.dialects import lock_member
from bot.store.records import Award, Awarded, PointRules
from bot.store.timestamps import to_text


def apply_award(db: sqlite3.Connection, award: Award, rules: PointRules, now: datetime) -> Awarded:
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


def _insert_ledger(db: sqlite3.Connection, award: Award, delta: int, now: datetime) -> bool:
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


def _advance_streak(
    db: sqlite3.Connection, award: Award, rules: PointRules, today: date, now: datetime
) -> tuple[int, int]:
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
