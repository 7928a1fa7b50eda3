"""Merging a second account into a person's primary account, inside the linking transaction.

History is never edited: points move by new ledger rows on both accounts (one pair per leaderboard scope
the second account earned in, so every board follows; spending moves as ``redeem`` rows, which boards
ignore), and so the ledger total equals the sum of balances before and after. Where both accounts answered
the same task in the same round, or voted for the same idea, the earliest stays: the other row is deleted
(its points taken back from whoever holds them now, by a ledger row) and the counts follow; so is a vote
one account gave the other's idea, and the same goes for labels (:mod:`bot.store.merging_labels`) and
judgements of idea pairs (:mod:`bot.store.merging_pairs`). Everything else the second account owns is
re-pointed to the primary: answers, skips, votes, ideas; badges and counters are united, the streak is the
longer one, bans are united (a ban follows the person).
"""

from __future__ import annotations

from datetime import datetime

from bot.store.database import Connection
from bot.store.dialects import shard
from bot.store.merging_labels import merge_labels
from bot.store.merging_pairs import merge_judgements
from bot.store.scores import add_points
from bot.store.timestamps import to_text


def merge_accounts(db: Connection, primary: int, second: int, key: str, now: datetime) -> None:
    """Make ``second``'s points and records ``primary``'s; ``key`` names this link in ledger source keys."""
    _move_points(db, primary, second, key, now)
    _retire_duplicate_answers(db, primary, second, key, now)
    _retire_duplicate_votes(db, primary, second, key, now)
    _retire_votes_on_own_ideas(db, primary, second, key, now)
    merge_labels(db, primary, second, key, now, _take_back)
    merge_judgements(db, primary, second, key, now, _take_back)
    db.execute("UPDATE answers SET user_id = ? WHERE user_id = ?", (primary, second))
    db.execute("UPDATE votes SET user_id = ? WHERE user_id = ?", (primary, second))
    db.execute("DELETE FROM pending_inputs WHERE user_id = ?", (second,))
    db.execute("DELETE FROM idea_drafts WHERE user_id = ?", (second,))
    db.execute(
        "DELETE FROM skips WHERE user_id = ? AND EXISTS (SELECT 1 FROM skips p WHERE p.user_id = ?"
        " AND p.round_id = skips.round_id AND p.task_id = skips.task_id)",
        (second, primary),
    )
    db.execute("UPDATE skips SET user_id = ? WHERE user_id = ?", (primary, second))
    db.execute("UPDATE ideas SET author_id = ? WHERE author_id = ?", (primary, second))
    _unite(db, primary, second)


def _move_points(db: Connection, primary: int, second: int, key: str, now: datetime) -> None:
    """Earned points per (space, round, week), then the spending: a pair of ledger rows for each."""
    groups = db.execute(
        "SELECT space_id, round_id, week, reason = 'redeem', SUM(delta) FROM ledger WHERE user_id = ?"
        " GROUP BY space_id, round_id, week, reason = 'redeem' ORDER BY 1, 2, 3, 4",
        (second,),
    ).fetchall()
    for number, (space_id, round_id, week, spent, total) in enumerate(groups):
        if not total:
            continue
        reason = "redeem" if spent else "link_transfer"
        for user_id, delta, detail, side in ((second, -total, primary, "out"), (primary, total, second, "in")):
            _ledger(
                db, user_id, space_id, round_id, week, delta, reason, f"link:{detail}", f"{key}:{number}:{side}", now
            )


def _ledger(
    db: Connection,
    user_id: int,
    space_id: int | None,
    round_id: int | None,
    week: str,
    delta: int,
    reason: str,
    detail: str,
    source_key: str,
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (user_id, space_id, round_id, week, delta, reason, detail, source_key, to_text(now)),
    )
    add_points(db, user_id, space_id, round_id, week, delta, reason).lifetime()


def _take_back(db: Connection, holder: int, source_key: str, key: str, now: datetime) -> None:
    """A ledger row undoing what ``source_key`` paid, on ``holder`` (who holds those points now)."""
    for space_id, round_id, week, delta in db.execute(
        "SELECT space_id, round_id, week, delta FROM ledger WHERE source_key = ?", (source_key,)
    ).fetchall():
        if delta:
            _ledger(db, holder, space_id, round_id, week, -delta, "link_retire", source_key, f"{key}:{source_key}", now)


def _retire_duplicate_answers(db: Connection, primary: int, second: int, key: str, now: datetime) -> None:
    pairs = db.execute(
        "SELECT s.id, s.created_at, p.id, p.created_at, s.round_id, s.task_id FROM answers s JOIN answers p"
        " ON p.round_id = s.round_id AND p.task_id = s.task_id AND p.user_id = ? WHERE s.user_id = ?",
        (primary, second),
    ).fetchall()
    for second_id, second_at, primary_id, primary_at, round_id, task_id in pairs:
        retired = primary_id if (second_at, second_id) < (primary_at, primary_id) else second_id
        db.execute("DELETE FROM answers WHERE id = ?", (retired,))
        db.execute(
            "INSERT INTO task_counts (round_id, task_id, shard, answers) VALUES (?, ?, ?, -1)"
            " ON CONFLICT (round_id, task_id, shard) DO UPDATE SET answers = task_counts.answers - 1",
            (round_id, task_id, shard(db)),
        )
        _take_back(db, primary, f"answer:{retired}", key, now)


def _retire_duplicate_votes(db: Connection, primary: int, second: int, key: str, now: datetime) -> None:
    pairs = db.execute(
        "SELECT s.idea_id, s.created_at, p.created_at, i.author_id FROM votes s"
        " JOIN votes p ON p.idea_id = s.idea_id AND p.user_id = ? JOIN ideas i ON i.id = s.idea_id"
        " WHERE s.user_id = ?",
        (primary, second),
    ).fetchall()
    for idea_id, second_at, primary_at, author_id in pairs:
        retired = second if second_at >= primary_at else primary
        _retire_vote(db, idea_id, retired, primary if author_id == second else author_id, key, now)


def _retire_votes_on_own_ideas(db: Connection, primary: int, second: int, key: str, now: datetime) -> None:
    """One account upvoted the other's idea: once linked, the person would have voted for their own idea,
    which a vote never may (``OWN_IDEA``), so that vote is retired and its points (now the primary's) too."""
    crossed = db.execute(
        "SELECT v.idea_id, v.user_id FROM votes v JOIN ideas i ON i.id = v.idea_id"
        " WHERE (v.user_id = ? AND i.author_id = ?) OR (v.user_id = ? AND i.author_id = ?) ORDER BY v.idea_id",
        (primary, second, second, primary),
    ).fetchall()
    for idea_id, voter in crossed:
        _retire_vote(db, int(idea_id), int(voter), primary, key, now)


def _retire_vote(db: Connection, idea_id: int, voter: int, holder: int, key: str, now: datetime) -> None:
    """Delete a vote with its count, and take back from ``holder`` what its upvote last paid the author."""
    db.execute("DELETE FROM votes WHERE idea_id = ? AND user_id = ?", (idea_id, voter))
    db.execute("UPDATE ideas SET votes = votes - 1 WHERE id = ?", (idea_id,))
    paid = db.execute(
        "SELECT source_key, delta FROM ledger WHERE source_key LIKE ? ORDER BY id DESC LIMIT 1",
        (f"idea-upvote:{idea_id}:{voter}:%",),
    ).fetchone()
    if paid is not None and paid[1]:
        _take_back(db, holder, paid[0], key, now)
        db.execute("UPDATE ideas SET upvote_points = upvote_points - ? WHERE id = ?", (paid[1], idea_id))


def _unite(db: Connection, primary: int, second: int) -> None:
    """Badges, counters, the day's capped points and bans: the union; the streak: the longer one."""
    db.execute(
        "INSERT INTO user_badges (user_id, badge, earned_at) SELECT ?, badge, earned_at FROM user_badges"
        " WHERE user_id = ? ON CONFLICT DO NOTHING",
        (primary, second),
    )
    db.execute(
        "INSERT INTO user_counters (user_id, counter, value) SELECT ?, counter, value FROM user_counters"
        " WHERE user_id = ? ON CONFLICT (user_id, counter) DO UPDATE SET value = user_counters.value + excluded.value",
        (primary, second),
    )
    db.execute(
        "INSERT INTO daily_points (user_id, day, earned) SELECT ?, day, earned FROM daily_points WHERE user_id = ?"
        " ON CONFLICT (user_id, day) DO UPDATE SET earned = daily_points.earned + excluded.earned",
        (primary, second),
    )
    db.execute(
        "INSERT INTO bans (space_id, user_id, banned_by, reason, created_at)"
        " SELECT space_id, ?, banned_by, reason, created_at FROM bans WHERE user_id = ? ON CONFLICT DO NOTHING",
        (primary, second),
    )
    db.execute(
        "INSERT INTO streaks (user_id, last_day, length, best) SELECT ?, last_day, length, best FROM streaks"
        " WHERE user_id = ? ON CONFLICT (user_id) DO UPDATE SET"
        " last_day = CASE WHEN excluded.last_day > streaks.last_day THEN excluded.last_day ELSE streaks.last_day END,"
        " length = CASE WHEN excluded.length > streaks.length THEN excluded.length ELSE streaks.length END,"
        " best = CASE WHEN excluded.best > streaks.best THEN excluded.best ELSE streaks.best END",
        (primary, second),
    )
