"""Ideas: members propose, upvote and build on each other's ideas; moderators say what became of them.

My Starbucks Idea, Canny or Fider, native to chat: ``/idea`` submits (``/idea +12 …`` builds on #12,
``/idea #drinks …`` files it under a category), ``/ideas`` browses, buttons upvote and retract,
``/status`` moves an idea along and tells its author and every voter, ``/launched`` shows what changed.

**Similar ideas.** Before an idea is stored, it is compared with the listed ideas of its space, and the
member is offered to upvote a close one instead, or to submit anyway. Both texts are normalised (case and
accents folded, punctuation dropped, English and Romanian filler and request words such as "please",
"add", "more", "bring back", "vă rog", "mai" dropped, a plural -s trimmed), then scored with rapidfuzz as
the mean of ``token_set_ratio``, which forgives extra words (a longer rewording of the same idea), and
``token_sort_ratio``, which penalises an overlap that is only a small part of the texts (where
``token_set_ratio`` alone gives 100). Ideas scoring at least ``settings.ideas.similarity_threshold``
(0–100, default 62) are similar. On a hand-made set of café ideas, reworded duplicates scored 77–100 and
unrelated ideas sharing the topic's words ("… on the winter menu") at most 59; the tests keep two of each.
The scan is linear in the space's listed ideas (a few milliseconds per thousand).

**Trending** ranks by ``votes / (age_hours + 2) ** 1.5``, Hacker News' formula with gravity 1.5: a vote
weighs most while the idea is new, so a day-old idea needs about twelve times the votes of a three-hour-old
one to rank level. Ties go to the newer idea.

**Points.** The author earns ``points_per_upvote`` per upvote up to ``upvote_points_cap`` per idea, and
``accepted_bonus`` / ``launched_bonus`` once per idea; a retraction takes its points back with a new
ledger entry (see :mod:`bot.store.ideas_sql`).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from bot.actions import Action
from bot.catalog import Topic, text_in
from bot.identity import SpaceRef, UserRef
from bot.outbox import reply_payload
from bot.replies import Button, Outcome, Reply, escape
from bot.store.ideas_sql import (
    LISTED,
    ChangeOutcome,
    Compose,
    IdeaPoints,
    IdeaQueries,
    IdeaRecord,
    IdeaStatus,
    NewIdea,
    Proposal,
    Recipient,
    StatusChange,
    VoteResult,
    VoteStatus,
)
from bot.store.records import RoundRecord
from bot.tasks import clean_text
from bot.texts import Markup, pick_language, t

if TYPE_CHECKING:
    from bot.engine import Context, Engine

log = logging.getLogger(__name__)

VIEWS = ("top", "new", "trending", "launched", "pending")
SETTABLE = (
    IdeaStatus.NEW,
    IdeaStatus.UNDER_REVIEW,
    IdeaStatus.ACCEPTED,
    IdeaStatus.LAUNCHED,
    IdeaStatus.DECLINED,
    IdeaStatus.MERGED,
)
NOTE_MAX_LENGTH = 300
SIMILAR_SHOWN = 3
CHILDREN_SHOWN = 5
LIST_SNIPPET = 80  # characters of an idea in a listing: ten lines stay well under Discord's 2000
PAGE_SNIPPET = 60  # characters of a related idea (parent, children, similar) on an idea page
BUTTONS_PER_ROW = 5  # Discord's limit
_MAX_ID_DIGITS = 18  # ids and page numbers beyond this do not fit SQLite's 64-bit integers

_WORD = re.compile(r"\w+")
# "/idea +12 #drinks text": builds on #12, in category drinks (a hashtag that is not a number).
_SUBMISSION = re.compile(
    r"(?:\+(?P<parent>\d+)(?:\s+|$))?(?:#(?P<category>(?!\d+(?:\s|$))[^\s#]+)(?:\s+|$))?(?P<text>.*)",
    re.DOTALL,
)
_FILLER = frozenset(
    """
    a an the and or of to for in on at by with from as is are be it its this that these those there their we i
    you our your us me my so very really just also all any some please would could should can will let lets
    need want like get have make add bring back put offer sell serve allow start stop more less better new
    idea ideas option options thing things
    si sa la de din pe cu un o ca mai pentru ar ne va vrem este e fie noi eu voi niste rog te
    """.split()  # noqa: SIM905 - a word list reads best as words
)

_UNSEEN = (IdeaStatus.PENDING, IdeaStatus.HIDDEN)  # shown only to moderators (and a pending idea's author)
_REFUSALS = {
    ChangeOutcome.NOT_FOUND: "ideas.not_found",
    ChangeOutcome.ALREADY_MERGED: "ideas.already_merged",
    ChangeOutcome.NOT_PENDING: "ideas.not_pending",
    ChangeOutcome.BAD_TARGET: "ideas.bad_target",
}
_DONE = {"approve": "ideas.approved", "hide": "ideas.hidden"}

# similarity and ranking ---------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The words that say what an idea is about (see the module docstring), for fuzzy comparison."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return " ".join(_singular(word) for word in _WORD.findall(folded) if word not in _FILLER)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def similarity(normalised: str, other: str) -> float:
    """0–100: how alike two normalised idea texts are."""
    return (fuzz.token_set_ratio(normalised, other) + fuzz.token_sort_ratio(normalised, other)) / 2


def similar_ideas(
    text: str, candidates: Sequence[IdeaRecord], threshold: float, *, exclude: int | None = None
) -> list[IdeaRecord]:
    """The candidates at least ``threshold`` similar to ``text``, closest (then most voted) first."""
    wanted = normalise(text)
    scored = [(similarity(wanted, normalise(idea.text)), idea) for idea in candidates if idea.id != exclude]
    close = sorted((pair for pair in scored if pair[0] >= threshold), key=lambda pair: (-pair[0], -pair[1].votes))
    return [idea for _, idea in close[:SIMILAR_SHOWN]]


def trending_score(votes: int, age_hours: float) -> float:
    """Hacker News' ranking with gravity 1.5 (see the module docstring)."""
    return votes / math.pow(max(age_hours, 0.0) + 2, 1.5)


def trending(ideas: Sequence[IdeaRecord], now: datetime) -> list[IdeaRecord]:
    def rank(idea: IdeaRecord) -> tuple[float, datetime, int]:
        age_hours = (now - idea.created_at).total_seconds() / 3600
        return trending_score(idea.votes, age_hours), idea.created_at, idea.id

    return sorted(ideas, key=rank, reverse=True)


def snippet(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis when it was longer."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def parse_idea_id(word: str) -> int | None:
    """``12`` or ``#12`` → 12; a number too long for any id (or for SQLite) → 0, which no idea has."""
    digits = word.removeprefix("#")
    if not digits.isdecimal():  # not isdigit(): int() refuses "²"
        return None
    return int(digits) if len(digits) <= _MAX_ID_DIGITS else 0


@dataclass(frozen=True, slots=True)
class _Invitation:
    """What a space asks ideas about now: its open ideas round, that round's topic, the categories."""

    round: RoundRecord | None
    topic: Topic | None
    categories: tuple[str, ...]


class Ideas:
    """The ideas use cases of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings.ideas
        self.queries = IdeaQueries(engine.store)
        self.points = IdeaPoints(
            rules=engine.rules,
            per_upvote=self.settings.points_per_upvote,
            upvote_cap=self.settings.upvote_points_cap,
            bonuses={
                IdeaStatus.ACCEPTED: self.settings.accepted_bonus,
                IdeaStatus.LAUNCHED: self.settings.launched_bonus,
            },
        )

    # submitting ---------------------------------------------------------------------------------

    async def submit_idea(
        self,
        user: UserRef,
        space: SpaceRef,
        text: str,
        *,
        category: str | None = None,
        parent_id: int | None = None,
        update_key: str | None = None,
        force: bool = False,
    ) -> Reply:
        """Store an idea here, unless similar ones exist: then offer them (and "Submit anyway").

        ``update_key`` names the platform message: a redelivered message stores nothing new and gets the
        same answer. ``force`` skips the similar-idea check.
        """
        ctx = await self.engine.context(user, space)
        key = f"idea:{update_key}" if update_key is not None else None
        if key is not None and (existing := await self.queries.processed(key)) is not None:
            return self._already_saved(ctx, existing)  # a redelivery is answered, not counted as a new try
        if not self.engine.idea_submissions.allow(ctx.user_id):
            limit = self.engine.settings.limits.ideas_per_hour
            return Reply(t("ideas.too_many", ctx.language, limit=limit), Outcome.REFUSED)
        proposal = Proposal(ctx.user_id, ctx.space_id, text, category, parent_id)
        return await self._submit(ctx, proposal, update_key=key, force=force)

    async def _submit(
        self,
        ctx: Context,
        proposal: Proposal,
        *,
        update_key: str | None,
        force: bool,
        draft_id: int | None = None,
    ) -> Reply:
        """Check and store ``proposal``; ``update_key``: the message or draft it comes from, stored once.

        Copies of one message may run at once (a webhook retry reaching another process): a copy that
        finds the first one's idea among the similar ones is told it is saved instead.
        """
        invitation = await self._invitation(proposal.space_id)
        checked = await self._check(ctx, proposal, invitation)
        if isinstance(checked, Reply):
            return checked
        now = self.engine.clock()
        if not force:
            listed = await self.queries.listed(checked.space_id)
            similar = similar_ideas(checked.text, listed, self.settings.similarity_threshold)
            if similar:
                if update_key is not None and (existing := await self.queries.processed(update_key)) is not None:
                    return self._already_saved(ctx, existing)
                draft = await self.queries.save_draft(checked, now)
                log.info(
                    "action=idea_similar user=%s space=%s similar=%s",
                    ctx.user_id,
                    checked.space_id,
                    [idea.id for idea in similar],
                )
                return self._similar_prompt(ctx, similar, draft)
        status = IdeaStatus.PENDING if self.settings.moderation_queue else IdeaStatus.NEW
        round_id = invitation.round.id if invitation.round else None
        submitted = await self.queries.add(
            NewIdea(checked, round_id, status, update_key, draft_id), self.engine.rules, now
        )
        log.info(
            "action=idea_submit idea=%s user=%s space=%s outcome=%s",
            submitted.idea_id,
            ctx.user_id,
            checked.space_id,
            "duplicate" if submitted.duplicate else status,
        )
        if submitted.duplicate:
            return self._already_saved(ctx, submitted.idea_id)
        if status == IdeaStatus.PENDING:
            text = t("ideas.saved_pending", ctx.language, id=submitted.idea_id)
            return Reply(text, Outcome.DONE, private=True)
        idea = await self.queries.idea(submitted.idea_id)
        assert idea is not None
        headline = t("ideas.saved", ctx.language, id=idea.id)
        return await self._page(ctx, idea, headline=headline, outcome=Outcome.DONE)

    async def _check(self, ctx: Context, proposal: Proposal, invitation: _Invitation) -> Proposal | Reply:
        """The proposal cleaned, with its category's canonical name and a live parent; else the refusal."""
        language = ctx.language
        if await self.engine.store.is_banned(proposal.space_id, ctx.user_id):
            return Reply(t("moderation.you_are_banned", language), Outcome.REFUSED)
        text = clean_text(proposal.text)
        low, high = self.settings.min_length, self.settings.max_length
        if not low <= len(text) <= high:
            key = "ideas.too_short" if len(text) < low else "ideas.too_long"
            return Reply(t(key, language, length=len(text), min=low, max=high), Outcome.REFUSED)
        category = None
        if proposal.category is not None:
            wanted = proposal.category.casefold()
            category = next((name for name in invitation.categories if name.casefold() == wanted), None)
            if category is None:
                return self._unknown_category(ctx, proposal.category, invitation.categories)
        parent_id = proposal.parent_id
        if parent_id is not None:
            parent = await self.queries.idea(parent_id)
            if parent is None or parent.space_id != proposal.space_id or parent.status in _UNSEEN:
                return Reply(t("ideas.not_found", language, id=parent_id), Outcome.REFUSED)
            parent_id = parent.merged_into or parent.id  # building on a merged idea builds on its target
        return replace(proposal, text=text, category=category, parent_id=parent_id)

    async def _submit_draft(self, ctx: Context, draft_id: int) -> Reply:
        """Store a held-back draft ("Submit anyway"), once however often the button is tapped."""
        key = f"idea-draft:{draft_id}"
        draft = await self.queries.draft(draft_id)
        if draft is None:
            existing = await self.queries.processed(key)
            return self._already_saved(ctx, existing) if existing is not None else self.engine._stale(ctx)
        if draft.user_id != ctx.user_id:
            return self.engine._stale(ctx)
        return await self._submit(ctx, draft, update_key=key, force=True, draft_id=draft_id)

    async def categories(self, space_id: int) -> tuple[str, ...]:
        """The categories an idea may be filed under in a space now (settings plus the open topic's)."""
        return (await self._invitation(space_id)).categories

    async def _invitation(self, space_id: int) -> _Invitation:
        rounds = await self.engine.store.open_rounds(space_id, "ideas")
        record = rounds[-1] if rounds else None
        topic = self.engine.catalog.topic(record.subject) if record else None
        categories = dict.fromkeys([*self.settings.categories, *(topic.categories if topic else ())])
        return _Invitation(record, topic, tuple(categories))

    def _unknown_category(self, ctx: Context, category: str, categories: Sequence[str]) -> Reply:
        if not categories:
            return Reply(t("ideas.no_categories", ctx.language, category=category), Outcome.REFUSED)
        listed = ", ".join(f"#{name}" for name in categories)
        return Reply(t("ideas.unknown_category", ctx.language, category=category, categories=listed), Outcome.REFUSED)

    def _similar_prompt(self, ctx: Context, similar: Sequence[IdeaRecord], draft_id: int) -> Reply:
        language = ctx.language
        lines = [t("ideas.similar_title", language), *(self._line(language, idea) for idea in similar)]
        upvotes = tuple(
            Button(str(t("ideas.upvote_one", language, id=idea.id)), self.engine.codec.pack("v", idea.id))
            for idea in similar
        )
        anyway = Button(str(t("ideas.submit_anyway", language)), self.engine.codec.pack("d", draft_id))
        return Reply(Markup("\n".join(lines)), buttons=(upvotes, (anyway,)), private=True)

    def _already_saved(self, ctx: Context, idea_id: int) -> Reply:
        text = t("ideas.already_saved", ctx.language, id=idea_id)
        return Reply(text, Outcome.ALREADY_DONE, notice=str(text))

    # voting -------------------------------------------------------------------------------------

    async def vote(self, user: UserRef, space: SpaceRef, idea_id: int, up: bool) -> Reply:
        """Upvote an idea (``up``) or take one's upvote back; one upvote per member per idea."""
        return await self._vote(await self.engine.context(user, space), idea_id, up)

    async def _vote(self, ctx: Context, idea_id: int, up: bool) -> Reply:
        result = await self.queries.vote(idea_id, ctx.user_id, up, self.points, self.engine.clock())
        log.info(
            "action=%s idea=%s user=%s outcome=%s",
            "vote" if up else "retract",
            idea_id,
            ctx.user_id,
            result.status,
        )
        text = self._vote_text(ctx.language, idea_id, result)
        outcome = {
            VoteStatus.RECORDED: Outcome.DONE,
            VoteStatus.RETRACTED: Outcome.DONE,
            VoteStatus.ALREADY_VOTED: Outcome.ALREADY_DONE,
            VoteStatus.NOT_VOTED: Outcome.ALREADY_DONE,
        }.get(result.status, Outcome.REFUSED)
        return Reply(text, outcome, notice=str(text))

    def _vote_text(self, language: str, idea_id: int, result: VoteResult) -> Markup:
        if result.status == VoteStatus.BANNED:
            return t("moderation.you_are_banned", language)
        if result.status == VoteStatus.NOT_VOTABLE and result.merged_into is not None:
            return t("ideas.vote_merged", language, id=idea_id, target=result.merged_into)
        status = self._status_label(language, result.idea_status) if result.idea_status else ""
        return t(f"ideas.vote_{result.status.value}", language, id=idea_id, votes=result.votes, status=status)

    # showing ------------------------------------------------------------------------------------

    async def show(self, user: UserRef, space: SpaceRef, idea_id: int) -> Reply:
        """One idea of this space with its votes, status, author, what it builds on and what builds on it."""
        ctx = await self.engine.context(user, space)
        idea = await self.queries.idea(idea_id)
        if idea is None or idea.space_id != ctx.space_id:
            return Reply(t("ideas.not_found", ctx.language, id=idea_id), Outcome.REFUSED)
        return await self._show(ctx, idea)

    async def _show(self, ctx: Context, idea: IdeaRecord) -> Reply:
        if idea.status in _UNSEEN and not await self._may_see_unlisted(ctx, idea):
            return Reply(t("ideas.not_found", ctx.language, id=idea.id), Outcome.REFUSED)
        return await self._page(ctx, idea)

    async def _may_see_unlisted(self, ctx: Context, idea: IdeaRecord) -> bool:
        """A pending idea shows to its author and moderators; a hidden one to moderators only."""
        own_pending = idea.status == IdeaStatus.PENDING and idea.author_id == ctx.user_id
        return own_pending or await self.engine.is_moderator(ctx)

    async def _page(
        self,
        ctx: Context,
        idea: IdeaRecord,
        *,
        headline: Markup | None = None,
        outcome: Outcome = Outcome.INFO,
    ) -> Reply:
        language = ctx.language
        codec = self.engine.codec
        lines = [headline] if headline else []
        if idea.category:
            lines.append(t("ideas.page_title_category", language, id=idea.id, category=idea.category))
        else:
            lines.append(t("ideas.page_title", language, id=idea.id))
        lines += [Markup(escape(line)) for line in idea.text.splitlines()]  # the author's lines; no tag on them
        status = self._status_label(language, idea.status)
        lines.append(t("ideas.page_meta", language, author=idea.author_name or "?", votes=idea.votes, status=status))
        if idea.status_note:
            lines.append(t("ideas.page_note", language, note=idea.status_note))
        related: list[int] = []
        if idea.merged_into is not None:
            lines.append(t("ideas.page_merged", language, target=idea.merged_into))
            related.append(idea.merged_into)
        parent = await self.queries.idea(idea.parent_id) if idea.parent_id is not None else None
        if parent is not None and parent.status not in _UNSEEN:
            lines.append(t("ideas.page_parent", language, id=parent.id, text=snippet(parent.text, PAGE_SNIPPET)))
            related.append(parent.id)
        children = await self.queries.children(idea.id, CHILDREN_SHOWN)
        if children:
            lines.append(t("ideas.page_children", language))
            lines += [self._line(language, child, PAGE_SNIPPET) for child in children]
            related += [child.id for child in children]
        if idea.status in LISTED:
            candidates = [other for other in await self.queries.listed(idea.space_id) if other.id not in related]
            similar = similar_ideas(idea.text, candidates, self.settings.similarity_threshold, exclude=idea.id)
            if similar:
                lines.append(t("ideas.page_similar", language))
                lines += [self._line(language, other, PAGE_SNIPPET) for other in similar]
                related += [other.id for other in similar]
        buttons: list[tuple[Button, ...]] = []
        if idea.status in LISTED:
            buttons.append(
                (
                    Button(str(t("ideas.upvote", language, votes=idea.votes)), codec.pack("v", idea.id)),
                    Button(str(t("ideas.retract", language)), codec.pack("u", idea.id)),
                )
            )
        buttons += self._open_buttons(related)
        return Reply(Markup("\n".join(lines)), outcome, buttons=tuple(buttons))

    def _open_buttons(self, idea_ids: Sequence[int]) -> list[tuple[Button, ...]]:
        """Rows of "#12" buttons that open those ideas' pages."""
        buttons = [Button(f"#{idea_id}", self.engine.codec.pack("i", idea_id)) for idea_id in idea_ids]
        return [tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW)]

    def _line(self, language: str, idea: IdeaRecord, limit: int = LIST_SNIPPET) -> Markup:
        text = snippet(idea.text, limit)
        if idea.status == IdeaStatus.NEW:
            return t("ideas.line", language, id=idea.id, votes=idea.votes, text=text)
        status = self._status_label(language, idea.status)
        return t("ideas.line_status", language, id=idea.id, votes=idea.votes, text=text, status=status)

    @staticmethod
    def _status_label(language: str, status: IdeaStatus) -> Markup:
        return t(f"ideas.status.{status.value}", language)

    # browsing -----------------------------------------------------------------------------------

    async def browse(self, user: UserRef, space: SpaceRef, view: str = "top", page: int = 1) -> Reply:
        """A page of ideas here: ``top``, ``new``, ``trending``, ``launched`` or ``pending`` (moderators)."""
        return await self._browse(await self.engine.context(user, space), view, page)

    async def _browse(self, ctx: Context, view: str, page: int, *, edit: bool = False) -> Reply:
        if view == "pending":
            refusal = await self.engine.refuse_unless_moderator(ctx, "ideas pending")
            if refusal is not None:
                return refusal
        shown, total, page = await self._view_page(ctx.space_id, view, page)
        language = ctx.language
        if not shown:
            return Reply(t(f"ideas.empty.{view}", language), edit=edit)
        pages = _pages(total, self.settings.page_size)
        lines = [t("ideas.list_title", language, view=t(f"ideas.view.{view}", language), page=page, pages=pages)]
        for idea in shown:
            lines.append(self._line(language, idea))
            if view == "launched" and idea.status_note:
                lines.append(t("ideas.line_note", language, note=snippet(idea.status_note, LIST_SNIPPET)))
        buttons = self._open_buttons([idea.id for idea in shown])
        turns = []
        if page > 1:
            turns.append(Button("◀", self.engine.codec.pack("p", view, page - 1)))
        if page < pages:
            turns.append(Button("▶", self.engine.codec.pack("p", view, page + 1)))
        if turns:
            buttons.append(tuple(turns))
        return Reply(Markup("\n".join(lines)), buttons=tuple(buttons), edit=edit)

    async def _view_page(self, space_id: int, view: str, page: int) -> tuple[list[IdeaRecord], int, int]:
        """The ideas on ``page`` of ``view``, the view's total, and the page shown (clamped to the last)."""
        size = self.settings.page_size
        page = max(page, 1)
        if view == "trending":
            ranked = trending(await self.queries.listed(space_id), self.engine.clock())
            page = min(page, _pages(len(ranked), size))
            return ranked[(page - 1) * size : page * size], len(ranked), page
        shown, total = await self.queries.page(space_id, view, (page - 1) * size, size)
        if not shown and total:  # past the end: ideas were hidden or merged since the buttons were made
            page = _pages(total, size)
            shown, total = await self.queries.page(space_id, view, (page - 1) * size, size)
        return shown, total, page

    # moderating ---------------------------------------------------------------------------------

    async def set_status(
        self,
        user: UserRef,
        space: SpaceRef,
        idea_id: int,
        status: IdeaStatus,
        note: str = "",
        *,
        merged_into: int | None = None,
    ) -> Reply:
        """Moderators: move an idea to ``status`` with a note (or merge it into ``merged_into``).

        Audited; the author and every voter are told once per status through the outbox; accepted and
        launched pay the author their bonus once.
        """
        ctx = await self.engine.context(user, space)
        refusal = await self.engine.refuse_unless_moderator(ctx, "status")
        return refusal or await self._set_status(ctx, idea_id, status, note, merged_into)

    async def _set_status(
        self, ctx: Context, idea_id: int, status: IdeaStatus, note: str, merged_into: int | None
    ) -> Reply:
        note = clean_text(note)
        if len(note) > NOTE_MAX_LENGTH:
            return Reply(t("ideas.note_too_long", ctx.language, length=len(note), max=NOTE_MAX_LENGTH), Outcome.REFUSED)
        if (status == IdeaStatus.MERGED) != (merged_into is not None) or status not in SETTABLE:
            return self._status_usage(ctx)
        kind = "merged" if status == IdeaStatus.MERGED else "status"
        return await self._change(
            ctx,
            idea_id,
            status,
            "status",
            note=note,
            merged_into=merged_into,
            notices=(f"ideas.notify.{kind}_author", f"ideas.notify.{kind}_voter"),
        )

    async def approve(self, user: UserRef, space: SpaceRef, idea_id: int) -> Reply:
        """Moderators: let a pending idea be seen (with the moderation queue on); its author is told."""
        ctx = await self.engine.context(user, space)
        refusal = await self.engine.refuse_unless_moderator(ctx, "approve")
        return refusal or await self._change(
            ctx,
            idea_id,
            IdeaStatus.NEW,
            "approve",
            only_from=IdeaStatus.PENDING,
            notices=("ideas.notify.approved", "ideas.notify.approved"),
        )

    async def hide(self, user: UserRef, space: SpaceRef, idea_id: int) -> Reply:
        """Moderators: take an idea out of listings and suggestions (spam, abuse). Nobody is told."""
        ctx = await self.engine.context(user, space)
        refusal = await self.engine.refuse_unless_moderator(ctx, "hide")
        return refusal or await self._change(ctx, idea_id, IdeaStatus.HIDDEN, "hide")

    async def _change(
        self,
        ctx: Context,
        idea_id: int,
        status: IdeaStatus,
        action: str,
        *,
        note: str = "",
        merged_into: int | None = None,
        only_from: IdeaStatus | None = None,
        notices: tuple[str, str] | None = None,
    ) -> Reply:
        language = ctx.language
        idea = await self.queries.idea(idea_id)
        if idea is None or idea.space_id != ctx.space_id:
            return Reply(t("ideas.not_found", language, id=idea_id), Outcome.REFUSED)
        compose = self._composer(idea, status, note, merged_into, notices) if notices else None
        change = StatusChange(idea_id, ctx.space_id, ctx.user_id, status, action, note, merged_into, only_from, compose)
        result = await self.queries.change_status(change, self.points, self.engine.clock())
        log.info(
            "action=idea_%s idea=%s status=%s moderator=%s outcome=%s",
            action,
            idea_id,
            status,
            ctx.user_id,
            result.outcome,
        )
        label = self._status_label(language, status)
        if result.outcome == ChangeOutcome.UNCHANGED:
            return Reply(t("ideas.status_unchanged", language, id=idea_id, status=label), Outcome.ALREADY_DONE)
        if result.outcome != ChangeOutcome.CHANGED:
            target = result.merged_into or merged_into or ""
            return Reply(t(_REFUSALS[result.outcome], language, id=idea_id, target=target), Outcome.REFUSED)
        done = _DONE.get(action) or ("ideas.merged" if merged_into is not None else "ideas.changed")
        return Reply(
            t(done, language, id=idea_id, status=label, target=merged_into or "", votes=result.votes),
            Outcome.DONE,
        )

    def _composer(
        self,
        idea: IdeaRecord,
        status: IdeaStatus,
        note: str,
        merged_into: int | None,
        notices: tuple[str, str],
    ) -> Compose:
        """The private message each recipient of a status change gets, in their own language."""

        def compose(recipient: Recipient) -> dict[str, Any]:
            language = pick_language(recipient.language, self.engine.settings.default_language)
            key = notices[0] if recipient.is_author else notices[1]
            lines = [
                t(
                    key,
                    language,
                    id=idea.id,
                    text=snippet(idea.text, LIST_SNIPPET),
                    target=merged_into or "",
                    status=self._status_label(language, status),
                )
            ]
            if note:
                lines.append(t("ideas.page_note", language, note=note))
            return reply_payload(Reply(Markup("\n".join(lines)), private=True))

        return compose

    def _status_usage(self, ctx: Context) -> Reply:
        statuses = ", ".join(status.value for status in SETTABLE)
        return Reply(t("ideas.status_usage", ctx.language, statuses=statuses), Outcome.REFUSED)

    # commands and buttons -----------------------------------------------------------------------

    async def idea_command(self, user: UserRef, space: SpaceRef, argument: str, update_key: str | None) -> Reply:
        """``/idea`` (how to, and the open topic), ``/idea 12`` (show), ``/idea [+12] [#category] text``."""
        shown = parse_idea_id(argument.strip())
        if shown is not None:
            return await self.show(user, space, shown)
        match = _SUBMISSION.fullmatch(argument.strip())
        assert match is not None  # every part is optional
        if not match["text"]:
            return await self.usage(user, space)
        parent_id = parse_idea_id(match["parent"]) if match["parent"] else None
        return await self.submit_idea(
            user, space, match["text"], category=match["category"], parent_id=parent_id, update_key=update_key
        )

    async def usage(self, user: UserRef, space: SpaceRef) -> Reply:
        """How to share an idea, with what the open ideas round asks and the categories to pick from."""
        ctx = await self.engine.context(user, space)
        invitation = await self._invitation(ctx.space_id)
        lines = []
        if invitation.topic is not None:
            topic = invitation.topic
            lines.append(
                t(
                    "ideas.topic",
                    ctx.language,
                    title=text_in(topic.title, ctx.language),
                    prompt=text_in(topic.prompt, ctx.language),
                )
            )
        lines.append(t("ideas.usage", ctx.language))
        if invitation.categories:
            names = ", ".join(f"#{name}" for name in invitation.categories)
            lines.append(t("ideas.categories", ctx.language, categories=names))
        return Reply(Markup("\n".join(lines)))

    async def browse_command(self, user: UserRef, space: SpaceRef, argument: str) -> Reply:
        """``/ideas [top|new|trending|launched|pending] [page]``."""
        view, page = "top", 1
        for word in argument.lower().split():
            if word in VIEWS:
                view = word
            elif word.isdecimal():
                page = int(word) if len(word) <= _MAX_ID_DIGITS // 2 else 10**9  # past the end: the last page
            else:
                ctx = await self.engine.context(user, space)
                return Reply(t("ideas.browse_usage", ctx.language), Outcome.REFUSED)
        return await self.browse(user, space, view, page)

    async def status_command(self, user: UserRef, space: SpaceRef, argument: str) -> Reply:
        """``/status <id> <status> [note]`` or ``/status <id> merged <target id>``."""
        ctx = await self.engine.context(user, space)
        refusal = await self.engine.refuse_unless_moderator(ctx, "status")
        if refusal is not None:
            return refusal
        words = argument.split(maxsplit=2)
        idea_id = parse_idea_id(words[0]) if words else None
        name = words[1].lower().replace("-", "_") if len(words) > 1 else ""
        rest = words[2] if len(words) > 2 else ""
        if idea_id is None or name not in {status.value for status in SETTABLE}:
            return self._status_usage(ctx)
        status = IdeaStatus(name)
        if status == IdeaStatus.MERGED:
            target = parse_idea_id(rest.strip())
            if target is None:
                return self._status_usage(ctx)
            return await self._set_status(ctx, idea_id, status, "", target)
        return await self._set_status(ctx, idea_id, status, rest, None)

    async def moderate_command(self, user: UserRef, space: SpaceRef, argument: str, action: str) -> Reply:
        """``/approve <id>`` and ``/hide <id>``."""
        idea_id = parse_idea_id(argument.strip())
        if idea_id is None:
            ctx = await self.engine.context(user, space)
            refusal = await self.engine.refuse_unless_moderator(ctx, action)
            return refusal or Reply(t("ideas.moderate_usage", ctx.language, command=action), Outcome.REFUSED)
        return await (self.approve if action == "approve" else self.hide)(user, space, idea_id)

    async def act(self, ctx: Context, action: Action) -> Reply:
        """A tapped idea button; every token is re-checked against the store.

        Verbs: ``v.<idea>`` upvote, ``u.<idea>`` retract, ``i.<idea>`` idea page, ``p.<view>.<page>``
        listing page, ``d.<draft>`` submit a held-back draft anyway.
        """
        if action.verb == "p":
            view = action.fields[0] if action.fields else ""
            page = action.int_field(1)
            if view not in VIEWS or page is None:
                return self.engine._stale(ctx)
            return await self._browse(ctx, view, page, edit=True)
        number = action.int_field(0)
        if number is None:
            return self.engine._stale(ctx)
        if action.verb in ("v", "u"):
            return await self._vote(ctx, number, up=action.verb == "v")
        if action.verb == "d":
            return await self._submit_draft(ctx, number)
        idea = await self.queries.idea(number)
        if idea is None:
            return Reply(t("ideas.not_found", ctx.language, id=number), Outcome.REFUSED)
        return await self._show(ctx, idea)


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))
