"""Ideas ranked by the pairs members judged: ``/ideas best`` in chat, and the scores the dashboard shows.

Each idea gets a score (its chance, in percent, of winning against an idea drawn at random, from the
Bradley-Terry fit), how sure the ranking is in plain words, and how many judgements it took part in; its
upvotes stay beside them: the business sees both signals side by side, and where they disagree (an early
idea with many upvotes that loses most of its pairs) is worth a look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.context import Context, Services
from bot.features.ideas.similarity import snippet
from bot.features.ideas.views import IdeaViews
from bot.features.pairs.judging import Pairs
from bot.features.pairs.scoring import Fit, confidence
from bot.replies import Reply
from bot.store.records import LISTED, IdeaRecord
from bot.texts import Markup, t

VIEW = "best"
LINE_SNIPPET = 80


@dataclass(frozen=True, slots=True)
class Scored:
    """An idea's standing from the pairs: ``score`` 0 to 100, ``confidence`` a key under
    ``pairs.confidence`` (``too_early``, ``clearly_ahead``…), ``judgements`` the decisive ones it was in,
    ``rank`` from 0 (best)."""

    idea_id: int
    score: int
    confidence: str
    judgements: int
    rank: int


class Ranking:
    """Scores of a space's listed ideas from the pairs feature's pools."""

    def __init__(self, services: Services, pairs: Pairs) -> None:
        self.services = services
        self.pairs = pairs
        self._scored: dict[int, tuple[Fit, tuple[Scored, ...]]] = {}  # by space: the last fit's scores

    async def scores(self, space_id: int) -> tuple[Scored, ...]:
        """Every listed idea of the space with its score, best first, from a fit counting every judgement.

        Kept with the fit they come from until the pool fits again (a new judgement or idea): ranking
        and scoring 10,000 ideas took about 40 ms, which every read of the dashboard's Ideas page paid."""
        fitted = (await self.pairs.pool(space_id, fresh_scores=True)).last_fit
        if fitted is None:
            return ()
        kept = self._scored.get(space_id)
        if kept is None or kept[0] is not fitted:
            kept = (fitted, _scored(fitted))
            self._scored[space_id] = kept
        return kept[1]

    async def best(self, ctx: Context, page: int = 1) -> Reply:
        """A page of this space's listed ideas, best score first, with confidence, judgements and upvotes."""
        language = ctx.language
        ranked = await self.scores(ctx.space_id)
        if not ranked:
            return Reply(t("pairs.best_empty", language))
        size = self.services.settings.ideas.page_size
        pages = max(1, math.ceil(len(ranked) / size))
        page = min(max(page, 1), pages)
        lines = [t("pairs.best_title", language, page=page, pages=pages)]
        shown: list[IdeaRecord] = []
        for scored in ranked[(page - 1) * size : page * size]:
            idea = await self.services.store.ideas.idea(scored.idea_id)
            if idea is None or idea.status not in LISTED:
                continue
            lines.append(
                t(
                    "pairs.best_line",
                    language,
                    id=idea.id,
                    score=scored.score,
                    confidence=t(f"pairs.confidence.{scored.confidence}", language),
                    judgements=scored.judgements,
                    votes=idea.votes,
                    text=snippet(idea.text, LINE_SNIPPET),
                )
            )
            shown.append(idea)
        lines.append(t("pairs.best_footer", language))
        buttons = IdeaViews(self.services, self.services.store.ideas).listing_buttons(shown, VIEW, page, pages)
        return Reply(Markup("\n".join(lines)), buttons=buttons)


def _scored(fitted: Fit) -> tuple[Scored, ...]:
    order = fitted.ranked()
    chances = fitted.chances()
    return tuple(
        Scored(
            fitted.ideas[at],
            round(100 * float(chances[at])),
            confidence(fitted, order, rank),
            int(fitted.comparisons[at]),
            rank,
        )
        for rank, at in enumerate(order)
    )
