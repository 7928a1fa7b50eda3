"""Rounds: moderators open and close them; closing tallies, awards and announces, exactly once.

A *tasks* round serves a campaign's tasks in a space; an *ideas* round collects ideas on a topic.
Several may be open at once. A round may carry a deadline: the scheduler (:meth:`Rounds.close_due`)
closes it, also after downtime, since it closes every round whose deadline is in the past. Closing is
one conditional UPDATE: whoever flips the status does the rest in the same transaction, so two
moderators, a deadline and several processes can race and the results are announced once.

Announcements and results go through the outbox as small markers (``{"render": "round_results"}``)
rendered when sent, so the writer never waits for a chart to be drawn.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.catalog import Task, TaskKind, text_in
from bot.charts import chart_series, render_png_async
from bot.replies import Attachment, Button, Image, Outcome, Reply
from bot.store.rounds_sql import Closing, RoundQueries
from bot.tally import TEXT_SAMPLES, TaskTally, tally_task
from bot.texts import Markup, t

if TYPE_CHECKING:
    from bot.engine import Context, Engine

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_IDEAS_IN_RESULTS = 10
_BAR_WIDTH = 10
_MAX_ID_DIGITS = 18  # a longer number is no round's id (and does not fit SQLite's 64-bit integers)


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``2h``, ``3d``, ``1w`` → a timedelta; anything else → ``None``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def pseudonym(key: bytes, user_id: int) -> str:
    """A stable, non-reversible id for exports: the same member is the same row owner in every file."""
    return "u-" + hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:12]


class Rounds:
    """Round use cases for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries = RoundQueries(engine.store)

    # opening and closing ------------------------------------------------------------------------

    async def open(self, ctx: Context, argument: str, update_key: str | None = None) -> Reply:
        """``/round open <campaign-or-topic> [duration]``.

        ``update_key`` names the platform message: redelivered after the round was closed, it opens
        nothing new (the round it opened is recorded with it).
        """
        refusal = await self.engine.refuse_unless_moderator(ctx, "round open")
        if refusal is not None:
            return refusal
        subject, _, rest = argument.strip().partition(" ")
        catalog = self.engine.catalog
        kind = "tasks" if catalog.campaign(subject) else "ideas" if catalog.topic(subject) else None
        if kind is None:
            choices = ", ".join(sorted([*catalog.campaigns, *catalog.topics]))
            return Reply(
                t("round.unknown_subject", ctx.language, subject=subject or "?", choices=choices),
                Outcome.REFUSED,
            )
        duration = parse_duration(rest) if rest.strip() else None
        if rest.strip() and duration is None:
            return Reply(t("round.bad_duration", ctx.language, duration=rest.strip()), Outcome.REFUSED)
        now = self.engine.clock()
        closes_at = now + duration if duration else None
        round_id, created = await self.queries.open(
            ctx.space_id,
            kind,
            subject,
            self._title(subject, ctx.language),
            ctx.user_id,
            closes_at,
            ctx.space.platform,
            ctx.space.external_id,
            {"render": "round_opened"},
            now,
            update_key=f"round-open:{update_key}" if update_key else None,
        )
        self.engine.forget_rounds(ctx.space_id)
        if not created:
            return Reply(t("round.already_open", ctx.language, id=round_id), Outcome.ALREADY_DONE)
        log.info("action=round_open round=%s subject=%s space=%s", round_id, subject, ctx.space_id)
        key = "round.opened_until" if closes_at else "round.opened"
        return Reply(
            t(
                key,
                ctx.language,
                id=round_id,
                title=self._title(subject, ctx.language),
                closes=self._when(closes_at) if closes_at else "",
            ),
            Outcome.DONE,
        )

    async def close(self, ctx: Context, argument: str) -> Reply:
        """``/round close [id]``: the only open round when no id is given."""
        refusal = await self.engine.refuse_unless_moderator(ctx, "round close")
        if refusal is not None:
            return refusal
        record = await self._pick_round(ctx, argument, only_open=True)
        if isinstance(record, Reply):
            return record
        closed = await self._close(record.id, ctx.user_id, ctx.space.platform, ctx.space.external_id)
        self.engine.forget_rounds(ctx.space_id)
        if not closed:
            return Reply(t("round.already_closed", ctx.language, id=record.id), Outcome.ALREADY_DONE)
        return Reply(t("round.closed_now", ctx.language, id=record.id), Outcome.DONE)

    async def close_due(self) -> int:
        """Close every round whose deadline has passed; returns how many this call closed."""
        closed = 0
        for round_id, platform, external_id in await self.queries.due(self.engine.clock()):
            if await self._close(round_id, None, platform, external_id):
                self.engine.forget_rounds_everywhere()
                log.info("action=round_deadline_close round=%s", round_id)
                closed += 1
        return closed

    async def _close(self, round_id: int, closed_by: int | None, platform: str, external_id: str) -> bool:
        closing = Closing(
            round_id, closed_by, platform, tuple(self.engine.settings.rounds.winner_points), self.engine.rules
        )
        return await self.queries.close(closing, external_id, self.engine.clock())

    async def listing(self, ctx: Context) -> Reply:
        rows = await self.queries.rounds_in(ctx.space_id, 10)
        if not rows:
            return Reply(t("round.none", ctx.language))
        lines = [t("round.list_title", ctx.language)]
        for row in rows:
            status = t(f"round.status_{row['status']}", ctx.language)
            lines.append(
                t(
                    "round.list_line",
                    ctx.language,
                    id=row["id"],
                    title=self._title(row["subject"], ctx.language),
                    status=status,
                )
            )
        return Reply(Markup("\n".join(lines)))

    # results ------------------------------------------------------------------------------------

    async def results(self, ctx: Context, argument: str) -> Reply:
        """``/results [id]``: moderators see a round's results at any time (the latest by default)."""
        refusal = await self.engine.refuse_unless_moderator(ctx, "results")
        if refusal is not None:
            return refusal
        record = await self._pick_round(ctx, argument, only_open=False)
        if isinstance(record, Reply):
            return record
        return await self.render_results(record.id, ctx.language)

    async def render_results(self, round_id: int, language: str) -> Reply:
        """Results as text within any platform's reach (adapters split it) plus a chart image."""
        record = await self.engine.store.round(round_id)
        if record is None:
            return Reply(t("round.unknown", language, id=round_id), Outcome.REFUSED)
        title = self._title(record.subject, language)
        status = t(f"round.status_{record.status}", language)
        lines = [t("results.title", language, title=title, id=record.id, status=status)]
        if record.kind == "ideas":
            lines += await self._idea_lines(record.id, language)
            return Reply(Markup("\n".join(lines)))
        campaign = self.engine.catalog.campaign(record.subject)
        if campaign is None:
            return Reply(Markup("\n".join(lines)))
        text_tasks = [task.id for task in campaign.tasks if task.kind == TaskKind.FREE_TEXT]
        counts = await self.queries.answer_counts(record.id, text_tasks)
        tallies = [
            tally_task(task, counts.get(task.id, []), language, await self._samples(record.id, task))
            for task in campaign.tasks
        ]
        lines.append(t("results.participants", language, count=await self.queries.participants(record.id)))
        for tally in tallies:
            lines.extend(self._task_lines(tally, language))
        series = chart_series(
            tallies,
            (
                str(t("results.detractors", language)),
                str(t("results.passives", language)),
                str(t("results.promoters", language)),
            ),
            {task.id: text_in(task.prompt, language) for task in campaign.tasks},
        )
        image = None
        if series:
            png = await render_png_async(series, f"{title} · #{record.id}")
            image = Image(data=png, filename=f"round-{record.id}.png")
        return Reply(Markup("\n".join(lines)), image=image)

    async def _samples(self, round_id: int, task: Task) -> list[str]:
        """A few of the latest typed answers (free text, or the words behind "other")."""
        if task.kind not in (TaskKind.FREE_TEXT, TaskKind.YES_NO_OTHER):
            return []
        other_only = task.kind == TaskKind.YES_NO_OTHER
        stored = await self.queries.latest_texts(round_id, task.id, other_only, TEXT_SAMPLES)
        decoded = [json.loads(value) for value in stored]
        return [str(value["other"]) if other_only else str(value) for value in decoded]

    def _task_lines(self, tally: TaskTally, language: str) -> list[Markup]:
        prompt = text_in(tally.task.prompt, language)
        lines = [t("results.task", language, prompt=prompt, count=tally.answers)]
        if not tally.answers:
            return lines
        if tally.nps is not None:
            detractors, passives, promoters = tally.nps_split
            lines.append(
                t(
                    "results.nps",
                    language,
                    score=f"{tally.nps:+d}",
                    promoters=promoters,
                    passives=passives,
                    detractors=detractors,
                )
            )
        elif tally.mean is not None:
            lines.append(t("results.mean", language, mean=f"{tally.mean:.2f}"))
        if tally.counts and tally.nps is None:
            top = max(tally.counts) or 1
            for index, label in enumerate(tally.labels):
                bar = "▇" * round(_BAR_WIDTH * tally.counts[index] / top)
                lines.append(
                    t(
                        "results.option",
                        language,
                        label=label,
                        bar=bar,
                        percent=tally.percent(index),
                        count=tally.counts[index],
                    )
                )
        for sample in tally.samples:
            lines.append(t("results.sample", language, text=sample if len(sample) <= 120 else sample[:119] + "…"))
        return lines

    async def _idea_lines(self, round_id: int, language: str) -> list[Markup]:
        ranking = await self.queries.idea_ranking(round_id, _IDEAS_IN_RESULTS)
        if not ranking:
            return [t("results.no_ideas", language)]
        return [
            t(
                "results.idea",
                language,
                place=place,
                id=row["id"],
                votes=row["votes"],
                author=row["author"] or "?",
                text=row["text"] if len(row["text"]) <= 100 else row["text"][:99] + "…",
            )
            for place, row in enumerate(ranking, 1)
        ]

    # export -------------------------------------------------------------------------------------

    async def export(self, round_id: int, fmt: str) -> tuple[str, bytes]:
        """The round's answers, one row each: answer id, member, task, value, time.

        Members are stable pseudonyms unless ``export.include_names`` is set. CSV holds the answers; JSON
        also holds the round and the space's audit log (moderator actions and redemptions), so what the
        moderators did travels with what the members said.
        """
        rows = await self.queries.export_rows(round_id)
        include_names = self.engine.settings.export.include_names
        records: list[dict[str, Any]] = [
            {
                "answer_id": row["id"],
                "round_id": round_id,
                "user": pseudonym(self.engine.codec_key, row["user_id"]),
                **({"name": row["display_name"], "platform": row["platform"]} if include_names else {}),
                "task_id": row["task_id"],
                "value": json.loads(row["value"]),
                "answered_at": row["created_at"],
            }
            for row in rows
        ]
        if fmt == "json":
            document = {
                "round": await self._round_summary(round_id),
                "answers": records,
                "audit": await self._audit_export(round_id, include_names),
            }
            return f"round-{round_id}.json", json.dumps(document, ensure_ascii=False, indent=1).encode()
        buffer = io.StringIO()
        columns = [
            "answer_id",
            "round_id",
            "user",
            *(["name", "platform"] if include_names else []),
            "task_id",
            "value",
            "answered_at",
        ]
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "value": json.dumps(record["value"], ensure_ascii=False)})
        return f"round-{round_id}.csv", buffer.getvalue().encode()

    async def _round_summary(self, round_id: int) -> dict[str, Any]:
        record = await self.engine.store.round(round_id)
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

    async def _audit_export(self, round_id: int, include_names: bool) -> list[dict[str, Any]]:
        return [
            {
                "at": row["created_at"],
                "by": "deadline"
                if row["moderator_id"] is None
                else row["display_name"]
                if include_names
                else pseudonym(self.engine.codec_key, row["moderator_id"]),
                "action": row["action"],
                "target": row["target"],
                "detail": row["detail"],
            }
            for row in await self.queries.audit_of_round_space(round_id)
        ]

    async def export_reply(self, ctx: Context, argument: str) -> Reply:
        """``/export [id] [csv|json]``: the file, privately, to a moderator."""
        refusal = await self.engine.refuse_unless_moderator(ctx, "export")
        if refusal is not None:
            return refusal
        words = argument.split()
        fmt = "json" if "json" in words else "csv"
        record = await self._pick_round(
            ctx, " ".join(word for word in words if word not in ("csv", "json")), only_open=False
        )
        if isinstance(record, Reply):
            return record
        filename, data = await self.export(record.id, fmt)
        await self.queries.audit(ctx.space_id, ctx.user_id, "export", str(record.id), self.engine.clock())
        return Reply(
            t("export.ready", ctx.language, id=record.id, filename=filename),
            Outcome.DONE,
            private=True,
            attachment=Attachment(filename, data),
        )

    # outbox rendering ---------------------------------------------------------------------------

    async def render_payload(self, payload: dict[str, Any]) -> Reply:
        """Turn an outbox marker into the reply to send."""
        language = self.engine.settings.default_language
        round_id = int(payload["round_id"])
        if payload["render"] == "round_results":
            results = await self.render_results(round_id, language)
            return Reply(Markup(f"{t('results.closed_banner', language)}\n{results.text}"), image=results.image)
        record = await self.engine.store.round(round_id)
        if record is None:
            return Reply(t("round.unknown", language, id=round_id))
        title = self._title(record.subject, language)
        closes = t("round.closes_at", language, closes=self._when(record.closes_at)) if record.closes_at else ""
        if record.kind == "ideas":
            topic = self.engine.catalog.topic(record.subject)
            prompt = text_in(topic.prompt, language) if topic else ""
            return Reply(t("round.announce_ideas", language, title=title, prompt=prompt, closes=closes))
        campaign = self.engine.catalog.campaign(record.subject)
        objective = text_in(campaign.objective, language) if campaign else ""
        start = Button(str(t("round.start_button", language)), self.engine.codec.pack("r", record.id))
        return Reply(
            t("round.announce_tasks", language, title=title, objective=objective, closes=closes),
            buttons=((start,),),
        )

    # helpers ------------------------------------------------------------------------------------

    async def _pick_round(self, ctx: Context, argument: str, *, only_open: bool) -> Any:
        text = argument.strip().lstrip("#")
        if text:
            if not text.isdecimal():  # not isdigit(): int() refuses "²"
                return Reply(t("round.bad_id", ctx.language, id=text), Outcome.REFUSED)
            record = await self.engine.store.round(int(text)) if len(text) <= _MAX_ID_DIGITS else None
            if record is None or record.space_id != ctx.space_id:
                return Reply(t("round.unknown", ctx.language, id=text), Outcome.REFUSED)
            return record
        rows = await self.queries.rounds_in(ctx.space_id, 50)
        candidates = [row for row in rows if row["status"] == "open" or not only_open]
        if not candidates:
            return Reply(t("round.none_open" if only_open else "round.none", ctx.language), Outcome.REFUSED)
        if only_open and len(candidates) > 1:
            ids = ", ".join(f"#{row['id']}" for row in candidates)
            return Reply(t("round.which", ctx.language, ids=ids), Outcome.REFUSED)
        return await self.engine.store.round(candidates[0]["id"])

    def _title(self, subject: str, language: str) -> str:
        campaign = self.engine.catalog.campaign(subject)
        if campaign is not None:
            return text_in(campaign.title, language)
        topic = self.engine.catalog.topic(subject)
        return text_in(topic.title, language) if topic is not None else subject

    def _when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.astimezone(self.engine.settings.zone).strftime("%a %d %b %H:%M")
