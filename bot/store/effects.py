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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.point_rules import capped_delta, level_for, next_streak, week_key
from bot.settings import BadgeCounter
from bot.store.database import Connection, Cursor, Rows
from bot.store.dialects import lock_member
from bot.store.member_rows import COUNTERS, DAYS, STREAK, MemberRows
from bot.store.records import Award, Awarded, PointRules
from bot.store.scores import SPENDING, PendingScores, add_points
from bot.store.timestamps import day_text, to_text

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

# What an award reads of the member before it writes: the points counted toward today's cap and the
# streak. Scalar subqueries, so the answer's unit reads them in the statement that checks its round.
MEMBER_DAY = (
    "(SELECT earned FROM daily_points WHERE user_id = ? AND day = ?),"
    " (SELECT last_day FROM streaks WHERE user_id = ?), (SELECT length FROM streaks WHERE user_id = ?)"
)


@dataclass(frozen=True, slots=True)
class MemberDay:
    """The member's day as :data:`MEMBER_DAY` read it (nothing earned and no streak when unread)."""

    earned_today: int = 0
    last_day: date | None = None
    streak: int = 0

    @staticmethod
    def parameters(user_id: int, today: date) -> tuple[Any, ...]:
        return (user_id, day_text(today), user_id, user_id)

    @staticmethod
    def of(columns: Sequence[Any]) -> MemberDay:
        earned, last_day, length = columns
        return MemberDay(int(earned or 0), date.fromisoformat(last_day) if last_day else None, int(length or 0))


def local_time(now: datetime, rules: PointRules) -> datetime:
    """``now`` in the settings' time zone: days (cap, streak) and weeks (weekly leaderboard) are its."""
    return now.astimezone(ZoneInfo(rules.timezone))


def apply_award(db: Connection, award: Award, rules: PointRules, now: datetime) -> Awarded:
    """Write ``award`` (idempotent on its source_key) and everything derived from it."""
    return start_award(db, award, rules, now).settle()


def start_award(db: Connection, award: Award, rules: PointRules, now: datetime) -> Payment:
    """:func:`apply_award` up to reading the scores back (for :func:`after_answer`).

    The member's lock comes first, so the cap and the streak read here are still true when written.
    """
    lock_member(db, award.user_id)
    now = local_time(now, rules)
    day = MemberDay()
    if award.capped:
        day = MemberDay.of(
            db.execute(f"SELECT {MEMBER_DAY}", MemberDay.parameters(award.user_id, now.date())).fetchone()
        )
    return pay(db, award, rules, now, day)


class Payment:
    """An award's rows sent, its scores not yet read back: :meth:`settle` waits for them, so a unit on
    PostgreSQL's pipeline can send its other statements first (see :mod:`bot.store.postgres`).

    It holds what was paid as plain fields, and :meth:`settle` builds the one :class:`Awarded`: a frozen
    dataclass costs every answer a few microseconds to build, and an answer would otherwise build two.
    """

    __slots__ = ("capped", "points", "scores", "streak_bonus", "streak_days")

    def __init__(
        self, scores: PendingScores, points: int = 0, streak_days: int = 0, streak_bonus: int = 0, capped: bool = False
    ) -> None:
        self.scores = scores
        self.points = points  # paid, the streak bonus included (as Awarded.points)
        self.streak_days = streak_days
        self.streak_bonus = streak_bonus
        self.capped = capped

    def settle(self, grants: Iterable[Cursor] = ()) -> Awarded:
        """What the award came to, with the level it just reached (0 for none) and the badges ``grants``
        (:func:`_grant`) handed out."""
        lifetime = self.scores.lifetime()
        points = self.points
        level = 0
        if lifetime is not None and points > 0:
            level = level_for(lifetime)[0]
            level = level if level > level_for(lifetime - points)[0] else 0
        return Awarded(points, self.streak_days, self.streak_bonus, self.capped, _granted(grants), level)


@dataclass(frozen=True, slots=True)
class Waiting:
    """Where an answer's member rows go in SQLite's group commit (:mod:`bot.store.member_rows`), with the
    member's scores its unit read (``scores[i]`` is the points in ``scopes[i]`` before the award) and the
    badges they held."""

    rows: MemberRows
    scopes: Sequence[str]
    scores: Sequence[int]
    held: frozenset[str] = frozenset()


def pay(
    db: Connection,
    award: Award,
    rules: PointRules,
    now: datetime,
    day: MemberDay,
    *,
    fresh: bool = False,
    waiting: Waiting | None = None,
) -> Payment:
    """Write ``award`` given the member's ``day`` read under their lock; ``now`` in the settings' zone.

    ``fresh``: the source_key cannot have been used before (an answer's new id), so the ledger row is
    sent without waiting to learn whether it was a repeat. The ledger row, the cap, the streak (and its
    bonus) and one upsert of the member's scores in every scope (:func:`bot.store.scores.add_points`);
    with ``waiting``, the cap, the streak and the scores are left in its book instead.
    """
    delta = award.delta
    capped = False
    if award.capped:
        delta = capped_delta(award.delta, day.earned_today, rules.daily_cap)
        capped = delta < award.delta
    if not _insert_ledger(db, award, delta, now, fresh=fresh):
        return Payment(PendingScores(db, None, 0))
    streak_days = 0
    streak_bonus = 0
    if award.capped:
        if waiting is not None:
            waiting.rows.earn(award.user_id, day_text(now.date()), delta)
        else:
            db.execute(DAYS, (award.user_id, day_text(now.date()), delta))
        streak_days, streak_bonus = _advance_streak(db, award, rules, now, day, waiting)
    paid = delta + streak_bonus
    if waiting is None:
        scores = add_points(db, award.user_id, award.space_id, award.round_id, week_key(now), paid, award.reason)
    else:
        scores = _wait_for_points(db, award, paid, waiting)
    return Payment(scores, paid, streak_days, streak_bonus, capped)


def _wait_for_points(db: Connection, award: Award, paid: int, waiting: Waiting) -> PendingScores:
    """:func:`~bot.store.scores.add_points` with the upsert left waiting: the new scores are the ones
    read plus ``paid``."""
    if paid == 0 or award.reason == SPENDING:
        return PendingScores(db, None, 0)
    waiting.rows.score(award.user_id, waiting.scopes, paid)
    new = [(scope, points + paid) for scope, points in zip(waiting.scopes, waiting.scores, strict=True)]
    return PendingScores(db, Rows(new), paid)


_LEDGER_INSERT = (
    "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LEDGER_INSERT_ONCE = f"{_LEDGER_INSERT} ON CONFLICT (source_key) DO NOTHING"


def _insert_ledger(db: Connection, award: Award, delta: int, now: datetime, *, fresh: bool = False) -> bool:
    """One ledger row (the caller feeds the leaderboards); ``False`` for a repeat of its source_key."""
    cursor = db.execute(
        _LEDGER_INSERT if fresh else _LEDGER_INSERT_ONCE,
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
    return fresh or cursor.rowcount == 1


def _advance_streak(
    db: Connection, award: Award, rules: PointRules, now: datetime, day: MemberDay, waiting: Waiting | None
) -> tuple[int, int]:
    today = now.date()
    length = next_streak(day.last_day, day.streak, today)
    if day.last_day == today:
        return length, 0
    if waiting is not None:
        waiting.rows.streak(award.user_id, day_text(today), length)
    else:
        db.execute(STREAK, (award.user_id, day_text(today), length, length))
    if length < 2 or rules.streak_bonus <= 0:
        return length, 0
    bonus = Award(
        user_id=award.user_id,
        space_id=award.space_id,
        round_id=award.round_id,
        delta=rules.streak_bonus,
        reason="streak",
        detail=str(length),
        source_key=f"streak:{award.user_id}:{day_text(today)}",
    )
    return length, rules.streak_bonus if _insert_ledger(db, bonus, bonus.delta, now) else 0


# badges and levels --------------------------------------------------------------------------------


def count_up(db: Connection, user_id: int, counter: BadgeCounter, step: int = 1) -> Cursor:
    """Add ``step`` to the member's ``counter``; the cursor holds the new value (read it when needed)."""
    return db.execute(f"{COUNTERS} RETURNING value", (user_id, counter, step))


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
    return _granted(_grant(db, user_id, _crossed(count_up(db, user_id, counter, step), counter, step, rules), now))


def after_answer(
    db: Connection,
    user_id: int,
    payment: Payment,
    rules: PointRules,
    now: datetime,
    counted: Cursor | None = None,
    waiting: Waiting | None = None,
) -> Awarded:
    """An answer's badges (answer count, streak) and level-up, decided in the answer's own unit.

    ``counted``: the answer count's upsert (:func:`count_up`), when the unit sent it already. With
    ``waiting``, a badge the member does not hold yet is theirs, its row left in its book.
    """
    counted = counted if counted is not None else count_up(db, user_id, "answers")
    crossed = _crossed(counted, "answers", 1, rules)
    # A streak grows by one a day, so reaching a threshold means being equal to it.
    streak_days = payment.streak_days
    reached = [badge for at_least, badge in rules.thresholds.get("streak", ()) if at_least == streak_days]
    if waiting is None:
        return payment.settle(_grant(db, user_id, [*crossed, *reached], now))  # one wait for all that was sent
    new = [badge for badge in (*crossed, *reached) if badge not in waiting.held]
    earned_at = to_text(now) if new else ""
    for badge in new:
        waiting.rows.badge(user_id, badge, earned_at)
    return payment.settle([Rows([(badge,) for badge in new])])


def _crossed(counted: Cursor, counter: BadgeCounter, step: int, rules: PointRules) -> list[str]:
    """The ids of the badges whose ``counter`` threshold the count read from ``counted`` just crossed."""
    new = int(counted.fetchone()[0])
    old = new - step
    return [badge for at_least, badge in rules.thresholds.get(counter, ()) if old < at_least <= new]


def _grant(db: Connection, user_id: int, badges: Iterable[str], now: datetime) -> list[Cursor]:
    """Send one insert per badge; each cursor holds the badge if it was new (see :func:`_granted`)."""
    return [
        db.execute(
            "INSERT INTO user_badges (user_id, badge, earned_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING badge",
            (user_id, badge, to_text(now)),
        )
        for badge in badges
    ]


def _granted(grants: Iterable[Cursor]) -> tuple[str, ...]:
    return tuple(row[0] for cursor in grants for row in cursor.fetchall())
