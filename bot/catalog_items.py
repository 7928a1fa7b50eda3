"""The item files of labelling jobs: one CSV per job task, one row per photo or short text to label.

A labelling job is a catalog task with ``items = "file.csv"``. Its file has a header naming the columns
``id``, ``image`` (a path beside the file, or a URL) or ``text``, and optionally ``known_answer``: a row
with a known answer is hidden gold, served like any other. :func:`read_items` validates a file and
says what is wrong with each line, so ``crowdpulse catalog check`` and the start-up can refuse a bad
one; :class:`ItemFiles` serves the items while the bot runs and follows edits to the file.

This module sits below :mod:`bot.catalog` (which imports it to validate jobs), so it names the task it
reads for by the few attributes it needs (:class:`JobTask`) rather than importing the catalog's model.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MAX_ITEMS = 100_000  # a job's file is read whole on every change; beyond this, split the job
ITEM_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")  # exports name items by it; kept short and plain
COLUMNS = ("id", "image", "text", "known_answer")
IMAGE_KIND = "image_label"  # the one kind whose items are images; every other job kind shows texts
FREE_TEXT_KIND = "free_text"  # its gold is a transcription: any non-empty text
LOGGED_PROBLEMS = 10  # a warning names the first problems of a bad file, then how many more


class JobTask(Protocol):
    """What reading an item file needs of a task (:class:`bot.catalog.Task` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def items(self) -> str: ...

    def answer_keys(self) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Item:
    """One row of a job's item file: a photo or a short text, gold when its answer is known."""

    key: str  # the item's id column (unique in the file)
    image: str  # resolved local path or URL, "" when a text item
    text: str  # the text shown in the prompt, "" when an image item
    known_answer: str | None  # gold when set: an answer key of the task (any text for free_text)
    line: int  # the CSV line, for messages

    @property
    def gold(self) -> bool:
        return self.known_answer is not None


def read_items(path: Path, task: JobTask) -> tuple[tuple[Item, ...], list[str]]:
    """The valid items of ``path`` for ``task``, and one ``"path:line: message"`` per problem.

    A bad row is left out and reported; a bad header or an unreadable file gives no items at all.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        return (), [f"{path}:1: cannot read: {error.strerror or error}"]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return (), [f"{path}:{line}: not UTF-8 text (save the file as UTF-8 CSV)"]
    return _Reader(path, task).read(text)


class _Reader:
    """One pass over one file's text: the header, then every row against it."""

    def __init__(self, path: Path, task: JobTask) -> None:
        self.path = path
        self.task = task
        self.images = task.kind == IMAGE_KIND
        self.answers = task.answer_keys()
        self.problems: list[str] = []
        self.items: list[Item] = []
        self.first_line: dict[str, int] = {}

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {message}")

    def read(self, text: str) -> tuple[tuple[Item, ...], list[str]]:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            columns = self.columns(header)
            if columns is None:
                return (), self.problems
            line = reader.line_num + 1  # where the next record starts (a quoted field may span lines)
            rows = 0
            for row in reader:
                if any(value.strip() for value in row):  # blank lines are layout, not items
                    rows += 1
                    if rows > MAX_ITEMS:
                        self.problem(line, f"more than {MAX_ITEMS} items: split the job into several tasks")
                        break
                    self.row(line, columns, row)
                line = reader.line_num + 1
        except csv.Error as error:
            self.problem(reader.line_num, f"not a valid CSV file: {error}")
        if not self.items and not self.problems:
            self.problem(1, "no items below the header")
        return tuple(self.items), self.problems

    def columns(self, header: list[str] | None) -> list[str] | None:
        """The header's column names, or ``None`` (with the problems said) when no row can be read."""
        if not header:
            self.problem(1, f"no header row: the first line names the columns ({', '.join(COLUMNS)})")
            return None
        columns = [name.strip() for name in header]
        unknown = [name for name in columns if name not in COLUMNS]
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        wanted = "image" if self.images else "text"
        refused = "text" if self.images else "image"
        missing = [name for name in ("id", wanted) if name not in columns]
        for name in unknown:
            self.problem(1, f"unknown column {name!r} (the columns are {', '.join(COLUMNS)})")
        for name in repeated:
            self.problem(1, f"column {name!r} appears twice")
        for name in missing:
            self.problem(1, f"no {name!r} column: a {self.task.kind} job's items need one")
        if refused in columns:
            shown = "images" if self.images else "texts"
            self.problem(1, f"column {refused!r}: a {self.task.kind} job's items are {shown}")
        return None if self.problems else columns

    def row(self, line: int, columns: list[str], row: list[str]) -> None:
        if len(row) != len(columns):
            self.problem(line, f"{len(row)} fields where the header has {len(columns)}")
            return
        values = dict(zip(columns, (value.strip() for value in row), strict=True))
        key = values["id"]
        if not key:
            self.problem(line, "empty id")
            return
        if not ITEM_ID.match(key):
            self.problem(line, f"id {key!r}: 1 to 40 letters, digits, '_', '.' or '-'")
            return
        if key in self.first_line:
            self.problem(line, f"id {key!r} is already used on line {self.first_line[key]}")
            return
        self.first_line[key] = line
        image = self.image(line, values.get("image", ""))
        text = values.get("text", "")
        if not (image if self.images else text):
            if image is not None:  # a missing image file is said already
                self.problem(line, f"item {key!r} has no {'image' if self.images else 'text'}")
            return
        known = values.get("known_answer") or None
        if known is not None and self.task.kind != FREE_TEXT_KIND and known not in self.answers:
            self.problem(line, f"known_answer {known!r} is not one of {sorted(self.answers)}")
            return
        self.items.append(Item(key=key, image=image or "", text=text, known_answer=known, line=line))

    def image(self, line: int, value: str) -> str | None:
        """A URL as it is, a local path resolved beside the file; ``None`` (said) when no file is there."""
        if not value or value.startswith(("http://", "https://")):
            return value
        resolved = self.path.parent / value
        if not resolved.is_file():
            self.problem(line, f"no image file at {resolved}")
            return None
        return str(resolved)


# What a read depends on: the file, the kind and the answer keys (a reloaded catalog's equal job shares it)
_Key = tuple[str, str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read of a file gave, and the file's signature then (``None``: it could not be seen)."""

    signature: tuple[int, int] | None
    items: tuple[Item, ...]
    problems: list[str]
    good: bool  # read without a problem: what a later bad read falls back to


class ItemFiles:
    """Items per job task, re-read when the file changes (mtime_ns and size) so an operator can add or
    remove items while a job runs; a file that turns bad keeps serving its last good items and logs the
    problems once (logging.warning), never crashes.

    ``items()`` is on serving paths, so whether a file changed is one ``os.stat`` at most once per
    ``recheck_seconds`` per task. Reads are remembered by what they depend on (the path, the kind and
    the answer keys), so a reloaded catalog with the same job reuses them. A file bad from its first
    read (``load_catalog`` refuses those, so only when it turns bad before the first serve) serves its
    valid rows: there is no earlier good read to fall back to.
    """

    def __init__(self, recheck_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._reads: dict[_Key, _Read] = {}
        self._good: dict[_Key, tuple[Item, ...]] = {}
        self._checked_at: dict[_Key, float] = {}

    def items(self, task: JobTask) -> tuple[Item, ...]:
        """The task's items as its file holds them now, or as it last held them without a problem."""
        key = self._key(task)
        read = self._current(task, key)
        return read.items if read.good else self._good.get(key, read.items)

    def problems(self, task: JobTask) -> list[str]:
        """The last read's problems (none when the file is good)."""
        return list(self._current(task, self._key(task)).problems)

    def refresh(self, task: JobTask) -> list[str]:
        """Read the task's file now, whatever the throttle, and return its problems without logging them:
        for ``load_catalog``, which reports them itself (and so primes what serving reads first)."""
        key = self._key(task)
        read = self._read(task, key, _signature(Path(task.items)))
        self._checked_at[key] = self.clock()
        return list(read.problems)

    @staticmethod
    def _key(task: JobTask) -> _Key:
        return task.items, str(task.kind), frozenset(task.answer_keys())

    def _current(self, task: JobTask, key: _Key) -> _Read:
        last = self._reads.get(key)
        now = self.clock()
        if last is not None and now - self._checked_at.get(key, now) < self.recheck_seconds:
            return last
        self._checked_at[key] = now
        signature = _signature(Path(task.items))
        if last is not None and signature == last.signature:
            return last
        read = self._read(task, key, signature)
        if read.problems:
            shown = read.problems[:LOGGED_PROBLEMS]
            more = len(read.problems) - len(shown)
            log.warning(
                "labelling job %r: its item file has problems; %s\n%s%s",
                task.id,
                "serving its last good items" if key in self._good else "serving its valid rows",
                "\n".join(shown),
                f"\n… and {more} more" if more else "",
            )
        return read

    def _read(self, task: JobTask, key: _Key, signature: tuple[int, int] | None) -> _Read:
        items, problems = read_items(Path(task.items), task)
        read = _Read(signature, items, problems, good=not problems)
        self._reads[key] = read
        if read.good:
            self._good[key] = items
        return read


def _signature(path: Path) -> tuple[int, int] | None:
    """What tells a changed file cheaply: its modification time and size (``None``: it is gone)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size
