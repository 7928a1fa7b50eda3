"""Quality reports for moderators: ``/quality`` (a round's jobs and careless answering) and ``/member``
(one member's record across their latest rounds here).

Both are moderator commands and their replies are private: a member is never shown their own record,
nor anyone else's. The numbers come from :mod:`bot.features.labelling.analysis` (labels, gold records)
and :mod:`bot.features.rounds.screening` (straight-lining, attention checks), the same reads the
results and the export use, so the three never disagree.
"""

from __future__ import annotations

import statistics

from bot.catalog import Campaign, text_in
from bot.context import Context, Services
from bot.features.labelling.analysis import JobAnalysis, RoundLabels, accuracy_of, round_labels
from bot.features.labelling.jobs import reliability
from bot.features.moderation import Moderation
from bot.features.rounds.attention import FAILURES, attention_checks
from bot.features.rounds.lookup import pick_round, round_title, when
from bot.features.rounds.screening import RUN, Screening, scale_tasks, screen_round
from bot.replies import Outcome, Reply
from bot.store.records import RoundRecord
from bot.texts import Markup, t

MEMBER_ROUNDS = 5  # the latest rounds ``/member`` shows


def percent(share: float) -> int:
    return round(100 * share)


class QualityReports:
    """``/quality`` and ``/member`` over one set of services."""

    def __init__(self, services: Services, moderation: Moderation) -> None:
        self.services = services
        self.moderation = moderation

    async def quality(self, ctx: Context, round_id: int | None = None) -> Reply:
        """A round's quality at a glance (the latest round here by default): per job its items, gold
        and members, then who answered the polls carelessly."""
        record = await pick_round(self.services, self.moderation, ctx, "quality", round_id, only_open=False)
        if isinstance(record, Reply):
            return record
        language = ctx.language
        campaign = self.services.catalog.campaign(record.subject) if record.kind != "ideas" else None
        checks = attention_checks(campaign).passing if campaign else ()
        scales = len(scale_tasks(campaign)) if campaign else 0
        if campaign is None or not (any(task.is_job for task in campaign.tasks) or checks or scales >= RUN):
            return Reply(t("quality.nothing", language, id=record.id, run=RUN), private=True)
        title = round_title(self.services, record.subject, language)
        status = t(f"round.status_{record.status}", language)
        lines = [t("quality.title", language, title=title, id=record.id, status=status)]
        labels = await round_labels(self.services, record.id, campaign)
        if labels.jobs:
            method = t(f"quality.method_{campaign.quality.aggregation}", language)
            lines.append(t("quality.method", language, method=method))
        for job in labels.jobs:
            lines += _job_lines(job, language)
        screening = await screen_round(self.services, record.id, campaign)
        lines.append(Markup(""))
        if scales >= RUN:
            lines.append(t("quality.straight_lining", language, count=len(screening.straight_lining), run=RUN))
        if checks:
            lines.append(t("quality.attention", language, count=len(screening.left_out), failures=FAILURES))
        return Reply(Markup("\n".join(lines).rstrip()), private=True)

    async def member(self, ctx: Context, target: str) -> Reply:
        """One member's record in their latest rounds here: gold accuracy, agreement with the settled
        labels, too-fast answers, held back or not, straight-lining and missed attention checks."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "member")
        if refusal is not None:
            return refusal
        language, store = ctx.language, self.services.store
        user_id = await store.members.find_user(ctx.user.platform, target)
        if user_id is None:
            return Reply(t("moderation.unknown_user", language, user=target), Outcome.REFUSED)
        rounds = await store.rounds.rounds_taken_part(ctx.space_id, user_id, MEMBER_ROUNDS)
        if not rounds:
            return Reply(t("quality.member_none", language, user=target), private=True)
        lines = [t("quality.member_title", language, user=target)]
        for record in rounds:
            lines += await self._member_round(record, user_id, language)
        return Reply(Markup("\n".join(lines)), private=True)

    async def _member_round(self, record: RoundRecord, user_id: int, language: str) -> list[Markup]:
        title = round_title(self.services, record.subject, language)
        lines = [t("quality.member_round", language, id=record.id, title=title)]
        campaign = self.services.catalog.campaign(record.subject) if record.kind != "ideas" else None
        if campaign is None:
            return lines
        labels = await round_labels(self.services, record.id, campaign)
        if user_id in labels.members:
            lines += self._member_labels(labels, user_id, language)
        screening = await screen_round(self.services, record.id, campaign)
        lines.append(_member_polls(screening, user_id, campaign, language))
        return lines

    def _member_labels(self, labels: RoundLabels, user_id: int, language: str) -> list[Markup]:
        record = labels.members[user_id]
        accuracy = accuracy_of(record)
        lines = [
            t("quality.member_no_gold", language)
            if accuracy is None
            else t(
                "quality.member_gold",
                language,
                accuracy=percent(accuracy),
                right=record.evidence.gold_correct,
                total=record.evidence.gold_answers,
                reliability=percent(reliability(record.evidence)),
            )
        ]
        settled = labels.item_labels()
        mine = [answer for answer in labels.answers if answer.user_id == user_id and answer.vote is not None]
        compared = [answer.vote == settled[answer.item_id] for answer in mine if answer.item_id in settled]
        agreement = f"{percent(statistics.fmean(compared))}%" if compared else "–"
        lines.append(
            t("quality.member_answers", language, count=record.answers, agreement=agreement, too_fast=record.too_fast)
        )
        if record.excluded and record.excluded_at is not None:
            lines.append(t("quality.member_held", language, since=when(self.services, record.excluded_at)))
        else:
            lines.append(t("quality.member_kept", language))
        return lines


def _job_lines(job: JobAnalysis, language: str) -> list[Markup]:
    """One job's block of ``/quality``: items, confidence, withdrawals, members judged, gold spread, speed."""
    withdrawn = job.withdrawn
    lines = [
        t("quality.job", language, prompt=text_in(job.task.prompt, language)),
        t(
            "quality.items",
            language,
            count=len(job.items),
            gold=job.gold_items,
            settled=len(job.settled),
            open=job.open,
            withdrawn=withdrawn.total(),
        ),
    ]
    if (confidence := job.mean_confidence) is not None:
        lines.append(t("quality.confidence", language, percent=percent(confidence)))
    lines += [t("quality.withdrawn", language, count=count, reason=reason) for reason, count in withdrawn.items()]
    judged = job.judged
    lines.append(
        t(
            "quality.members",
            language,
            count=len(job.members),
            judged=len(judged),
            min_gold=job.quality.min_gold,
            held=job.held_back,
        )
    )
    if judged:
        low, median, high = percent(judged[0]), percent(statistics.median(judged)), percent(judged[-1])
        lines.append(t("quality.spread", language, low=low, median=median, high=high))
    lines.append(t("quality.too_fast", language, count=job.too_fast, seconds=f"{job.quality.min_seconds:g}"))
    return lines


def _member_polls(screening: Screening, user_id: int, campaign: Campaign, language: str) -> Markup:
    """Straight-lining and missed attention checks of one member in one round."""
    lined = t("quality.yes" if user_id in screening.straight_lining else "quality.no", language)
    checks = len(attention_checks(campaign).passing)
    return t(
        "quality.member_polls",
        language,
        straight=lined,
        missed=screening.missed_checks.get(user_id, 0),
        checks=checks,
    )
