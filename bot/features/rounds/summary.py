"""Closing the loop with members: the private summary of a round they answered, and ``/quiet``.

When a round closes, its transaction queues one marker per participant
(``{"render": "round_summary", "round_id": 12, "language": "ro"}``, see :mod:`bot.store.rounds_sql`);
the outbox drainer renders it here when it sends it, at the platform's pace. The summary is short on
purpose (the round's title, the top answer of each question and, for a typed question, its largest theme
as moderators named it): the full results with their chart are
posted in the community's spaces. A closed round's tallies no longer change, so each language's summary
is computed once and reused for every member who reads that language.

``/quiet`` is the member's way out: stored on the person, so it holds on every linked account.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.catalog import TaskKind, text_in
from bot.context import Context, Services
from bot.features.rounds.attention import attention_checks
from bot.features.rounds.lookup import round_title
from bot.features.rounds.results import round_tallies
from bot.features.rounds.tally import TaskTally
from bot.features.rounds.themes import RoundThemes, ThemeCount, themed
from bot.replies import Outcome, Reply
from bot.texts import Markup, pick_language, t

_CACHED = 32  # (round, language) summaries kept: the rounds closing at about the same time, each language


class RoundSummaries:
    """Members' private round summaries, and their choice not to get them."""

    def __init__(self, services: Services, themes: RoundThemes) -> None:
        self.services = services
        self.themes = themes  # the typed questions' largest themes, from the cache /results uses
        self._rendered: OrderedDict[tuple[int, str], Reply] = OrderedDict()

    async def quiet(self, ctx: Context, wanted: bool | None = None) -> Reply:
        """``/quiet`` flips the choice, ``/quiet on`` or ``/quiet off`` sets it; stored per person."""
        quiet = await self.services.store.members.set_quiet(ctx.user_id, wanted)
        return Reply(t("summary.quiet_on" if quiet else "summary.quiet_off", ctx.language), Outcome.DONE, private=True)

    async def render(self, round_id: int, requested_language: str | None) -> Reply:
        """The summary of ``round_id`` in the member's language (the default one when we lack theirs)."""
        language = pick_language(requested_language, self.services.settings.default_language)
        key = (round_id, language)
        if key in self._rendered:
            self._rendered.move_to_end(key)
            return self._rendered[key]
        record = await self.services.store.rounds.round(round_id)
        if record is None:
            return Reply(t("round.unknown", language, id=round_id), private=True)
        lines = [t("summary.title", language, title=round_title(self.services, record.subject, language))]
        campaign = self.services.catalog.campaign(record.subject)
        if campaign is not None:
            tallies = await round_tallies(self.services, record.id, campaign, language)
            checks = attention_checks(campaign)
            for tally in tallies:
                line = _top_answer(tally, language)
                if tally.task.kind == TaskKind.IDEA_PAIR:  # judgements, not answers: the ranking is elsewhere
                    line = t("summary.pairs", language, prompt=text_in(tally.task.prompt, language))
                if line is None and themed(tally.task) and tally.answers:
                    found = await self.themes.of_task(record.id, tally.task, record.status != "open", checks)
                    line = _top_theme(tally, found.themes[0] if found.themes else None, language)
                if line is not None:
                    lines.append(line)
        lines.append(t("summary.footer", language))
        reply = Reply(Markup("\n".join(lines)), private=True)
        if record.status == "closed":
            self._rendered[key] = reply
            if len(self._rendered) > _CACHED:
                self._rendered.popitem(last=False)
        return reply


def _top_answer(tally: TaskTally, language: str) -> Markup | None:
    """One line per question: the NPS, the mean rating or the most chosen answer; none for free text
    (a sample of someone's words is not "what we heard") nor for a question nobody answered."""
    if not tally.answers:
        return None
    prompt = text_in(tally.task.prompt, language)
    if tally.nps is not None:
        return t("summary.nps", language, prompt=prompt, score=f"{tally.nps:+d}")
    if tally.mean is not None:
        return t("summary.mean", language, prompt=prompt, mean=f"{tally.mean:.1f}")
    if not tally.counts:
        return None
    top = max(range(len(tally.counts)), key=lambda index: tally.counts[index])
    return t("summary.top", language, prompt=prompt, answer=tally.labels[top], percent=tally.percent(top))


def _top_theme(tally: TaskTally, theme: ThemeCount | None, language: str) -> Markup | None:
    """A typed question's largest theme, when two members or more said it: what was said most often."""
    if theme is None or theme.count < 2:
        return None
    prompt = text_in(tally.task.prompt, language)
    return t("summary.theme", language, prompt=prompt, theme=theme.name, count=theme.count, total=tally.answers)
