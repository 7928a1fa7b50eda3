"""SQL for ideas judged in pairs: recording a judgement, and the incremental reads the pair index and the
Bradley-Terry fit live on.

A judgement, its refusal checks and its points are one unit. It runs at READ COMMITTED with both ideas'
rows share-locked (PostgreSQL): a moderator hiding or merging one of them waits for it or is seen by it,
so a judgement never counts for an idea that left the pool. ``UNIQUE (user_id, low_id, high_id)`` makes a
double tap, a replay or a second process a no-op; the award's key is the judgement's row id, so it is
paid once too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.store.database import Connection, Database
from bot.store.dialects import for_share, read_committed
from bot.store.effects import apply_award
from bot.store.ideas_sql import LISTED_SQL
from bot.store.records import LISTED, Judged, JudgeResult, JudgeStatus, NewJudgement, PointRules, PoolChanges, PoolIdea
from bot.store.timestamps import to_text

_IDEAS_CHANGED = (
    f"SELECT id, author_id, {LISTED_SQL} AS listed, status_at, merged_into FROM ideas"  # noqa: S608 - constant text
    " WHERE space_id = ? AND status_at >= ? ORDER BY status_at, id"
)
_JUDGEMENTS_AFTER = (
    "SELECT id, low_id, high_id, winner_id FROM idea_judgements WHERE space_id = ? AND id > ? ORDER BY id"
)
# A member's judgements by member alone, on the UNIQUE index, the space checked in Python: given
# ``space_id`` too, SQLite's planner picks the space's index and reads every judgement of the space (12 ms
# at 100,000).
_JUDGED_BY = "SELECT low_id, high_id, space_id FROM idea_judgements WHERE user_id = ?"


class PairQueries:
    """The judgements table over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def record(self, judgement: NewJudgement, rules: PointRules, now: datetime) -> JudgeResult:
        """Record a member's judgement of a pair with its points, or say why not (nothing is written then)."""
        low, high = judgement.pair

        @read_committed
        def unit(db: Connection) -> JudgeResult:
            rows = db.execute(
                for_share(db, "SELECT id, space_id, author_id, status FROM ideas WHERE id IN (?, ?)"), (low, high)
            ).fetchall()
            if (
                low == high
                or len(rows) != 2
                or any(row["space_id"] != judgement.space_id or row["author_id"] == judgement.user_id for row in rows)
                or judgement.winner not in (None, low, high)
            ):
                return JudgeResult(JudgeStatus.NOT_A_PAIR)
            if any(row["status"] not in LISTED for row in rows):
                return JudgeResult(JudgeStatus.GONE)
            if judgement.round_id is not None:
                status = db.execute(
                    for_share(db, "SELECT status FROM rounds WHERE id = ?"), (judgement.round_id,)
                ).fetchone()
                if status is None or status[0] != "open":
                    return JudgeResult(JudgeStatus.ROUND_CLOSED)
            if db.execute(
                "SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (judgement.space_id, judgement.user_id)
            ).fetchone():
                return JudgeResult(JudgeStatus.BANNED)
            inserted = db.execute(
                "INSERT INTO idea_judgements (space_id, user_id, low_id, high_id, winner_id, round_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (judgement.space_id, judgement.user_id, low, high, judgement.winner, judgement.round_id, to_text(now)),
            ).fetchone()
            if inserted is None:
                return JudgeResult(JudgeStatus.ALREADY_JUDGED)
            award = replace(judgement.award, source_key=f"judgement:{inserted[0]}")
            return JudgeResult(JudgeStatus.RECORDED, apply_award(db, award, rules, now))

        return await self.store.write(unit)

    async def changes(self, space_id: int, since: str, after_id: int, judge: int | None = None) -> PoolChanges:
        """What a space's pool has not seen yet, in one read (one trip to the database, one snapshot):

        * the ideas whose status moved at or after ``since`` (``""``: all of them), oldest change first; a
          new idea's ``status_at`` is its creation, so new ones are among them;
        * the judgements with an id above ``after_id``, in id order;
        * with ``judge``, the pairs that member judged in the space.

        Every member who is caught up is offered a pair, the pool brought up to date first: three reads,
        each a thread hop, were some 3 % of the bot's CPU per tap in the Discord closed-loop benchmark.
        """

        def unit(db: Connection) -> PoolChanges:
            ideas = db.execute(_IDEAS_CHANGED, (space_id, since)).fetchall()
            judgements = db.execute(_JUDGEMENTS_AFTER, (space_id, after_id)).fetchall()
            mine = db.execute(_JUDGED_BY, (judge,)).fetchall() if judge is not None else []
            return PoolChanges(
                [PoolIdea(row[0], row[1], bool(row[2]), row[3], row[4]) for row in ideas],
                [Judged(row[0], row[1], row[2], row[3]) for row in judgements],
                {(row[0], row[1]) for row in mine if row[2] == space_id},
            )

        return await self.store.read(unit)

    async def judgements_in_round(self, round_id: int) -> int:
        """How many judgements members made in a round's ``idea_pair`` tasks."""
        return int(await self.store.fetchval("SELECT COUNT(*) FROM idea_judgements WHERE round_id = ?", (round_id,), 0))
