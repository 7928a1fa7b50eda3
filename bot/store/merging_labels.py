"""Merging a second account's labelling records into the primary's, inside the linking transaction.

One label per person per item, as with answers: where both accounts labelled the same item the earliest
label stays and the other is deleted, with everything it had counted taken out again so the records
keep matching the rows: the item's slot (``answers``, so ``answers <= cap`` holds and the item can be
served to someone else), the member record's counters (and, on a settled item, its resolved and agreeing
votes), and its points, by a ledger row on the person (the ledger is append-only). The members' records
per round are then combined: counters summed, held back when either account was. The account newly held
back that way gives back the slots of its votes, as a member held back while labelling does.

Not done here: an item is not settled again after a vote leaves it (that needs the job's rules, which the
store does not have); an open item's label is worked out again at its next vote, a settled one keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.store.database import Connection

TakeBack = Callable[[Connection, int, str, str, datetime], None]  # merging._take_back


def merge_labels(db: Connection, primary: int, second: int, key: str, now: datetime, take_back: TakeBack) -> None:
    """Make ``second``'s labels and labelling records ``primary``'s (see the module docstring)."""
    _retire_duplicate_labels(db, primary, second, key, now, take_back)
    _give_back_slots_of_the_newly_held(db, primary, second)
    db.execute("UPDATE label_answers SET user_id = ? WHERE user_id = ?", (primary, second))
    db.execute(
        "INSERT INTO label_members (round_id, user_id, answers, gold_answers, gold_correct, too_fast, resolved,"
        " agreed, excluded_at) SELECT round_id, ?, answers, gold_answers, gold_correct, too_fast, resolved, agreed,"
        " excluded_at FROM label_members WHERE user_id = ? ON CONFLICT (round_id, user_id) DO UPDATE SET"
        " answers = label_members.answers + excluded.answers,"
        " gold_answers = label_members.gold_answers + excluded.gold_answers,"
        " gold_correct = label_members.gold_correct + excluded.gold_correct,"
        " too_fast = label_members.too_fast + excluded.too_fast,"
        " resolved = label_members.resolved + excluded.resolved, agreed = label_members.agreed + excluded.agreed,"
        " excluded_at = COALESCE(label_members.excluded_at, excluded.excluded_at)",
        (primary, second),
    )
    db.execute("DELETE FROM label_members WHERE user_id = ?", (second,))
    db.execute("DELETE FROM label_views WHERE user_id = ?", (second,))


def _held(db: Connection, round_id: int, user_id: int) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM label_members WHERE round_id = ? AND user_id = ? AND excluded_at IS NOT NULL",
            (round_id, user_id),
        ).fetchone()
        is not None
    )


def _retire_duplicate_labels(
    db: Connection, primary: int, second: int, key: str, now: datetime, take_back: TakeBack
) -> None:
    pairs = db.execute(
        "SELECT s.id, s.created_at, p.id, p.created_at FROM label_answers s JOIN label_answers p"
        " ON p.item_id = s.item_id AND p.user_id = ? WHERE s.user_id = ? ORDER BY s.id",
        (primary, second),
    ).fetchall()
    for second_id, second_at, primary_id, primary_at in pairs:
        retired = primary_id if (second_at, second_id) < (primary_at, primary_id) else second_id
        _retire_label(db, int(retired), primary, key, now, take_back)


def _retire_label(db: Connection, label_id: int, primary: int, key: str, now: datetime, take_back: TakeBack) -> None:
    """Delete one label and take out all it counted: slot, member record, points."""
    item_id, round_id, user_id, value, vote, flags, gold, status, settled = db.execute(
        "SELECT a.item_id, a.round_id, a.user_id, a.value, a.vote, a.flags, i.gold, i.status, i.label"
        " FROM label_answers a JOIN label_items i ON i.id = a.item_id WHERE a.id = ?",
        (label_id,),
    ).fetchone()
    db.execute("DELETE FROM label_answers WHERE id = ?", (label_id,))
    if value is None:  # "can't tell": took no slot, counted in no record, earned nothing
        return
    held = _held(db, round_id, user_id)
    if not held or gold is not None:  # a held-back member's slots were given back when they were held back
        db.execute("UPDATE label_items SET answers = answers - 1 WHERE id = ? AND answers > 0", (item_id,))
    credited = status == "retired" and gold is None and vote is not None and not held
    db.execute(
        "UPDATE label_members SET answers = answers - 1, gold_answers = gold_answers - ?,"
        " gold_correct = gold_correct - ?, too_fast = too_fast - ?, resolved = resolved - ?, agreed = agreed - ?"
        " WHERE round_id = ? AND user_id = ?",
        (
            int(gold is not None),
            int(gold is not None and gold == vote),
            int(flags == "too_fast"),
            int(credited),
            int(credited and vote == settled),
            round_id,
            user_id,
        ),
    )
    for source_key in (f"label:{label_id}", f"agree:{item_id}:{user_id}"):
        take_back(db, primary, source_key, key, now)


def _give_back_slots_of_the_newly_held(db: Connection, primary: int, second: int) -> None:
    """In a round where one account was held back and the other not, the person is held back: the votes
    of the account that was not give back their slots (gold aside), as :func:`labelling_sql._reconsider` does."""
    for first, other in ((primary, second), (second, primary)):
        db.execute(
            "UPDATE label_items SET answers = answers - 1 WHERE gold IS NULL AND status <> 'withdrawn' AND answers > 0"
            " AND id IN (SELECT a.item_id FROM label_answers a JOIN label_members m ON m.round_id = a.round_id"
            " AND m.user_id = a.user_id AND m.excluded_at IS NULL WHERE a.user_id = ? AND a.vote IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM label_members o WHERE o.round_id = a.round_id AND o.user_id = ?"
            " AND o.excluded_at IS NOT NULL))",
            (first, other),
        )
