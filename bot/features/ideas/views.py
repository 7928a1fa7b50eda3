"""How ideas look in chat: an idea's page, a listing page, a line per idea, the similar-ideas prompt.

Every view is a :class:`Reply` whose buttons carry signed tokens (upvote, retract, open, turn the page);
texts stay short enough that ten lines fit well under Discord's 2,000 characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.actions import Verb
from bot.context import Context, Services
from bot.features.ideas.similarity import similar_ideas, snippet, trending
from bot.replies import BUTTONS_PER_ROW, Button, Outcome, Reply, escape
from bot.store.ideas_sql import IdeaQueries
from bot.store.records import LISTED, IdeaRecord, IdeaStatus
from bot.texts import Markup, t

VIEWS = ("top", "new", "trending", "best", "launched", "pending")  # "best": by pairs judged (bot.features.pairs)
UNSEEN = (IdeaStatus.PENDING, IdeaStatus.HIDDEN)  # shown only to moderators (and a pending idea's author)
CHILDREN_SHOWN = 5
LIST_SNIPPET = 80  # characters of an idea in a listing: ten lines stay well under Discord's 2000
PAGE_SNIPPET = 60  # characters of a related idea (parent, children, similar) on an idea page


def status_label(language: str, status: IdeaStatus) -> Markup:
    return t(f"ideas.status.{status.value}", language)


class IdeaViews:
    """Renders ideas for one set of services."""

    def __init__(self, services: Services, queries: IdeaQueries) -> None:
        self.services = services
        self.queries = queries
        self.settings = services.settings.ideas

    async def page(
        self, ctx: Context, idea: IdeaRecord, *, headline: Markup | None = None, outcome: Outcome = Outcome.INFO
    ) -> Reply:
        """One idea with its votes, status, author, what it builds on, what builds on it and similar ones."""
        language = ctx.language
        codec = self.services.codec
        lines = [headline] if headline else []
        if idea.category:
            lines.append(t("ideas.page_title_category", language, id=idea.id, category=idea.category))
        else:
            lines.append(t("ideas.page_title", language, id=idea.id))
        lines += [Markup(escape(line)) for line in idea.text.splitlines()]  # the author's lines; no tag on them
        status = status_label(language, idea.status)
        lines.append(t("ideas.page_meta", language, author=idea.author_name or "?", votes=idea.votes, status=status))
        if idea.status_note:
            lines.append(t("ideas.page_note", language, note=idea.status_note))
        related: list[int] = []
        if idea.merged_into is not None:
            lines.append(t("ideas.page_merged", language, target=idea.merged_into))
            related.append(idea.merged_into)
        parent = await self.queries.idea(idea.parent_id) if idea.parent_id is not None else None
        if parent is not None and parent.status not in UNSEEN:
            lines.append(t("ideas.page_parent", language, id=parent.id, text=snippet(parent.text, PAGE_SNIPPET)))
            related.append(parent.id)
        children = await self.queries.children(idea.id, CHILDREN_SHOWN)
        if children:
            lines.append(t("ideas.page_children", language))
            lines += [self.line(language, child, PAGE_SNIPPET) for child in children]
            related += [child.id for child in children]
        if idea.status in LISTED:
            candidates = [other for other in await self.queries.listed(idea.space_id) if other.id not in related]
            similar = similar_ideas(idea.text, candidates, self.settings.similarity_threshold, exclude=idea.id)
            if similar:
                lines.append(t("ideas.page_similar", language))
                lines += [self.line(language, other, PAGE_SNIPPET) for other in similar]
                related += [other.id for other in similar]
        buttons: list[tuple[Button, ...]] = []
        if idea.status in LISTED:
            buttons.append(
                (
                    Button(str(t("ideas.upvote", language, votes=idea.votes)), codec.pack(Verb.UPVOTE, idea.id)),
                    Button(str(t("ideas.retract", language)), codec.pack(Verb.RETRACT, idea.id)),
                )
            )
        buttons += self.open_buttons(related)
        return Reply(Markup("\n".join(lines)), outcome, buttons=tuple(buttons))

    def open_buttons(self, idea_ids: Sequence[int]) -> list[tuple[Button, ...]]:
        """Rows of "#12" buttons that open those ideas' pages."""
        buttons = [Button(f"#{idea_id}", self.services.codec.pack(Verb.IDEA_PAGE, idea_id)) for idea_id in idea_ids]
        return [tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW)]

    def line(self, language: str, idea: IdeaRecord, limit: int = LIST_SNIPPET) -> Markup:
        text = snippet(idea.text, limit)
        if idea.status == IdeaStatus.NEW:
            return t("ideas.line", language, id=idea.id, votes=idea.votes, text=text)
        status = status_label(language, idea.status)
        return t("ideas.line_status", language, id=idea.id, votes=idea.votes, text=text, status=status)

    def similar_prompt(self, ctx: Context, similar: Sequence[IdeaRecord], draft_id: int) -> Reply:
        """ "Is it one of these?": an upvote button per similar idea, and "Submit anyway" for the draft."""
        language, codec = ctx.language, self.services.codec
        lines = [t("ideas.similar_title", language), *(self.line(language, idea) for idea in similar)]
        upvotes = tuple(
            Button(str(t("ideas.upvote_one", language, id=idea.id)), codec.pack(Verb.UPVOTE, idea.id))
            for idea in similar
        )
        anyway = Button(str(t("ideas.submit_anyway", language)), codec.pack(Verb.SUBMIT_DRAFT, draft_id))
        return Reply(Markup("\n".join(lines)), buttons=(upvotes, (anyway,)), private=True)

    async def listing(self, ctx: Context, view: str, page: int, *, edit: bool = False) -> Reply:
        """A page of ideas in one view, with buttons to open each and to turn the page."""
        shown, total, page = await self._view_page(ctx.space_id, view, page)
        language = ctx.language
        if not shown:
            return Reply(t(f"ideas.empty.{view}", language), edit=edit)
        pages = _pages(total, self.settings.page_size)
        lines = [t("ideas.list_title", language, view=t(f"ideas.view.{view}", language), page=page, pages=pages)]
        for idea in shown:
            if view == "launched":  # "you said, we did": who proposed it and how many stood behind it
                text = snippet(idea.text, LIST_SNIPPET)
                author = idea.author_name or "?"
                lines.append(t("ideas.line_launched", language, id=idea.id, text=text, author=author, votes=idea.votes))
            else:
                lines.append(self.line(language, idea))
            if view == "launched" and idea.status_note:
                lines.append(t("ideas.line_note", language, note=snippet(idea.status_note, LIST_SNIPPET)))
        return Reply(Markup("\n".join(lines)), buttons=self.listing_buttons(shown, view, page, pages), edit=edit)

    def listing_buttons(
        self, shown: Sequence[IdeaRecord], view: str, page: int, pages: int
    ) -> tuple[tuple[Button, ...], ...]:
        """A listing page's buttons: open each idea shown, and turn to the page before or after."""
        buttons = self.open_buttons([idea.id for idea in shown])
        codec = self.services.codec
        turns = []
        if page > 1:
            turns.append(Button("◀", codec.pack(Verb.IDEA_LIST, view, page - 1)))
        if page < pages:
            turns.append(Button("▶", codec.pack(Verb.IDEA_LIST, view, page + 1)))
        if turns:
            buttons.append(tuple(turns))
        return tuple(buttons)

    async def _view_page(self, space_id: int, view: str, page: int) -> tuple[list[IdeaRecord], int, int]:
        """The ideas on ``page`` of ``view``, the view's total, and the page shown (clamped to the last)."""
        size = self.settings.page_size
        page = max(page, 1)
        if view == "trending":
            ranked = trending(await self.queries.listed(space_id), self.services.clock())
            page = min(page, _pages(len(ranked), size))
            return ranked[(page - 1) * size : page * size], len(ranked), page
        shown, total = await self.queries.page(space_id, view, (page - 1) * size, size)
        if not shown and total:  # past the end: ideas were hidden or merged since the buttons were made
            page = _pages(total, size)
            shown, total = await self.queries.page(space_id, view, (page - 1) * size, size)
        return shown, total, page


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))
