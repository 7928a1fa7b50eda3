"""Timestamps are stored as fixed-width ISO 8601 text in UTC, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def to_text(moment: datetime) -> str:
    global _last
    last = _last
    if moment == last[0]:  # the same instant, whatever its zone: the same text
        return last[1]
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    _last = (moment, text)
    return text


# An answer's unit writes its moment three times (the answer, its ledger row, a badge), in UTC and in
# the settings' zone: the last conversion is kept (one tuple, replaced whole, so threads may share it).
_last: tuple[datetime | None, str] = (None, "")


def from_text(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
