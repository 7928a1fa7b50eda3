"""SQL for labelling jobs: a job's items, the next item for a member, recording a label, quality records.

Recording a label is one unit: the round's gate (open, not banned), the member not held back, the
item's slot (``answers < cap``, guarded by the UPDATE and backed by a CHECK constraint), the answer
(UNIQUE per item and member), the member's gold record and, when it falls under the job's bar, their
exclusion with its audit row, the item's new label and whether it settled, and the points: all commit
or vanish together. The feature decides what the votes say (``JobRules.settle``); the SQL only keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.store.database import Connection, Database
from bot.store.dialects import read_committed
from bot.store.effects import after_answer, apply_award, audit, start_award
from bot.store.records import (
    Award,
    Awarded,
    Evidence,
    ItemQuery,
    ItemRow,
    ItemState,
    ItemVote,
    JobRules,
    LabelAnswer,
    LabelResult,
    LabelStatus,
    MemberQuality,
    NewLabel,
    PointRules,
    ServedItem,
)
from bot.store.tasks_sql import round_gate
from bot.store.timestamps import from_text, to_text

log = logging.getLogger(__name__)

_INSERT_LABEL = (
    "INSERT INTO label_answers (item_id, round_id, task_id, user_id, value, vote, seconds, flags, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, user_id) DO NOTHING RETURNING id"
)

GOLD_CAP = 1_000_000  # gold items never settle: their cap only keeps the CHECK constraint meaningful
_CANDIDATES = 8  # the items nearest to settling that a member's id picks among


class LabellingQueries:
    """Items, labels and members' quality records over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def sync_items(self, round_id: int, task_id: str, items: Sequence[ItemRow], cap: int) -> None:
        """Make the job's items in this round those of the file: new ones join, removed ones stop being
        served (withdrawn, their answers kept), ones put back are served again. Idempotent."""
        keys = [item.key for item in items]

        def unit(db: Connection) -> None:
            for item in items:
                db.execute(
                    "INSERT INTO label_items (round_id, task_id, item_key, gold, cap) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (round_id, task_id, item_key) DO NOTHING",
                    (round_id, task_id, item.key, item.gold, GOLD_CAP if item.gold is not None else cap),
                )
            present = {
                row[0]: row[1]
                for row in db.execute(
                    "SELECT item_key, status FROM label_items WHERE round_id = ? AND task_id = ? AND note = ?",
                    (round_id, task_id, REMOVED),
                )
            }
            listed = set(keys)
            for key in listed & present.keys():
                db.execute(
                    "UPDATE label_items SET status = 'open', note = '' WHERE round_id = ? AND task_id = ?"
                    " AND item_key = ?",
                    (round_id, task_id, key),
                )
            for (key,) in db.execute(
                "SELECT item_key FROM label_items WHERE round_id = ? AND task_id = ? AND status = 'open'",
                (round_id, task_id),
            ).fetchall():
                if key not in listed:
                    withdraw(db, round_id, task_id, key, REMOVED)

        await self.store.write(unit)

    async def withdraw(self, round_id: int, task_id: str, key: str, note: str) -> None:
        """Stop serving an item (its image went missing, say); its answers stay."""
        await self.store.write(lambda db: withdraw(db, round_id, task_id, key, note))

    async def next_item(self, query: ItemQuery, now: datetime) -> tuple[ServedItem | None, bool]:
        """The item to show the member next, remembered with the time it was shown; and whether the
        member is held back from labelling in this round (then no item). Once no item of the job is left
        for the member, no gold item is either: gold only ever comes mixed in with real work."""

        def unit(db: Connection) -> tuple[ServedItem | None, bool]:
            held = db.execute(
                "SELECT 1 FROM label_members WHERE round_id = ? AND user_id = ? AND excluded_at IS NOT NULL",
                (query.round_id, query.user_id),
            ).fetchone()
            if held is not None:
                return None, True
            chosen = _candidate(db, query, gold=False)
            if chosen is None:  # gold is mixed in among the job's items, never served on its own
                return None, False
            answered = db.execute(
                "SELECT COUNT(*) FROM label_answers WHERE round_id = ? AND task_id = ? AND user_id = ?",
                (query.round_id, query.task_id, query.user_id),
            ).fetchone()[0]
            if query.gold_turn(int(answered)):
                chosen = _candidate(db, query, gold=True) or chosen
            db.execute(
                "INSERT INTO label_views (round_id, task_id, user_id, item_id, shown_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (round_id, task_id, user_id) DO UPDATE SET item_id = excluded.item_id,"
                " shown_at = excluded.shown_at",
                (query.round_id, query.task_id, query.user_id, chosen.id, to_text(now)),
            )
            return chosen, False

        return await self.store.write(unit)

    async def item(self, item_id: int) -> tuple[int, str, str] | None:
        """(round id, task id, item key) of an item, or ``None``."""
        row = await self.store.fetchone("SELECT round_id, task_id, item_key FROM label_items WHERE id = ?", (item_id,))
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    async def record_label(
        self, label: NewLabel, job: JobRules, rules: PointRules, now: datetime, space_id: int
    ) -> LabelResult:
        """Record one label with everything it changes (see the module docstring); a repeat changes nothing."""

        @read_committed
        def unit(db: Connection) -> LabelResult:
            gate = round_gate(db, label.round_id, label.user_id)
            if gate is None or gate[0] != "open":
                return LabelResult(LabelStatus.ROUND_CLOSED)
            if gate[2]:
                return LabelResult(LabelStatus.BANNED)
            member = (label.round_id, label.user_id)
            held = db.execute(
                "SELECT excluded_at FROM label_members WHERE round_id = ? AND user_id = ?", member
            ).fetchone()
            if held is not None and held[0] is not None:
                return LabelResult(LabelStatus.NOT_FOR_YOU)
            item = db.execute(
                "SELECT status, gold FROM label_items WHERE id = ? AND round_id = ? AND task_id = ?",
                (label.item_id, label.round_id, label.task_id),
            ).fetchone()
            if item is None:
                return LabelResult(LabelStatus.STALE)
            if db.execute(
                "SELECT 1 FROM label_answers WHERE item_id = ? AND user_id = ?", (label.item_id, label.user_id)
            ).fetchone():
                return LabelResult(LabelStatus.ALREADY_ANSWERED)
            if item[0] != "open":
                return LabelResult(LabelStatus.ITEM_SETTLED)
            gold: str | None = item[1]
            taken = 0
            if label.value is not None:
                slot = db.execute(
                    "UPDATE label_items SET answers = answers + 1 WHERE id = ? AND status = 'open'"
                    " AND answers < cap RETURNING answers",
                    (label.item_id,),
                ).fetchone()
                if slot is None:
                    return LabelResult(LabelStatus.ITEM_SETTLED)
                taken = int(slot[0])
            seconds = _seconds_since_shown(db, label, now)
            too_fast = seconds is not None and seconds < job.min_seconds and label.value is not None
            inserted = db.execute(
                _INSERT_LABEL,
                (
                    label.item_id,
                    label.round_id,
                    label.task_id,
                    label.user_id,
                    label.value,
                    label.vote,
                    seconds,
                    "too_fast" if too_fast else "",
                    to_text(now),
                ),
            ).fetchone()
            db.execute(
                "DELETE FROM pending_inputs WHERE user_id = ? AND round_id = ? AND task_id = ?",
                (label.user_id, label.round_id, label.task_id),
            )
            if inserted is None:  # the same member's double tap, a moment ahead of this one
                if label.value is not None:
                    db.execute("UPDATE label_items SET answers = answers - 1 WHERE id = ?", (label.item_id,))
                return LabelResult(LabelStatus.ALREADY_ANSWERED)
            if label.value is None:
                return LabelResult(LabelStatus.RECORDED, Awarded(0))
            correct = gold is not None and gold == label.vote
            excluded_now = _update_member(db, label, job, gold is not None, correct, too_fast, now, space_id)
            if excluded_now:
                _reconsider(db, label, job, rules, now)
            settled = False
            if gold is None:
                settled = _settle(db, label, label.item_id, job, taken, rules, now)
            elif job.pay_on_agreement and taken >= job.min_answers:
                _pay_agreeing(db, label, label.item_id, gold, rules, now)
            awarded = Awarded(0)
            if not job.pay_on_agreement:
                award = replace(label.award, source_key=f"label:{inserted[0]}")
                awarded = after_answer(db, label.user_id, start_award(db, award, rules, now), rules, now)
            return LabelResult(LabelStatus.RECORDED, awarded, settled, excluded_now)

        return await self.store.write(unit)

    # reading a round's job ----------------------------------------------------------------------

    async def items_of(self, round_id: int) -> list[ItemState]:
        rows = await self.store.fetchall(
            "SELECT id, task_id, item_key, gold, status, answers, label, confidence, note FROM label_items"
            " WHERE round_id = ? ORDER BY task_id, id",
            (round_id,),
        )
        return [
            ItemState(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), int(r[5]), r[6], r[7], str(r[8])) for r in rows
        ]

    async def answers_of(self, round_id: int) -> list[LabelAnswer]:
        rows = await self.store.fetchall(
            "SELECT item_id, task_id, user_id, value, vote, seconds, flags, created_at FROM label_answers"
            " WHERE round_id = ? ORDER BY id",
            (round_id,),
        )
        return [LabelAnswer(int(r[0]), str(r[1]), int(r[2]), r[3], r[4], r[5], str(r[6]), str(r[7])) for r in rows]

    async def crowd_gold(self, round_id: int) -> tuple[int, int]:
        """(right, total) gold answers of the round's members not held back: the crowd's pooled record."""
        row = await self.store.fetchone(
            "SELECT SUM(gold_correct), SUM(gold_answers) FROM label_members WHERE round_id = ? AND excluded_at IS NULL",
            (round_id,),
        )
        return (0, 0) if row is None or row[1] is None else (int(row[0]), int(row[1]))

    async def members_of(self, round_id: int, user_ids: Iterable[int] | None = None) -> list[MemberQuality]:
        """The members' labelling records in a round (all of them, or those of ``user_ids``)."""
        rows = await self.store.fetchall(
            "SELECT user_id, answers, gold_answers, gold_correct, resolved, agreed, too_fast, excluded_at"
            " FROM label_members WHERE round_id = ? ORDER BY user_id",
            (round_id,),
        )
        wanted = None if user_ids is None else set(user_ids)
        return [
            MemberQuality(
                int(r[0]),
                int(r[1]),
                Evidence(int(r[2]), int(r[3]), int(r[4]), int(r[5])),
                int(r[6]),
                r[7] is not None,
                from_text(r[7]),
            )
            for r in rows
            if wanted is None or int(r[0]) in wanted
        ]

    async def export_rows(self, round_id: int) -> list[Any]:
        """Every label that is an answer ("can't tell" is not), oldest first, with its item's key, its
        member's name and platform, and ``excluded`` (1 when the member is held back)."""
        return await self.store.fetchall(
            "SELECT a.id, a.task_id, i.item_key, a.user_id, u.platform, u.display_name, a.value, a.flags,"
            " a.created_at, CASE WHEN m.excluded_at IS NULL THEN 0 ELSE 1 END AS excluded"
            " FROM label_answers a JOIN label_items i ON i.id = a.item_id JOIN users u ON u.id = a.user_id"
            " LEFT JOIN label_members m ON m.round_id = a.round_id AND m.user_id = a.user_id"
            " WHERE a.round_id = ? AND a.value IS NOT NULL ORDER BY a.id",
            (round_id,),
        )


REMOVED = "removed from the item file"


def withdraw(db: Connection, round_id: int, task_id: str, key: str, note: str) -> None:
    db.execute(
        "UPDATE label_items SET status = 'withdrawn', note = ? WHERE round_id = ? AND task_id = ? AND item_key = ?"
        " AND status = 'open'",
        (note, round_id, task_id, key),
    )


def _candidate(db: Connection, query: ItemQuery, *, gold: bool) -> ServedItem | None:
    """One open item of the kind asked (gold or not) the member has not answered: among those nearest to
    settling (most answers first, then oldest), the one the member's id points at."""
    rows = db.execute(
        "SELECT id, item_key FROM label_items i WHERE round_id = ? AND task_id = ? AND status = 'open'"
        " AND answers < cap AND (gold IS NOT NULL) = ?"
        " AND NOT EXISTS (SELECT 1 FROM label_answers a WHERE a.item_id = i.id AND a.user_id = ?)"
        " ORDER BY answers DESC, id LIMIT ?",
        (query.round_id, query.task_id, gold, query.user_id, _CANDIDATES),
    ).fetchall()
    if not rows:
        return None
    row = rows[query.user_id % len(rows)]
    return ServedItem(int(row[0]), str(row[1]))


def _seconds_since_shown(db: Connection, label: NewLabel, now: datetime) -> float | None:
    """How long after the item was shown the member answered; ``None`` when it was not the item last
    shown to them (an older message), which cannot be timed."""
    row = db.execute(
        "SELECT item_id, shown_at FROM label_views WHERE round_id = ? AND task_id = ? AND user_id = ?",
        (label.round_id, label.task_id, label.user_id),
    ).fetchone()
    shown = from_text(row[1]) if row is not None and int(row[0]) == label.item_id else None
    return None if shown is None else max(0.0, (now - shown).total_seconds())


def _update_member(
    db: Connection,
    label: NewLabel,
    job: JobRules,
    on_gold: bool,
    correct: bool,
    too_fast: bool,
    now: datetime,
    space_id: int,
) -> bool:
    """Count the answer in the member's record; after a gold answer, hold them back (audited) once their
    record falls under the job's bar (``JobRules.holds_back``). Returns whether that happened now."""
    row = db.execute(
        "INSERT INTO label_members (round_id, user_id, answers, gold_answers, gold_correct, too_fast)"
        " VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (round_id, user_id) DO UPDATE SET"
        " answers = label_members.answers + 1, gold_answers = label_members.gold_answers + excluded.gold_answers,"
        " gold_correct = label_members.gold_correct + excluded.gold_correct,"
        " too_fast = label_members.too_fast + excluded.too_fast RETURNING gold_answers, gold_correct, resolved, agreed",
        (label.round_id, label.user_id, int(on_gold), int(correct), int(too_fast)),
    ).fetchone()
    evidence = Evidence(int(row[0]), int(row[1]), int(row[2]), int(row[3]))
    if not on_gold or not job.holds_back(evidence):
        return False
    db.execute(
        "UPDATE label_members SET excluded_at = ? WHERE round_id = ? AND user_id = ? AND excluded_at IS NULL",
        (to_text(now), label.round_id, label.user_id),
    )
    audit(
        db,
        space_id=space_id,
        moderator_id=None,
        action="quality_exclude",
        target=str(label.user_id),
        detail=(
            f"round {label.round_id}: {evidence.gold_correct} of {evidence.gold_answers} gold answers right,"
            f" {evidence.agreed} of {evidence.resolved} votes agreeing with settled items"
        ),
        now=now,
    )
    log.info("action=quality_exclude round=%s user=%s evidence=%s", label.round_id, label.user_id, evidence)
    return True


def _reconsider(db: Connection, label: NewLabel, job: JobRules, rules: PointRules, now: datetime) -> None:
    """The member just held back no longer counts: every item of the round they voted on (gold aside)
    gives their slot back and is settled again without their vote, so an item they helped settle is
    served again when the others' votes alone are not sure enough."""
    voted = db.execute(
        "SELECT a.item_id FROM label_answers a JOIN label_items i ON i.id = a.item_id WHERE a.round_id = ?"
        " AND a.user_id = ? AND a.vote IS NOT NULL AND i.gold IS NULL AND i.status <> 'withdrawn' ORDER BY a.item_id",
        (label.round_id, label.user_id),
    ).fetchall()
    for (item_id,) in voted:
        taken = db.execute(
            "UPDATE label_items SET answers = answers - 1 WHERE id = ? RETURNING answers", (item_id,)
        ).fetchone()[0]
        _settle(db, label, int(item_id), job, int(taken), rules, now)


def _settle(
    db: Connection, label: NewLabel, item_id: int, job: JobRules, taken: int, rules: PointRules, now: datetime
) -> bool:
    """Ask the feature what the item's counted votes say now, keep it, and retire the item once it is
    settled (or serve it again when it no longer is); under ``pay_on_agreement`` the members whose vote
    matches are paid when it settles."""
    before = db.execute("SELECT status, label FROM label_items WHERE id = ?", (item_id,)).fetchone()
    if before[0] == "retired":  # settled before: its voters' agreement is counted afresh below
        _credit(db, label.round_id, item_id, before[1], -1)
    votes = [
        ItemVote(int(row[0]), str(row[1]), Evidence(int(row[2]), int(row[3]), int(row[4]), int(row[5])))
        for row in db.execute(
            "SELECT a.user_id, a.vote, m.gold_answers, m.gold_correct, m.resolved, m.agreed FROM label_answers a"
            " JOIN label_members m ON m.round_id = a.round_id AND m.user_id = a.user_id"
            " WHERE a.item_id = ? AND a.vote IS NOT NULL AND m.excluded_at IS NULL ORDER BY a.id",
            (item_id,),
        )
    ]
    decided = job.settle(votes, taken)
    status = "retired" if decided.settled else "open"
    db.execute(
        "UPDATE label_items SET label = ?, confidence = ?, status = ? WHERE id = ?",
        (decided.label, decided.confidence, status, item_id),
    )
    if decided.settled:
        _credit(db, label.round_id, item_id, decided.label, +1)
        if job.pay_on_agreement:
            _pay_agreeing(db, label, item_id, decided.label, rules, now)
    return decided.settled


def _credit(db: Connection, round_id: int, item_id: int, settled: str, sign: int) -> None:
    """Count (``sign`` 1) or take back (-1) the votes on a settled item in its voters' records: one more
    resolved vote each, and one more agreeing for those whose vote is the settled label."""
    db.execute(
        "UPDATE label_members SET resolved = resolved + ?, agreed = agreed + ? * (SELECT COUNT(*) FROM label_answers a"
        " WHERE a.item_id = ? AND a.user_id = label_members.user_id AND a.vote = ?)"
        " WHERE round_id = ? AND user_id IN (SELECT user_id FROM label_answers WHERE item_id = ? AND vote IS NOT NULL)",
        (sign, sign, item_id, settled, round_id, item_id),
    )


def _pay_agreeing(db: Connection, label: NewLabel, item_id: int, agreed: str, rules: PointRules, now: datetime) -> None:
    """Pay every member still counted whose vote on the item matches ``agreed`` (once each: the ledger's
    source key names the item and the member), in member order so concurrent payers lock members alike."""
    voters = db.execute(
        "SELECT a.user_id FROM label_answers a JOIN label_members m ON m.round_id = a.round_id"
        " AND m.user_id = a.user_id WHERE a.item_id = ? AND a.vote = ? AND m.excluded_at IS NULL ORDER BY a.user_id",
        (item_id, agreed),
    ).fetchall()
    key = db.execute("SELECT item_key FROM label_items WHERE id = ?", (item_id,)).fetchone()[0]
    for (user_id,) in voters:
        award = Award(
            int(user_id),
            label.award.space_id,
            label.round_id,
            label.award.delta,
            "label_agreed",
            f"{label.task_id}/{key}",
            f"agree:{item_id}:{user_id}",
            capped=True,
        )
        apply_award(db, award, rules, now)
