"""A round's results as members and moderators read them: counts, bars, NPS, samples and a chart.

Results are rendered when they are shown or sent, from the answers in the store: the outbox holds only
markers (``{"render": "round_results", "round_id": 12}``), turned into replies here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from bot.actions import Verb
from bot.catalog import Campaign, Task, TaskKind, text_in
from bot.context import Context, Services
from bot.features.labelling.analysis import JobAnalysis, round_labels
from bot.features.labelling.jobs import vote_label
from bot.features.moderation import Moderation
from bot.features.rounds.attention import FAILURES, attention_checks
from bot.features.rounds.charts import chart_series, render_png_async
from bot.features.rounds.confidence import Interval, wilson
from bot.features.rounds.lookup import pick_round, round_title, when
from bot.features.rounds.tally import TEXT_SAMPLES, TaskTally, tally_task
from bot.features.rounds.themes import RoundThemes, ThemeCount
from bot.replies import Button, Image, Outcome, Reply
from bot.store.reads import for_reports
from bot.store.records import EVERY_ANSWER, AnswerFilter, AttentionChecks
from bot.texts import Markup, t

_IDEAS_IN_RESULTS = 10
_BAR_WIDTH = 10
_SAMPLE_LENGTH = 120
_IDEA_LENGTH = 100
_TEXT_LABELS = 5  # the most common settled texts a transcription job's block lists
_THEMES_IN_RESULTS = 5  # the largest themes a typed question's block lists
_THEME_NAME_LENGTH = 80


class RoundResults:
    """Results of rounds, and the announcements the outbox sends for them."""

    def __init__(self, services: Services, moderation: Moderation, themes: RoundThemes) -> None:
        self.services = services
        self.moderation = moderation
        self.themes = themes
        self.queries = services.store.rounds

    async def results(self, ctx: Context, round_id: int | None = None) -> Reply:
        """Moderators see a round's results at any time (the latest round here by default)."""
        record = await pick_round(self.services, self.moderation, ctx, "results", round_id, only_open=False)
        if isinstance(record, Reply):
            return record
        return await self.render_results(record.id, ctx.language)

    async def render_results(self, round_id: int, language: str) -> Reply:
        """Results as text within any platform's reach (adapters split it) plus a chart image.

        Read as a report (:mod:`bot.store.reads`): the tallies of a large round then run beside the
        members' reads, not ahead of them, and side by side."""
        with for_reports():
            return await self._results(round_id, language)

    async def _results(self, round_id: int, language: str) -> Reply:
        record = await self.services.store.rounds.round(round_id)
        if record is None:
            return Reply(t("round.unknown", language, id=round_id), Outcome.REFUSED)
        title = round_title(self.services, record.subject, language)
        status = t(f"round.status_{record.status}", language)
        lines = [t("results.title", language, title=title, id=record.id, status=status)]
        if record.kind == "ideas":
            lines += await self._idea_lines(record.id, language)
            ideas = await self.themes.of_ideas(record.id, record.status != "open")
            lines += _theme_lines(ideas.themes, language, "results.idea_theme")
            return Reply(Markup("\n".join(lines)))
        campaign = self.services.catalog.campaign(record.subject)
        if campaign is None:
            return Reply(Markup("\n".join(lines)))
        tallies = await round_tallies(self.services, record.id, campaign, language)
        checks = attention_checks(campaign)
        lines.append(t("results.participants", language, count=await self.queries.participants(record.id, checks)))
        left_out = await self.queries.left_out(record.id, checks)
        if left_out:
            lines.append(t("results.left_out", language, count=left_out, failures=FAILURES))
            uncounted = await self.queries.left_out_answers(record.id, checks)
            lines.append(t("results.left_out_answers", language, count=uncounted))
        jobs = {job.task.id: job for job in (await round_labels(self.services, record.id, campaign)).jobs}
        by_task = {tally.task.id: tally for tally in tallies}
        closed = record.status != "open"
        for task in campaign.tasks:
            if task.id in jobs:
                lines.extend(_job_lines(jobs[task.id], language))
            elif task.kind == TaskKind.IDEA_PAIR:  # its judgements rank the ideas: /ideas best shows them
                judged = await self.services.store.pairs.judgements_in_round(record.id)
                lines.append(t("pairs.results_line", language, prompt=text_in(task.prompt, language), count=judged))
            else:
                found = await self.themes.of_task(record.id, task, closed, checks)
                lines.extend(self._task_lines(by_task[task.id], language, found.themes))
        image = await round_chart(tallies, campaign, f"{title} · #{record.id}", f"round-{record.id}.png", language)
        return Reply(Markup("\n".join(lines)), image=image)

    def _task_lines(self, tally: TaskTally, language: str, themes: Sequence[ThemeCount] = ()) -> list[Markup]:
        prompt = text_in(tally.task.prompt, language)
        lines = [t("results.task", language, prompt=prompt, count=tally.answers)]
        if tally.skips:
            lines.append(t("results.skipped", language, count=tally.skips, percent=tally.skip_percent()))
        if not tally.answers:
            return lines
        sure = not tally.too_few
        if tally.nps is not None:
            detractors, passives, promoters = tally.nps_split
            lines.append(
                t(
                    "results.nps",
                    language,
                    score=f"{tally.nps:+d}",
                    promoters=t("results.nps_promoters", language, count=promoters),
                    passives=t("results.nps_passives", language, count=passives),
                    detractors=t("results.nps_detractors", language, count=detractors),
                )
            )
            if sure and tally.nps_interval is not None:
                low, high = tally.nps_interval.low, tally.nps_interval.high
                lines.append(t("results.nps_range", language, low=f"{round(low):+d}", high=f"{round(high):+d}"))
        elif tally.mean is not None:
            if sure and tally.mean_interval is not None:
                low, high = tally.mean_interval.low, tally.mean_interval.high
                lines.append(
                    t("results.mean_range", language, mean=f"{tally.mean:.2f}", low=f"{low:.1f}", high=f"{high:.1f}")
                )
            else:
                lines.append(t("results.mean", language, mean=f"{tally.mean:.2f}"))
        if tally.counts and tally.nps is None:
            lines += self._option_lines(tally, language)
        if tally.too_few:
            lines.append(t("results.too_few", language, minimum=self.services.settings.results.min_answers))
        elif tally.intervals:
            lines.append(t("results.margin", language, points=round(tally.margin)))
            if (tie := tally.tie) is not None:
                lines.append(t("results.tie", language, first=tally.labels[tie[0]], second=tally.labels[tie[1]]))
        lines += _theme_lines(themes, language)
        lines += [t("results.sample", language, text=_shortened(sample, _SAMPLE_LENGTH)) for sample in tally.samples]
        return lines

    @staticmethod
    def _option_lines(tally: TaskTally, language: str) -> list[Markup]:
        """A bar per option with its share; with its 95 % interval when there are enough answers."""
        shown = None if tally.too_few or not tally.intervals else tally.intervals
        return _bars(tally.labels, tally.counts, tally.answers, shown, language)

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
                text=_shortened(row["text"], _IDEA_LENGTH),
            )
            for place, row in enumerate(ranking, 1)
        ]

    async def render_payload(self, payload: dict[str, Any]) -> Reply:
        """Turn an outbox marker (a round opened, a round's results) into the reply to send."""
        language = self.services.settings.default_language
        round_id = int(payload["round_id"])
        if payload["render"] == "round_results":
            results = await self.render_results(round_id, language)
            return Reply(Markup(f"{t('results.closed_banner', language)}\n{results.text}"), image=results.image)
        record = await self.services.store.rounds.round(round_id)
        if record is None:
            return Reply(t("round.unknown", language, id=round_id))
        title = round_title(self.services, record.subject, language)
        closes = (
            t("round.closes_at", language, closes=when(self.services, record.closes_at)) if record.closes_at else ""
        )
        catalog = self.services.catalog
        if record.kind == "ideas":
            topic = catalog.topic(record.subject)
            prompt = text_in(topic.prompt, language) if topic else ""
            return Reply(t("round.announce_ideas", language, title=title, prompt=prompt, closes=closes))
        campaign = catalog.campaign(record.subject)
        objective = text_in(campaign.objective, language) if campaign else ""
        start = Button(str(t("round.start_button", language)), self.services.codec.pack(Verb.ROUND_START, record.id))
        return Reply(
            t("round.announce_tasks", language, title=title, objective=objective, closes=closes),
            buttons=((start,),),
        )


def _bars(
    labels: Sequence[str], counts: Sequence[int], total: int, intervals: Sequence[Interval] | None, language: str
) -> list[Markup]:
    """A line per option: its bar, share and count, and its 95 % interval when ``intervals`` are given."""
    top = max(counts, default=0) or 1
    lines = []
    for index, label in enumerate(labels):
        values = {
            "label": label,
            "bar": "▇" * round(_BAR_WIDTH * counts[index] / top),
            "percent": round(100 * counts[index] / (total or 1)),
            "count": counts[index],
        }
        if intervals is None:
            lines.append(t("results.option", language, **values))
        else:
            low, high = round(100 * intervals[index].low), round(100 * intervals[index].high)
            lines.append(t("results.option_range", language, low=low, high=high, **values))
    return lines


def _theme_lines(themes: Sequence[ThemeCount], language: str, line_key: str = "results.theme") -> list[Markup]:
    """The largest themes of a typed question, above its latest answers (or of an ideas round's ideas,
    below their ranking): name, count and top words.

    A theme of one answer is not a theme yet (the latest answers below show such answers), so only
    themes shared by two answers or more are listed.
    """
    shared = [theme for theme in themes if theme.count > 1][:_THEMES_IN_RESULTS]
    if not shared:
        return []
    lines = [t("results.themes", language)]
    for theme in shared:
        terms = t("results.theme_terms", language, terms=", ".join(theme.terms)) if theme.terms else Markup("")
        name = _shortened(theme.name, _THEME_NAME_LENGTH)
        lines.append(t(line_key, language, name=name, count=theme.count, terms=terms))
    return lines


def _job_lines(job: JobAnalysis, language: str) -> list[Markup]:
    """A labelling job's block: items settled and open, their mean confidence, how the settled labels
    split (each share with its 95 % Wilson interval) and who was left out for their gold accuracy."""
    settled = job.settled
    lines = [
        t("results.task", language, prompt=text_in(job.task.prompt, language), count=job.answers),
        t("results.job.items", language, settled=len(settled), open=job.open),
    ]
    if (confidence := job.mean_confidence) is not None:
        lines.append(t("results.job.confidence", language, percent=round(100 * confidence)))
    split = job.distribution()[:_TEXT_LABELS] if job.task.kind == TaskKind.FREE_TEXT else job.distribution()
    if settled and split:
        labels = [vote_label(job.task, vote, language) for vote, _ in split]
        counts = [count for _, count in split]
        lines += _bars(labels, counts, len(settled), [wilson(count, len(settled)) for count in counts], language)
    if job.held_back:
        below = round(100 * job.quality.exclude_below)
        lines.append(t("results.job.left_out", language, count=job.held_back, below=below))
    return lines


async def round_tallies(
    services: Services, round_id: int, campaign: Campaign, language: str, where: AnswerFilter = EVERY_ANSWER
) -> list[TaskTally]:
    """Every poll task's tally of a round, with its intervals: what the results text, chart and export share.

    Members who missed the campaign's attention checks are left out of every count, skip and sample; with
    ``where`` (the dashboard's filter) only the answers and skips it selects are counted.
    Labelling jobs are not polls: their labels are read by :mod:`bot.features.labelling.analysis`.
    """
    queries = services.store.rounds
    checks = attention_checks(campaign)
    polls = [task for task in campaign.tasks if not task.is_job]
    chosen = [task.id for task in polls if task.kind != TaskKind.FREE_TEXT]
    typed = [task.id for task in polls if task.kind == TaskKind.FREE_TEXT]
    counts, skips, samples = await asyncio.gather(  # sent together: a report's readers run them side by side
        queries.answer_counts(round_id, chosen, typed, checks, where),
        queries.skip_counts(round_id, checks, where),
        asyncio.gather(*(_samples(services, round_id, task, checks) for task in polls)),
    )
    minimum = services.settings.results.min_answers
    return [
        tally_task(task, counts.get(task.id, []), language, sampled, skips.get(task.id, 0), minimum)
        for task, sampled in zip(polls, samples, strict=True)
    ]


async def round_chart(
    tallies: list[TaskTally], campaign: Campaign, heading: str, filename: str, language: str
) -> Image | None:
    """The chart of a round's tallies (``/results``'s image, the dashboard's filtered chart); ``None``
    when no question has anything to draw."""
    series = chart_series(
        tallies,
        (
            str(t("results.detractors", language)),
            str(t("results.passives", language)),
            str(t("results.promoters", language)),
        ),
        {task.id: text_in(task.prompt, language) for task in campaign.tasks},
    )
    if not series:
        return None
    return Image(data=await render_png_async(series, heading), filename=filename)


async def _samples(services: Services, round_id: int, task: Task, checks: AttentionChecks) -> list[str]:
    """A few of the latest typed answers (free text, or the words behind "other")."""
    if task.kind not in (TaskKind.FREE_TEXT, TaskKind.YES_NO_OTHER):
        return []
    other_only = task.kind == TaskKind.YES_NO_OTHER
    stored = await services.store.rounds.latest_texts(round_id, task.id, other_only, TEXT_SAMPLES, checks)
    decoded = [json.loads(value) for value in stored]
    return [str(value["other"]) if other_only else str(value) for value in decoded]


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
