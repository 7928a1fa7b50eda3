"""Whose read a one-statement query is: a member's, or a report's.

A member's read is short and lies on the path of a tap; a report's (the dashboard's pages) may aggregate
a million answers. The SQLite store gives each kind readers of its own (:mod:`bot.store.sqlite`): members
keep one connection, which answers in the order it is asked, as it always did (two taps of one member in
flight are handled in the order they came), and a report's reads go to the least busy of the others, so
a page's independent aggregates run side by side on the machine's cores and no member's read waits
behind them. PostgreSQL's readers are a pool already; there the kind changes nothing.

The kind travels with the asyncio context: reads made inside :func:`for_reports`, and in the tasks started
there, are a report's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_REPORT: ContextVar[bool] = ContextVar("crowdpulse_report_reads", default=False)


@contextmanager
def for_reports() -> Iterator[None]:
    """Make the reads of this context (and of the tasks it starts) a report's."""
    token = _REPORT.set(True)
    try:
        yield
    finally:
        _REPORT.reset(token)


def reporting() -> bool:
    """Whether the current context reads for a report."""
    return _REPORT.get()
