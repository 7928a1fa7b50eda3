"""Timestamps are stored as fixed-width ISO 8601 text in UTC, so text order is time order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache


def to_text(moment: datetime) -> str:
    global _last
    last, last_text = _last
    # The same instant, whatever its zone: the same text. In one zone ``==`` compares wall times and ignores
    # ``fold``, so the hour repeated when summer time ends would pass for the hour before: fold tells them apart.
    if last is not None and moment == last and moment.fold == last.fold:
        return last_text
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    _last = (moment, text)
    return text


# An answer's unit writes its moment three times (the answer, its ledger row, a badge): the last conversion
# is kept (one tuple, replaced whole, so threads may share it). Asked again in the same zone it is found at
# once; the same instant in another zone is found too, but comparing across zones costs ten times more.
_last: tuple[datetime | None, str] = (None, "")


@lru_cache(maxsize=16)
def day_text(day: date) -> str:
    """``day`` as ISO text (``2026-12-07``), as daily points and streaks store it. Kept for the few days in
    use: an answer's unit writes its day three times, and each ``isoformat`` formats it anew."""
    return day.isoformat()


def from_text(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
