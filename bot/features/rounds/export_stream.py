"""A round's export written as it is read: pages of rows from the store, each turned into CSV lines or
JSON items and handed on, so an export of a million answers holds one page at a time, not the file.

:class:`ExportPlan` is what an export reads once before its rows (the round, who is left out, careless
answering, themes); :func:`csv_chunks` and :func:`json_chunks` then stream the rows the plan selects,
answers first (labels of labelling jobs after them), then the skips.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.features.rounds.attention import REASON
from bot.features.rounds.export_quality import RoundQuality
from bot.store.records import AnswerFilter, AttentionChecks
from bot.store.rounds_sql import RoundQueries

EXPORT_PAGE = 5000  # answers (or skips) read per query: what a streamed export holds at once
Progress = Callable[[int, int], None]


@dataclass
class ExportPlan:
    """What an export of one round reads once, and the members its rows named (for the JSON's ``members``)."""

    round_id: int
    checks: AttentionChecks
    quality: RoundQuality
    theme_of: Callable[[int], str | None]  # an answer's theme name, by answer id
    include_names: bool
    where: AnswerFilter
    pseudonym: Callable[[int], str]
    label_rows: list[Any]
    seen: set[int] = field(default_factory=set)

    def whose(self, row: Any) -> dict[str, Any]:
        """The fields an answer and a skip share: the round, the member (a pseudonym unless names are
        included) and the task."""
        return {
            "round_id": self.round_id,
            "user": self.pseudonym(row["user_id"]),
            **({"name": row["display_name"], "platform": row["platform"]} if self.include_names else {}),
            "task_id": row["task_id"],
        }


def columns(include_names: bool) -> list[str]:
    return [
        "answer_id",
        "round_id",
        "user",
        *(["name", "platform"] if include_names else []),
        "task_id",
        "value",
        "answered_at",
        "skipped",
        "excluded",
        "excluded_reason",
        "item",
        "flags",
        "theme",
    ]


async def answer_pages(
    plan: ExportPlan, queries: RoundQueries, total: int, on_progress: Progress | None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The answers, a page at a time, oldest first, then the labels of the round's labelling jobs."""
    after, done = 0, 0
    while rows := await queries.export_rows(plan.round_id, plan.checks, plan.where, after=after, limit=EXPORT_PAGE):
        page = [_answer(plan, row) for row in rows]
        plan.seen.update(row["user_id"] for row in rows)
        after, done = int(rows[-1]["id"]), done + len(rows)
        _progress(on_progress, done, total)
        yield page
    if plan.label_rows:
        plan.seen.update(row["user_id"] for row in plan.label_rows)
        yield [{**plan.quality.label_answer(row, plan.whose), "theme": None} for row in plan.label_rows]
        _progress(on_progress, total, total)


async def skip_pages(plan: ExportPlan, queries: RoundQueries) -> AsyncIterator[list[dict[str, Any]]]:
    """The skips that stand, a page at a time, oldest first."""
    after = 0
    while rows := await queries.skip_rows(plan.round_id, plan.checks, plan.where, after=after, limit=EXPORT_PAGE):
        after = int(rows[-1]["id"])
        yield [{**plan.whose(row), "skipped_at": row["created_at"], **_exclusion(row)} for row in rows]


async def csv_chunks(
    plan: ExportPlan, queries: RoundQueries, total: int, on_progress: Progress | None
) -> AsyncIterator[bytes]:
    """The CSV file: a header, a line per answer, then a line per skip (``skipped`` true)."""
    names = columns(plan.include_names)
    yield _csv_lines(names, [dict(zip(names, names, strict=True))])
    async for page in answer_pages(plan, queries, total, on_progress):
        yield _csv_lines(names, (_csv_answer(answer) for answer in page))
    async for page in skip_pages(plan, queries):
        rows = (
            {**{k: v for k, v in skip.items() if k != "skipped_at"}, "skipped": "true", **_csv_exclusion(skip)}
            for skip in page
        )
        yield _csv_lines(names, rows)


async def json_chunks(
    plan: ExportPlan,
    queries: RoundQueries,
    total: int,
    on_progress: Progress | None,
    head: dict[str, Any],
    tail: Callable[[], Awaitable[dict[str, Any]]],
) -> AsyncIterator[bytes]:
    """The JSON document: ``head``'s fields, ``answers`` and ``skips`` streamed, then ``tail()``'s fields
    (read after the rows, so the JSON's ``members`` can name everyone the rows named)."""
    yield _dumps(head)[:-1].encode() + b', "answers": ['
    async for chunk in _items(answer_pages(plan, queries, total, on_progress)):
        yield chunk
    yield b'], "skips": ['
    async for chunk in _items(skip_pages(plan, queries)):
        yield chunk
    rest = _dumps(await tail())
    yield b"], " + rest[1:].encode() if rest != "{}" else b"]}"


async def _items(pages: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    first = True
    async for page in pages:
        if page:
            yield (b"" if first else b",\n") + ",\n".join(_dumps(item) for item in page).encode()
            first = False


def _answer(plan: ExportPlan, row: Any) -> dict[str, Any]:
    return {
        "answer_id": row["id"],
        **plan.whose(row),
        "value": json.loads(row["value"]),
        "answered_at": row["created_at"],
        **_exclusion(row),
        "item": None,
        "flags": plan.quality.poll_flags(row["user_id"], row["task_id"], bool(row["excluded"])),
        "theme": plan.theme_of(row["id"]),
    }


def _csv_answer(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        **answer,
        "value": json.dumps(answer["value"], ensure_ascii=False),
        "skipped": "false",
        **_csv_exclusion(answer),
        "item": answer["item"] or "",
        "flags": ";".join(answer["flags"]),
        "theme": answer["theme"] or "",
    }


def _csv_lines(names: list[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=names).writerows(rows)
    return buffer.getvalue().encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _progress(on_progress: Progress | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


def _exclusion(row: Any) -> dict[str, Any]:
    """Whether a stored row's member is left out of the tallies, and why (``None`` when counted)."""
    excluded = bool(row["excluded"])
    return {"excluded": excluded, "excluded_reason": REASON if excluded else None}


def _csv_exclusion(item: dict[str, Any]) -> dict[str, str]:
    """The exclusion as CSV text, spelled like ``skipped``: ``true``/``false`` and an empty reason."""
    return {"excluded": "true" if item["excluded"] else "false", "excluded_reason": item["excluded_reason"] or ""}
