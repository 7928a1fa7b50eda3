"""Progress of long operator work (``copy-store``, ``rewards import``, ``export``, the benchmark).

On a terminal: a rich progress bar. Anywhere else (a log file, CI, a pipe): plain lines, one at each
tenth of the way and one at the end, so a log shows the work moving without a line per row. Either
goes to stderr, leaving stdout to the command's report. The unit is a counted phrase of the operator
catalog (``operator.progress_rows``…), so "1 row" and "2 rows" follow the plural rules.

The engine never prints: ``bot/`` functions take an ``on_progress(done, total)`` callback and
:meth:`Progress.update` is one. It may be called from any thread (the store's writer reports from its
own).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from bot.texts import operator_text

PLAIN_STEPS = 10  # plain lines per piece of work: one at each tenth


class Progress:
    """One piece of work advancing to a total; shown as a bar (terminal) or in plain lines."""

    def __init__(self, what: str, total: int | None, unit: str, stream: TextIO, bar: RichProgress | None) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.done = 0
        self._stream = stream
        self._bar = bar
        self._task: TaskID | None = bar.add_task(what, total=total) if bar is not None else None
        self._lock = threading.Lock()
        self._shown_step = -1

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units so far (of ``total``, when it is only known now)."""
        with self._lock:
            self.done = done
            self.total = total if total is not None else self.total
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=done, total=self.total)
                return
            if self.total:
                step = min(PLAIN_STEPS, done * PLAIN_STEPS // self.total)
                if step > self._shown_step:
                    self._shown_step = step
                    self._line()

    def advance(self, units: int = 1) -> None:
        self.update(self.done + units)

    def note(self, message: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self._stream, flush=True)

    def finish(self) -> None:
        """The last plain line, unless the last tenth already said it all."""
        with self._lock:
            if self._bar is None and self._shown_step < PLAIN_STEPS:
                self._shown_step = PLAIN_STEPS
                self._line()

    def _line(self) -> None:
        if self.total:
            counted = f"{self.done} of {operator_text(self.unit, count=self.total)} ({100 * self.done // self.total}%)"
        else:
            counted = operator_text(self.unit, count=self.done)
        print(f"{self.what}: {counted}", file=self._stream, flush=True)


@contextmanager
def progress(what: str, unit: str, total: int | None = None, *, stream: TextIO | None = None) -> Iterator[Progress]:
    """Show ``what`` advancing in ``unit`` (an ``operator.progress_*`` key: ``progress_rows``) while the
    block runs; a bar when ``stream`` (stderr by default) is a terminal, plain lines otherwise."""
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        shown = Progress(what, total, unit, stream, None)
        yield shown
        shown.finish()
        return
    console = Console(file=stream, force_terminal=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=False) as bar:
        yield Progress(what, total, unit, stream, bar)
