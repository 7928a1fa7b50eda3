"""Merging a second account's judgements of idea pairs into the primary's, inside the linking transaction.

One judgement per person per pair, as with answers: where both accounts judged the same pair, the earliest
stays and the other is deleted with its points taken back (a ledger row on the person). A judgement of a
pair holding an idea of the other account becomes a judgement of one's own idea, which is never taken, so
it goes the same way. The rest is re-pointed to the primary.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.database import Connection
from bot.store.merging_labels import TakeBack


def merge_judgements(db: Connection, primary: int, second: int, key: str, now: datetime, take_back: TakeBack) -> None:
    """Make ``second``'s judgements ``primary``'s (see the module docstring)."""
    duplicates = db.execute(
        "SELECT s.id, s.created_at, p.id, p.created_at FROM idea_judgements s JOIN idea_judgements p"
        " ON p.low_id = s.low_id AND p.high_id = s.high_id AND p.user_id = ? WHERE s.user_id = ?",
        (primary, second),
    ).fetchall()
    retired = [
        primary_id if (second_at, second_id) < (primary_at, primary_id) else second_id
        for second_id, second_at, primary_id, primary_at in duplicates
    ]
    own = db.execute(
        "SELECT j.id FROM idea_judgements j JOIN ideas i ON i.id IN (j.low_id, j.high_id)"
        " WHERE j.user_id IN (?, ?) AND i.author_id IN (?, ?) AND i.author_id != j.user_id",
        (primary, second, primary, second),
    ).fetchall()
    for judgement_id in dict.fromkeys([*retired, *(row[0] for row in own)]):
        db.execute("DELETE FROM idea_judgements WHERE id = ?", (judgement_id,))
        take_back(db, primary, f"judgement:{judgement_id}", key, now)
    db.execute("UPDATE idea_judgements SET user_id = ? WHERE user_id = ?", (primary, second))
