"""Fold repeated warnings: the first of a kind in a window is logged, the rest are only counted.

Why: under load the same warning fires hundreds of times a second (a 429 per flooded chat, a timeout per
send while the platform is slow). One line says what happens; a thousand identical lines bury the one
line that says something else, and fill the disk. A *kind* is a logger, a level and a message template
(plus the exception's type, if any): "rate-limited in chat 1" and "rate-limited in chat 2" are one
kind, so the first line of a window names an example and the next line of that kind, once the window is
over, tells how many were folded ("… (37 more like this in the last 60 s)").

Installed per running adapter with :func:`folding_repeats`, on the loggers that can repeat: a filter on a
logger sees only that logger's own records, and removing it on exit keeps one run (or one test) from
silencing the next. Records below WARNING pass untouched; tracebacks are never folded into a count of a
different exception type.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

WINDOW_SECONDS = 60.0
MAX_KINDS = 1000  # kinds remembered at once; the least recently seen is forgotten first


class RepeatFilter(logging.Filter):
    """Lets the first record of each kind through per ``window`` seconds and counts the others."""

    def __init__(
        self,
        window: float = WINDOW_SECONDS,
        *,
        level: int = logging.WARNING,
        max_kinds: int = MAX_KINDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window = window
        self.level = level
        self.max_kinds = max_kinds
        self.clock = clock
        self._kinds: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()  # kind -> (shown at, folded)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        error_type = record.exc_info[0] if record.exc_info else None
        kind = (record.name, record.levelno, str(record.msg), error_type)
        now = self.clock()
        shown, folded = self._kinds.pop(kind, (None, 0))
        if shown is not None and now - shown < self.window:
            self._kinds[kind] = (shown, folded + 1)
            return False
        self._kinds[kind] = (now, 0)
        if len(self._kinds) > self.max_kinds:
            self._kinds.popitem(last=False)
        if folded:
            record.msg = f"{record.getMessage()} ({folded} more like this in the last {self.window:g} s)"
            record.args = None
        return True


@contextmanager
def folding_repeats(*logger_names: str, window: float = WINDOW_SECONDS) -> Iterator[RepeatFilter]:
    """One :class:`RepeatFilter` on each named logger while the block runs."""
    folding = RepeatFilter(window)
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(folding)
    try:
        yield folding
    finally:
        for logger in loggers:
            logger.removeFilter(folding)
