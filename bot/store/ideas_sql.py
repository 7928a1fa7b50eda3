"""SQL for ideas: submissions, drafts, votes, statuses and merges, each write one unit of work.

A vote, the idea's vote count, the vote's log entry and the author's points commit together, so counts
stay exact however many members tap at once (SQLite's single writer serialises the units; on
PostgreSQL a vote locks its idea's row first, and other units run SERIALIZABLE). A status change, its
audit row, its bonus and the outbox messages to the author and every voter commit together too, so
nobody is told about a change that was rolled back, and the outbox's dedup key tells each of them once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.outbox.payloads import user_target
from bot.store.database import Connection, Database
from bot.store.dialects import for_share, for_update, lock_member, read_committed
from bot.store.effects import apply_award, audit, award_badges, enqueue
from bot.store.records import (
    LISTED,
    STATUS_BADGE_COUNTERS,
    Award,
    ChangeOutcome,
    ChangeResult,
    IdeaPoints,
    IdeaRecord,
    IdeaStatus,
    NewIdea,
    PointRules,
    Proposal,
    Recipient,
    StatusChange,
    Submitted,
    VoteResult,
    VoteStatus,
)
from bot.store.timestamps import to_text

# Keep LISTED_SQL identical to LISTED (bot.store.records) and to the WHERE of the partial indexes in
# migrations/0003_ideas.sql.
LISTED_SQL = "status IN ('new', 'under_review', 'accepted', 'launched')"
IDEA_COLUMNS = (
    "i.id, i.space_id, i.round_id, i.author_id, u.display_name AS author_name, i.text, i.category,"
    " i.parent_id, i.status, i.status_note, i.merged_into, i.votes, i.created_at"
)
_VIEWS = {
    "top": (f"i.{LISTED_SQL}", "i.votes DESC, i.id"),
    "new": (f"i.{LISTED_SQL}", "i.created_at DESC, i.id DESC"),
    "launched": ("i.status = 'launched'", "i.status_at DESC, i.id DESC"),
    "pending": ("i.status = 'pending'", "i.status_at, i.id"),
    "waiting": ("i.status = 'new'", "i.votes DESC, i.id"),  # the dashboard's Overview: no status set yet
}


class IdeaQueries:
    """The ideas tables over a :class:`Database`: writes as units, reads as single queries."""

    def __init__(self, store: Database) -> None:
        self.store = store

    # submissions --------------------------------------------------------------------------------

    async def processed(self, update_key: str) -> int | None:
        """The idea an update (or a draft) already produced, if any."""
        value = await self.store.fetchval("SELECT result FROM processed_updates WHERE update_key = ?", (update_key,))
        return int(value) if value is not None else None

    async def add(self, idea: NewIdea, rules: PointRules, now: datetime) -> Submitted:
        """Store an idea once per update key; a repeat returns the first idea as a duplicate.

        The author's idea count (badges) moves in the same transaction.
        """

        def unit(db: Connection) -> Submitted:
            if idea.update_key is not None:
                seen = db.execute(
                    "SELECT result FROM processed_updates WHERE update_key = ?", (idea.update_key,)
                ).fetchone()
                if seen is not None:
                    return Submitted(int(seen[0]), duplicate=True)
            if idea.draft_id is not None:
                db.execute("DELETE FROM idea_drafts WHERE id = ?", (idea.draft_id,))
            proposal = idea.proposal
            idea_id = int(
                db.execute(
                    "INSERT INTO ideas (space_id, round_id, author_id, text, category, parent_id, status,"
                    " created_at, status_at, origin_space_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        proposal.space_id,
                        idea.round_id,
                        proposal.user_id,
                        proposal.text,
                        proposal.category,
                        proposal.parent_id,
                        idea.status.value,
                        to_text(now),
                        to_text(now),
                        proposal.origin_id,
                    ),
                ).fetchone()[0]
            )
            if idea.update_key is not None:
                db.execute(
                    "INSERT INTO processed_updates (update_key, result, created_at) VALUES (?, ?, ?)",
                    (idea.update_key, str(idea_id), to_text(now)),
                )
            award_badges(db, proposal.user_id, "ideas", rules, now)
            return Submitted(idea_id, duplicate=False)

        return await self.store.write(unit)

    async def save_draft(self, proposal: Proposal, now: datetime) -> int:
        """Keep a held-back idea as the member's one draft in this space (replacing an older one)."""

        def unit(db: Connection) -> int:
            db.execute(
                "DELETE FROM idea_drafts WHERE user_id = ? AND space_id = ?",
                (proposal.user_id, proposal.space_id),
            )
            row = db.execute(
                "INSERT INTO idea_drafts (user_id, space_id, text, category, parent_id, created_at, origin_space_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    proposal.user_id,
                    proposal.space_id,
                    proposal.text,
                    proposal.category,
                    proposal.parent_id,
                    to_text(now),
                    proposal.origin_id,
                ),
            ).fetchone()
            return int(row[0])

        return await self.store.write(unit)

    async def draft(self, draft_id: int) -> Proposal | None:
        row = await self.store.fetchone(
            "SELECT user_id, space_id, text, category, parent_id, origin_space_id FROM idea_drafts WHERE id = ?",
            (draft_id,),
        )
        return Proposal(row[0], row[1], row[2], row[3], row[4], row[5]) if row else None

    # reads --------------------------------------------------------------------------------------

    async def idea(self, idea_id: int) -> IdeaRecord | None:
        row = await self.store.fetchone(
            f"SELECT {IDEA_COLUMNS} FROM ideas i JOIN users u ON u.id = i.author_id WHERE i.id = ?",  # noqa: S608
            (idea_id,),
        )
        return idea_record(row) if row else None

    async def listed(self, space_id: int) -> list[IdeaRecord]:
        """Every listed idea of a space (similarity candidates, trending), newest first."""
        rows = await self.store.fetchall(
            f"SELECT {IDEA_COLUMNS} FROM ideas i JOIN users u ON u.id = i.author_id"  # noqa: S608
            f" WHERE i.space_id = ? AND i.{LISTED_SQL} ORDER BY i.created_at DESC, i.id DESC",
            (space_id,),
        )
        return [idea_record(row) for row in rows]

    async def page(self, space_id: int, view: str, offset: int, limit: int) -> tuple[list[IdeaRecord], int]:
        """A page of ``top``, ``new``, ``launched``, ``pending`` or ``waiting``, and how many ideas that view
        holds."""
        where, order = _VIEWS[view]
        rows = await self.store.fetchall(
            f"SELECT {IDEA_COLUMNS} FROM ideas i JOIN users u ON u.id = i.author_id"  # noqa: S608
            f" WHERE i.space_id = ? AND {where} ORDER BY {order} LIMIT ? OFFSET ?",
            (space_id, limit, offset),
        )
        total = await self.store.fetchval(
            f"SELECT COUNT(*) FROM ideas i WHERE i.space_id = ? AND {where}",  # noqa: S608
            (space_id,),
            0,
        )
        return [idea_record(row) for row in rows], int(total)

    async def children(self, idea_id: int, limit: int) -> list[IdeaRecord]:
        """Listed ideas that build on this one, most voted first."""
        rows = await self.store.fetchall(
            f"SELECT {IDEA_COLUMNS} FROM ideas i JOIN users u ON u.id = i.author_id"  # noqa: S608
            f" WHERE i.parent_id = ? AND i.{LISTED_SQL} ORDER BY i.votes DESC, i.id LIMIT ?",
            (idea_id, limit),
        )
        return [idea_record(row) for row in rows]

    # votes --------------------------------------------------------------------------------------

    async def vote(self, idea_id: int, user_id: int, up: bool, points: IdeaPoints, now: datetime) -> VoteResult:
        """Upvote (``up``) or retract, with the count, the log and the author's points in one transaction.

        Refused without a change: a missing or unlisted idea, one's own idea, a closed round, a ban, a
        second upvote, a retraction without an upvote.

        Every vote on an idea changes its row, so on PostgreSQL the unit runs at READ COMMITTED with the
        idea's row locked first: votes on one idea take turns instead of aborting each other, a status
        change or a merge waits for them (or they see it), and the round's row is share-locked as an
        answer's is.
        """

        @read_committed
        def unit(db: Connection) -> VoteResult:
            idea = db.execute(
                for_update(
                    db, "SELECT space_id, author_id, status, merged_into, votes, round_id FROM ideas WHERE id = ?"
                ),
                (idea_id,),
            ).fetchone()
            if idea is None or idea["status"] in (IdeaStatus.PENDING, IdeaStatus.HIDDEN):
                return VoteResult(VoteStatus.NOT_FOUND)
            status = IdeaStatus(idea["status"])
            if status not in LISTED:
                return VoteResult(VoteStatus.NOT_VOTABLE, idea["votes"], status, idea["merged_into"])
            if idea["author_id"] == user_id:
                return VoteResult(VoteStatus.OWN_IDEA, idea["votes"], status)
            if idea["round_id"] is not None:
                round_row = db.execute(
                    for_share(db, "SELECT status FROM rounds WHERE id = ?"), (idea["round_id"],)
                ).fetchone()
                if round_row is not None and round_row[0] != "open":
                    return VoteResult(VoteStatus.ROUND_CLOSED, idea["votes"], status)
            if db.execute(
                "SELECT 1 FROM bans WHERE space_id = ? AND user_id = ?", (idea["space_id"], user_id)
            ).fetchone():
                return VoteResult(VoteStatus.BANNED, idea["votes"], status)
            if up:
                changed = db.execute(
                    "INSERT INTO votes (idea_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (idea_id, user_id, to_text(now)),
                ).rowcount
            else:
                changed = db.execute("DELETE FROM votes WHERE idea_id = ? AND user_id = ?", (idea_id, user_id)).rowcount
            if not changed:
                return VoteResult(VoteStatus.ALREADY_VOTED if up else VoteStatus.NOT_VOTED, idea["votes"], status)
            votes = db.execute(
                "UPDATE ideas SET votes = votes + ? WHERE id = ? RETURNING votes", (1 if up else -1, idea_id)
            ).fetchone()[0]
            events = db.execute(
                "SELECT COUNT(*) FROM vote_events WHERE idea_id = ? AND user_id = ?", (idea_id, user_id)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO vote_events (idea_id, user_id, kind, created_at) VALUES (?, ?, ?, ?)",
                (idea_id, user_id, "up" if up else "retract", to_text(now)),
            )
            kind = "upvote" if up else "unvote"
            _settle_upvote_points(db, idea_id, points, f"idea-{kind}:{idea_id}:{user_id}:{events + 1}", now)
            award_badges(db, user_id, "votes", points.rules, now, step=1 if up else -1)
            return VoteResult(VoteStatus.RECORDED if up else VoteStatus.RETRACTED, votes, status)

        return await self.store.write(unit)

    # statuses -----------------------------------------------------------------------------------

    async def change_status(self, change: StatusChange, points: IdeaPoints, now: datetime) -> ChangeResult:
        """Apply a moderator's change with its audit row, bonus, vote move (merge) and messages.

        Setting the status and note an idea already has changes nothing. A merge moves the votes to the
        target as an exact union (a member who voted for both counts once; the target's author's vote is
        dropped, as nobody votes for their own idea) and is final: a merged idea takes no further change.
        """
        return await self.store.write(lambda db: _apply_change(db, change, points, now))

    async def change_many(
        self, changes: Sequence[StatusChange], points: IdeaPoints, now: datetime
    ) -> list[ChangeResult]:
        """Several changes (a bulk status change) in one transaction: all of them, or none."""
        return await self.store.write(lambda db: [_apply_change(db, change, points, now) for change in changes])


def _apply_change(db: Connection, change: StatusChange, points: IdeaPoints, now: datetime) -> ChangeResult:
    """One status change, inside the caller's unit (see :meth:`IdeaQueries.change_status`)."""
    row = db.execute(
        "SELECT round_id, author_id, status, status_note, merged_into FROM ideas WHERE id = ? AND space_id = ?",
        (change.idea_id, change.space_id),
    ).fetchone()
    if row is None:
        return ChangeResult(ChangeOutcome.NOT_FOUND)
    if row["status"] == IdeaStatus.MERGED:
        return ChangeResult(ChangeOutcome.ALREADY_MERGED, merged_into=row["merged_into"])
    if change.only_from is not None and row["status"] != change.only_from:
        return ChangeResult(ChangeOutcome.NOT_PENDING)
    if (row["status"], row["status_note"]) == (change.status, change.note):
        return ChangeResult(ChangeOutcome.UNCHANGED)
    if (
        change.status == IdeaStatus.MERGED
        and not db.execute(
            f"SELECT 1 FROM ideas WHERE id = ? AND space_id = ? AND id != ? AND {LISTED_SQL}",  # noqa: S608
            (change.merged_into, change.space_id, change.idea_id),
        ).fetchone()
    ):
        return ChangeResult(ChangeOutcome.BAD_TARGET)
    counter = STATUS_BADGE_COUNTERS.get(change.status)
    bonus_key = f"idea-{change.status.value}:{change.idea_id}"
    # The status's first time: its bonus row (written even when the bonus is 0) is not there yet.
    first_time = (
        counter is not None and not db.execute("SELECT 1 FROM ledger WHERE source_key = ?", (bonus_key,)).fetchone()
    )
    bonus = points.bonuses.get(change.status, 0)
    supporters = (
        _early_supporters(db, change.idea_id, points.early_supporters)
        if first_time and change.status == IdeaStatus.LAUNCHED
        else []
    )
    rewards = dict.fromkeys(supporters, points.supporter_bonus)
    if first_time:
        rewards[row["author_id"]] = bonus
    # Read before a merge moves the votes away: the voters of this idea are the ones to tell.
    compose = change.compose
    messages = [(r, compose(r)) for r in _recipients(db, change.idea_id, rewards)] if compose is not None else []
    db.execute(
        "UPDATE ideas SET status = ?, status_note = ?, merged_into = ?, status_at = ? WHERE id = ?",
        (change.status.value, change.note, change.merged_into, to_text(now), change.idea_id),
    )
    target = f"#{change.idea_id}"
    detail = f"{change.status.value} #{change.merged_into}" if change.merged_into else change.status.value
    audit(
        db,
        space_id=change.space_id,
        moderator_id=change.moderator_id,
        action=change.action,
        target=target,
        detail=f"{detail} {change.note}".strip(),
        now=now,
    )
    votes = 0
    if change.merged_into is not None:
        votes = _move_votes(db, change.idea_id, change.merged_into)
        _carry_tags(db, change.idea_id, change.merged_into)
        _settle_upvote_points(db, change.merged_into, points, f"idea-merge:{change.merged_into}:{change.idea_id}", now)
    if first_time and counter is not None:
        award_badges(db, row["author_id"], counter, points.rules, now)
    if bonus or counter is not None:
        award = Award(
            row["author_id"],
            change.space_id,
            row["round_id"],
            bonus,
            f"idea_{change.status.value}",
            str(change.idea_id),
            bonus_key,
        )
        apply_award(db, award, points.rules, now)
    for supporter in supporters:
        _pay_supporter(db, change, row["round_id"], supporter, points, now)
    for recipient, payload in messages:
        enqueue(
            db,
            platform=recipient.platform,
            target=user_target(recipient.platform_user_id),
            payload=payload,
            now=now,
            dedup_key=f"status:{change.idea_id}:{change.status.value}:{recipient.user_id}",
        )
    return ChangeResult(ChangeOutcome.CHANGED, votes, change.merged_into)


def idea_record(row: Any) -> IdeaRecord:
    return IdeaRecord(
        id=row["id"],
        space_id=row["space_id"],
        round_id=row["round_id"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        text=row["text"],
        category=row["category"],
        parent_id=row["parent_id"],
        status=IdeaStatus(row["status"]),
        status_note=row["status_note"],
        merged_into=row["merged_into"],
        votes=row["votes"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _settle_upvote_points(db: Connection, idea_id: int, points: IdeaPoints, source_key: str, now: datetime) -> None:
    """Bring what the author was paid for upvotes to what the idea's votes are worth now.

    An upvote adds, a retraction takes back, both under the cap, as new ledger entries (the ledger is
    append-only); ``ideas.upvote_points`` remembers the running total the cap is measured against.
    A retraction takes back only what the author still holds, so a balance never goes negative when
    the points were spent meanwhile; what was not taken back stays paid (a new upvote does not pay it twice).
    """
    idea = db.execute(
        "SELECT space_id, round_id, author_id, votes, upvote_points FROM ideas WHERE id = ?", (idea_id,)
    ).fetchone()
    delta = points.upvotes_worth(idea["votes"]) - idea["upvote_points"]
    if delta < 0:
        lock_member(db, idea["author_id"])  # the balance read next stays true until the take-back is written
        balance = db.execute(
            "SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE user_id = ?", (idea["author_id"],)
        ).fetchone()[0]
        delta = max(delta, -max(int(balance), 0))
    if delta == 0:
        return
    reason = "idea_upvote" if delta > 0 else "idea_unvote"
    award = Award(idea["author_id"], idea["space_id"], idea["round_id"], delta, reason, str(idea_id), source_key)
    if apply_award(db, award, points.rules, now).points:
        db.execute("UPDATE ideas SET upvote_points = upvote_points + ? WHERE id = ?", (delta, idea_id))


def _move_votes(db: Connection, source_id: int, target_id: int) -> int:
    """Move a merged idea's votes to the target as an exact union; returns the target's new count."""
    db.execute(
        "INSERT INTO votes (idea_id, user_id, created_at) SELECT ?, v.user_id, v.created_at FROM votes v"
        " WHERE v.idea_id = ? AND v.user_id != (SELECT author_id FROM ideas WHERE id = ?)"
        " ON CONFLICT DO NOTHING",
        (target_id, source_id, target_id),
    )
    db.execute("DELETE FROM votes WHERE idea_id = ?", (source_id,))
    db.execute("UPDATE ideas SET votes = 0 WHERE id = ?", (source_id,))
    return int(
        db.execute(
            "UPDATE ideas SET votes = (SELECT COUNT(*) FROM votes WHERE idea_id = ?) WHERE id = ? RETURNING votes",
            (target_id, target_id),
        ).fetchone()[0]
    )


def _carry_tags(db: Connection, source_id: int, target_id: int) -> None:
    """A merged idea's tags go on the target too: the team sorted it, and the target now speaks for it
    (its internal notes stay its own and are shown on the target, see :mod:`bot.store.idea_board_sql`)."""
    db.execute(
        "INSERT INTO idea_tags (idea_id, tag) SELECT ?, tag FROM idea_tags WHERE idea_id = ? ON CONFLICT DO NOTHING",
        (target_id, source_id),
    )


def _early_supporters(db: Connection, idea_id: int, limit: int) -> list[int]:
    """The first ``limit`` members whose upvote is on the idea now, earliest vote first (a merged
    idea's votes keep their time, so who came first survives a merge)."""
    if limit <= 0:
        return []
    rows = db.execute(
        "SELECT user_id FROM votes WHERE idea_id = ? ORDER BY created_at, user_id LIMIT ?", (idea_id, limit)
    ).fetchall()
    return [int(row[0]) for row in rows]


def _pay_supporter(
    db: Connection, change: StatusChange, round_id: int | None, user_id: int, points: IdeaPoints, now: datetime
) -> None:
    """An early supporter's share of a launch, keyed per idea and member: paid once, whatever reruns."""
    if points.supporter_bonus <= 0:
        return
    award = Award(
        user_id,
        change.space_id,
        round_id,
        points.supporter_bonus,
        "idea_supporter",
        str(change.idea_id),
        f"idea-supporter:{change.idea_id}:{user_id}",
    )
    apply_award(db, award, points.rules, now)


def _recipients(db: Connection, idea_id: int, rewards: dict[int, int]) -> Sequence[Recipient]:
    """The idea's author and every member whose vote is on it now, each with the points this change
    pays them (``rewards``: the author's bonus, early supporters' share of a launch)."""
    rows = db.execute(
        "SELECT u.id, u.platform, u.platform_user_id, u.language, 1 FROM ideas i"
        " JOIN users u ON u.id = i.author_id WHERE i.id = ?"
        " UNION ALL SELECT u.id, u.platform, u.platform_user_id, u.language, 0 FROM votes v"
        " JOIN users u ON u.id = v.user_id WHERE v.idea_id = ?",
        (idea_id, idea_id),
    ).fetchall()
    return [Recipient(row[0], row[1], row[2], row[3], bool(row[4]), rewards.get(row[0], 0)) for row in rows]
