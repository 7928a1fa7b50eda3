"""Reading a page's query string: a malformed value is ignored (the page shows everything) rather than
refused, so a hand-edited URL still shows the page."""

from __future__ import annotations

from datetime import date


def day(text: str) -> date | None:
    """``2026-12-07`` as a date; anything else ``None``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
