"""Several units of work in one transaction, as both stores batch them (SQLite's group commit, the
READ COMMITTED units PostgreSQL runs together): first together, then, if one raises, each apart.

Together, the units run one after the other with nothing between them: the usual case, and the cheapest.
Should one raise, the caller rolls the transaction back and runs the batch again :func:`apart`, each unit
in a SAVEPOINT of its own, so the one that failed is rolled back alone (with its leaderboard moves) and
its exception handed to its caller. Units are re-runnable (PostgreSQL's retries already need that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.store.database import Connection, Unit
from bot.store.scores import ScoreBook

Outcome = tuple[bool, Any]  # (True, the unit's result) or (False, the exception its caller gets)


class UnitRaised(Exception):
    """A unit of a batch run :func:`together` raised: the batch is to run again, :func:`apart`."""


def together(
    db: Connection,
    units: Sequence[Unit[Any]],
    before: Callable[[Connection, Unit[Any]], None],
) -> list[Outcome]:
    """Every unit, one after the other, ``before`` ahead of each (SQLite writes the answers' waiting member
    rows there for any other unit: :mod:`bot.store.member_rows`); :class:`UnitRaised` as soon as one raises."""
    outcomes: list[Outcome] = []
    try:
        for unit in units:
            before(db, unit)
            outcomes.append((True, unit(db)))
        return outcomes
    except Exception as error:
        raise UnitRaised from error


def apart(
    db: Connection, units: Sequence[Unit[Any]], book: ScoreBook, failure: Callable[[Exception], Exception]
) -> list[Outcome]:
    """Every unit in its own SAVEPOINT. ``failure`` says what a unit's exception becomes for its caller,
    or raises to give up the whole transaction (a server error that aborted it)."""
    outcomes: list[Outcome] = []
    for unit in units:
        db.execute("SAVEPOINT unit")
        mark = book.mark()
        try:
            outcomes.append((True, unit(db)))
        except Exception as error:
            kept = failure(error)
            db.execute("ROLLBACK TO SAVEPOINT unit")
            book.undo(mark)
            outcomes.append((False, kept))
        db.execute("RELEASE SAVEPOINT unit")
    return outcomes
