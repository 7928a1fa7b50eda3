"""A round's answers as a file for the business: CSV of the answers, or JSON with the round and audit log.

Members are stable pseudonyms unless ``export.include_names`` is set, so the same member is the same
row owner in every file without the file naming anyone. The file is written as its rows are read
(:meth:`RoundExports.stream`, :mod:`bot.features.rounds.export_stream`); a chat attachment joins the pieces.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from typing import Any

from bot.context import Context, Services
from bot.features.labelling.analysis import round_labels
from bot.features.moderation import Moderation
from bot.features.rounds.attention import FAILURES, REASON, round_checks
from bot.features.rounds.export_quality import RoundQuality
from bot.features.rounds.export_stream import ExportPlan, csv_chunks, json_chunks
from bot.features.rounds.lookup import pick_round
from bot.features.rounds.results import round_tallies
from bot.features.rounds.screening import Screening, screen_round
from bot.features.rounds.tally import TaskTally
from bot.features.rounds.themes import THEMED_INLINE, RoundThemes, TaskThemes, themed
from bot.replies import Attachment, Outcome, Reply
from bot.store.records import EVERY_ANSWER, AnswerFilter, AttentionChecks, RoundRecord
from bot.texts import t

FORMATS = ("csv", "json")
PSEUDONYMS_CACHED = 65_536  # a member's rows come together: one HMAC per member, not per row


def pseudonym(key: bytes, user_id: int) -> str:
    """A stable, non-reversible id for exports: the same member is the same row owner in every file."""
    return "u-" + hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:12]


def filename(round_id: int, fmt: str) -> str:
    """The export's file name: ``round-12.csv``."""
    return f"round-{round_id}.{fmt}"


class RoundExports:
    """Exports of rounds, for moderators in chat and operators on the command line."""

    def __init__(self, services: Services, moderation: Moderation, themes: RoundThemes) -> None:
        self.services = services
        self.moderation = moderation
        self.themes = themes
        self.queries = services.store.rounds

    async def export(
        self,
        round_id: int,
        fmt: str,
        on_progress: Callable[[int, int], None] | None = None,
        where: AnswerFilter = EVERY_ANSWER,
    ) -> tuple[str, bytes]:
        """The round's answers, one row each: answer id, member, task, value, time; and its skips.

        CSV holds the answers, then a row per skip (``skipped`` true, no answer id, value or time);
        JSON holds the answers, the skips (``skips``), the round and the space's audit log (moderator
        actions and redemptions), so what the moderators did travels with what the members said, and
        a ``summary`` per task: n, skips, shares, mean or NPS, each with its 95 % interval. A
        skip the member made up for with an answer is not listed: the answer is.
        ``on_progress(rows done, rows in all)`` follows a large export (the command line's progress bar).
        The whole file in memory: a chat attachment. :meth:`stream` writes the same bytes a page at a time.
        ``where`` (the dashboard's filter) keeps the answers and skips it selects, in SQL, and the JSON's
        summary counts only those; labels of labelling jobs are then left out (they have no space).
        Every answer and skip says whether it is left out of the tallies (``excluded``) and why
        (``excluded_reason``); the JSON's ``excluded`` says how many members were left out.
        Labels of labelling jobs are answers too (``answer_id`` none, ``item`` the item's key); every
        answer has ``item`` and ``flags``, and the JSON has ``items`` and ``members``
        (:mod:`bot.features.rounds.export_quality`). Every answer has ``theme``: the name of the theme
        ``/results`` lists its typed words under (free text, "Other"), from the same cached clustering
        (:mod:`bot.features.rounds.themes`); ``None`` for other answers, labels and left-out members.
        An ideas round's JSON lists its ideas (``ideas``) with each one's theme, as its ``/results`` do.
        """
        chunks = [chunk async for chunk in self.stream(round_id, fmt, where, on_progress)]
        return filename(round_id, fmt), b"".join(chunks)

    async def stream(
        self,
        round_id: int,
        fmt: str,
        where: AnswerFilter = EVERY_ANSWER,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> AsyncIterator[bytes]:
        """The file of :meth:`export` in pieces, read from the store a page of rows at a time
        (:mod:`bot.features.rounds.export_stream`): the dashboard's download and the command line's file,
        in bounded memory whatever the round's size."""
        record = await self.queries.round(round_id)
        checks = round_checks(self.services.catalog, record)
        key = self.services.codec_key
        plan = ExportPlan(
            round_id,
            checks,
            await self._quality(record),
            await self._themes(record, checks),
            self.services.settings.export.include_names,
            where,
            lru_cache(maxsize=PSEUDONYMS_CACHED)(lambda user_id: pseudonym(key, user_id)),
            await self.services.store.labelling.export_rows(round_id) if where.selects_all else [],
        )
        total = (await self.queries.answer_total(round_id) if where.selects_all else 0) + len(plan.label_rows)
        if fmt != "json":
            async for chunk in csv_chunks(plan, self.queries, total, on_progress):
                yield chunk
            return
        head = {"round": await self._round_summary(round_id)}

        async def tail() -> dict[str, Any]:
            return {
                "audit": await self._audit_export(round_id, plan.include_names),
                "ideas": await self._idea_themes(record),
                "summary": await self._task_summaries(round_id, where),
                "excluded": {
                    "members": await self.queries.left_out(round_id, checks),
                    "reason": REASON,
                    "failures": FAILURES,
                },
                "items": plan.quality.items(),
                "members": plan.quality.members(plan.seen, plan.pseudonym),
            }

        async for chunk in json_chunks(plan, self.queries, total, on_progress, head, tail):
            yield chunk

    async def _quality(self, record: RoundRecord | None) -> RoundQuality:
        """The round's labels and careless answering, read once for the whole export."""
        campaign = self.services.catalog.campaign(record.subject) if record and record.kind != "ideas" else None
        if record is None or campaign is None:
            return RoundQuality(None, None, Screening())
        return RoundQuality(
            campaign,
            await round_labels(self.services, record.id, campaign),
            await screen_round(self.services, record.id, campaign),
        )

    async def _themes(self, record: RoundRecord | None, checks: AttentionChecks) -> Callable[[int], str | None]:
        """Each themed answer's theme name, by answer id, for every typed question of the round: clustered
        now for a question of up to :data:`THEMED_INLINE` answers (as ``/results`` does), else the page's
        background clustering (:meth:`RoundThemes.settled`), read where it is kept rather than copied."""
        campaign = self.services.catalog.campaign(record.subject) if record and record.kind != "ideas" else None
        if record is None or campaign is None:
            return _no_theme
        closed = record.status != "open"
        found: list[TaskThemes] = []
        for task in filter(themed, campaign.tasks):
            if await self.services.store.dashboard_views.answers_to(record.id, task.id) <= THEMED_INLINE:
                found.append(await self.themes.of_task(record.id, task, closed, checks))
            else:
                found.append(await self.themes.settled(record.id, task, closed, checks))

        def theme_of(answer_id: int) -> str | None:
            return next((name for tasks in found if (name := tasks.name_of(answer_id)) is not None), None)

        return theme_of

    async def _idea_themes(self, record: RoundRecord | None) -> list[dict[str, Any]]:
        """An ideas round's listed ideas with the theme ``/results`` lists each under (none for a tasks round)."""
        if record is None or record.kind != "ideas":
            return []
        found = await self.themes.of_ideas(record.id, record.status != "open")
        ideas = await self.services.store.themes.idea_texts(record.id)
        return [{"idea_id": idea_id, "text": text, "theme": found.by_answer.get(idea_id)} for idea_id, text in ideas]

    async def _round_summary(self, round_id: int) -> dict[str, Any]:
        record = await self.services.store.rounds.round(round_id)
        if record is None:
            return {"id": round_id}
        return {
            "id": record.id,
            "kind": record.kind,
            "subject": record.subject,
            "status": record.status,
            "opened_at": record.opened_at.isoformat(),
            "closed_at": record.closed_at.isoformat() if record.closed_at else None,
        }

    async def _task_summaries(self, round_id: int, where: AnswerFilter) -> list[dict[str, Any]]:
        """Per task what ``/results`` shows, as numbers: the same tallies, so the two never disagree."""
        record = await self.services.store.rounds.round(round_id)
        campaign = self.services.catalog.campaign(record.subject) if record and record.kind != "ideas" else None
        if campaign is None:
            return []
        language = self.services.settings.default_language
        return [_summary(tally) for tally in await round_tallies(self.services, round_id, campaign, language, where)]

    async def _audit_export(self, round_id: int, include_names: bool) -> list[dict[str, Any]]:
        key = self.services.codec_key
        return [
            {
                "at": row["created_at"],
                "by": "deadline"
                if row["moderator_id"] is None
                else row["display_name"]
                if include_names
                else pseudonym(key, row["moderator_id"]),
                "action": row["action"],
                "target": row["target"],
                "detail": row["detail"],
            }
            for row in await self.queries.audit_of_round_space(round_id)
        ]

    async def export_reply(self, ctx: Context, round_id: int | None = None, fmt: str = "csv") -> Reply:
        """The file, privately, to a moderator: ``round_id`` or the latest round here; audited."""
        record = await self._permitted(ctx, round_id, fmt, EVERY_ANSWER)
        if isinstance(record, Reply):
            return record
        name, data = await self.export(record.id, fmt)
        return Reply(
            t("export.ready", ctx.language, id=record.id, filename=name),
            Outcome.DONE,
            private=True,
            attachment=Attachment(name, data),
        )

    async def download(self, ctx: Context, round_id: int, fmt: str, where: AnswerFilter = EVERY_ANSWER) -> Reply:
        """The dashboard's **Export CSV** / **Export JSON**: the checks and audit row of :meth:`export_reply`
        (the audit naming the filter ``where``), the file then streamed by the caller (:meth:`stream`)."""
        record = await self._permitted(ctx, round_id, fmt, where)
        if isinstance(record, Reply):
            return record
        return Reply(
            t("export.ready", ctx.language, id=record.id, filename=filename(record.id, fmt)), Outcome.DONE, private=True
        )

    async def _permitted(
        self, ctx: Context, round_id: int | None, fmt: str, where: AnswerFilter
    ) -> RoundRecord | Reply:
        """The round a moderator may export here (else the refusal), the export written to the audit log."""
        record = await pick_round(self.services, self.moderation, ctx, "export", round_id, only_open=False)
        if isinstance(record, Reply):
            return record
        detail = f"{fmt} {where.described}".strip()
        await self.queries.audit(ctx.space_id, ctx.user_id, "export", str(record.id), self.services.clock(), detail)
        return record


def _summary(tally: TaskTally) -> dict[str, Any]:
    """One task's numbers with their 95 % intervals (shares 0–1, the mean on its scale, NPS in points)."""
    summary: dict[str, Any] = {"task": tally.task.id, "n": tally.answers, "skips": tally.skips}
    if tally.intervals:
        tie = tally.tie
        summary["options"] = [
            {
                "label": label,
                "count": count,
                "share": count / tally.answers if tally.answers else 0.0,
                "low": share.low,
                "high": share.high,
            }
            for label, count, share in zip(tally.labels, tally.counts, tally.intervals, strict=True)
        ]
        summary["tie"] = [tally.labels[tie[0]], tally.labels[tie[1]]] if tie else None
        summary["margin"] = tally.margin / 100
    if tally.mean is not None and tally.mean_interval is not None:
        summary["mean"] = {"value": tally.mean, "low": tally.mean_interval.low, "high": tally.mean_interval.high}
    if tally.nps is not None and tally.nps_interval is not None:
        summary["nps"] = {"value": tally.nps, "low": tally.nps_interval.low, "high": tally.nps_interval.high}
    summary["too_few"] = tally.too_few
    return summary


def _no_theme(_: int) -> str | None:
    """The theme of every answer of a round without typed questions: none."""
    return None
