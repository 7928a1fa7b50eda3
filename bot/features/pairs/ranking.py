"""``/ideas best``: ideas ranked by the pairs members judged, with upvotes beside each score.

Each line shows the idea's score (its chance, in percent, of winning against an idea drawn at random,
from the Bradley-Terry fit), how sure the ranking is in plain words, how many judgements it took part
in and its upvotes: the business sees both signals side by side, and where they disagree (an early idea
with many upvotes that loses most of its pairs) is worth a look.
"""

from __future__ import annotations

import math

from bot.context import Context, Services
from bot.features.ideas.similarity import snippet
from bot.features.ideas.views import IdeaViews
from bot.features.pairs.judging import Pairs
from bot.features.pairs.scoring import confidence
from bot.replies import Reply
from bot.store.records import LISTED, IdeaRecord
from bot.texts import Markup, t

VIEW = "best"
LINE_SNIPPET = 80


class Ranking:
    """The ``best`` view of ideas, over the pairs feature's pools."""

    def __init__(self, services: Services, pairs: Pairs) -> None:
        self.services = services
        self.pairs = pairs

    async def best(self, ctx: Context, page: int = 1) -> Reply:
        """A page of this space's listed ideas, best score first, with confidence, judgements and upvotes."""
        language = ctx.language
        index = await self.pairs.pool(ctx.space_id, fresh_scores=True)
        fitted = index.last_fit
        if fitted is None or not fitted.ideas:
            return Reply(t("pairs.best_empty", language))
        order = fitted.ranked()
        size = self.services.settings.ideas.page_size
        pages = max(1, math.ceil(len(order) / size))
        page = min(max(page, 1), pages)
        lines = [t("pairs.best_title", language, page=page, pages=pages)]
        shown: list[IdeaRecord] = []
        for rank in range((page - 1) * size, min(page * size, len(order))):
            at = order[rank]
            idea = await self.services.store.ideas.idea(fitted.ideas[at])
            if idea is None or idea.status not in LISTED:
                continue
            sure = t(f"pairs.confidence.{confidence(fitted, order, rank)}", language)
            score = round(100 * fitted.chance_to_win(at))
            lines.append(
                t(
                    "pairs.best_line",
                    language,
                    id=idea.id,
                    score=score,
                    confidence=sure,
                    judgements=int(fitted.comparisons[at]),
                    votes=idea.votes,
                    text=snippet(idea.text, LINE_SNIPPET),
                )
            )
            shown.append(idea)
        lines.append(t("pairs.best_footer", language))
        buttons = IdeaViews(self.services, self.services.store.ideas).listing_buttons(shown, VIEW, page, pages)
        return Reply(Markup("\n".join(lines)), buttons=buttons)
