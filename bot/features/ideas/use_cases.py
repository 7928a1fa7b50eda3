"""Ideas: members propose, upvote and build on each other's ideas; moderators say what became of them.

My Starbucks Idea, Canny or Fider, native to chat. Before an idea is stored it is compared with the
listed ideas of its space (:mod:`bot.features.ideas.similarity`), and the member is offered to upvote a
close one instead, or to submit anyway. A status change tells the author and every voter once, through
the outbox.

**Points.** The author earns ``points_per_upvote`` per upvote up to ``upvote_points_cap`` per idea, and
``accepted_bonus`` / ``launched_bonus`` once per idea; a retraction takes its points back with a new
ledger entry (see :mod:`bot.store.ideas_sql`). When an idea is launched, its earliest supporters (the
first ``early_supporters`` voters whose upvote still stands) get ``early_supporter_bonus`` each, once
per idea, and their message says what changed and what it paid: "you said, we did".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.actions import Action, Verb
from bot.catalog import Topic, text_in
from bot.context import Context, Services, stale
from bot.features.ideas.similarity import similar_ideas, snippet
from bot.features.ideas.views import LIST_SNIPPET, UNSEEN, VIEWS, IdeaViews, status_label
from bot.features.moderation import Moderation
from bot.outbox.payloads import reply_payload
from bot.ratelimit import RateLimiter
from bot.replies import Outcome, Reply
from bot.store.records import (
    ChangeOutcome,
    Compose,
    IdeaPoints,
    IdeaRecord,
    IdeaStatus,
    NewIdea,
    Proposal,
    Recipient,
    RoundRecord,
    StatusChange,
    VoteResult,
    VoteStatus,
)
from bot.texts import Markup, clean_text, pick_language, t

log = logging.getLogger(__name__)

SETTABLE = (
    IdeaStatus.NEW,
    IdeaStatus.UNDER_REVIEW,
    IdeaStatus.ACCEPTED,
    IdeaStatus.LAUNCHED,
    IdeaStatus.DECLINED,
    IdeaStatus.MERGED,
)
NOTE_MAX_LENGTH = 300
_REFUSALS = {
    ChangeOutcome.NOT_FOUND: "ideas.not_found",
    ChangeOutcome.ALREADY_MERGED: "ideas.already_merged",
    ChangeOutcome.NOT_PENDING: "ideas.not_pending",
    ChangeOutcome.BAD_TARGET: "ideas.bad_target",
}
_DONE = {"approve": "ideas.approved", "hide": "ideas.hidden"}
# The "best" view: a page of ideas ranked by the pairs members judged (bot.features.pairs.ranking)
BestView = Callable[[Context, int], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class _Invitation:
    """What a space asks ideas about now: its open ideas round, that round's topic, the categories."""

    round: RoundRecord | None
    topic: Topic | None
    categories: tuple[str, ...]


class Ideas:
    """The ideas use cases."""

    verbs = frozenset({Verb.UPVOTE, Verb.RETRACT, Verb.IDEA_PAGE, Verb.IDEA_LIST, Verb.SUBMIT_DRAFT})

    def __init__(self, services: Services, moderation: Moderation, best: BestView) -> None:
        self.services = services
        self.moderation = moderation
        self.best = best
        self.settings = services.settings.ideas
        self.queries = services.store.ideas
        self.views = IdeaViews(services, self.queries)
        limits = services.settings.limits
        self.submissions = RateLimiter(
            limits.ideas_per_hour / 3600, limits.ideas_per_hour, max_keys=limits.tracked_members
        )
        self.points = IdeaPoints(
            rules=services.rules,
            per_upvote=self.settings.points_per_upvote,
            upvote_cap=self.settings.upvote_points_cap,
            bonuses={
                IdeaStatus.ACCEPTED: self.settings.accepted_bonus,
                IdeaStatus.LAUNCHED: self.settings.launched_bonus,
            },
            early_supporters=self.settings.early_supporters,
            supporter_bonus=self.settings.early_supporter_bonus,
        )

    # submitting ---------------------------------------------------------------------------------

    async def submit(
        self,
        ctx: Context,
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
        key = f"idea:{update_key}" if update_key is not None else None
        if key is not None and (existing := await self.queries.processed(key)) is not None:
            return self._already_saved(ctx, existing)  # a redelivery is answered, not counted as a new try
        if not self.submissions.allow(ctx.user_id):
            limit = self.services.settings.limits.ideas_per_hour
            return Reply(t("ideas.too_many", ctx.language, limit=limit), Outcome.REFUSED)
        proposal = Proposal(ctx.user_id, ctx.space_id, text, category, parent_id, ctx.here)
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
        now = self.services.clock()
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
                return self.views.similar_prompt(ctx, similar, draft)
        status = IdeaStatus.PENDING if self.settings.moderation_queue else IdeaStatus.NEW
        round_id = invitation.round.id if invitation.round else None
        submitted = await self.queries.add(
            NewIdea(checked, round_id, status, update_key, draft_id), self.services.rules, now
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
        return await self.views.page(ctx, idea, headline=headline, outcome=Outcome.DONE)

    async def _check(self, ctx: Context, proposal: Proposal, invitation: _Invitation) -> Proposal | Reply:
        """The proposal cleaned, with its category's canonical name and a live parent; else the refusal."""
        language = ctx.language
        if await self.services.store.members.is_banned(proposal.space_id, ctx.user_id):
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
            if parent is None or parent.space_id != proposal.space_id or parent.status in UNSEEN:
                return Reply(t("ideas.not_found", language, id=parent_id), Outcome.REFUSED)
            parent_id = parent.merged_into or parent.id  # building on a merged idea builds on its target
        return replace(proposal, text=text, category=category, parent_id=parent_id)

    async def _submit_draft(self, ctx: Context, draft_id: int) -> Reply:
        """Store a held-back draft ("Submit anyway"), once however often the button is tapped."""
        key = f"idea-draft:{draft_id}"
        draft = await self.queries.draft(draft_id)
        if draft is None:
            existing = await self.queries.processed(key)
            return self._already_saved(ctx, existing) if existing is not None else stale(ctx)
        if draft.user_id != ctx.user_id:
            return stale(ctx)
        return await self._submit(ctx, draft, update_key=key, force=True, draft_id=draft_id)

    async def categories(self, space_id: int) -> tuple[str, ...]:
        """The categories an idea may be filed under in a space now (settings plus the open topic's)."""
        return (await self._invitation(space_id)).categories

    async def _invitation(self, space_id: int) -> _Invitation:
        rounds = await self.services.store.rounds.open_in(space_id, "ideas")
        record = rounds[-1] if rounds else None
        topic = self.services.catalog.topic(record.subject) if record else None
        categories = dict.fromkeys([*self.settings.categories, *(topic.categories if topic else ())])
        return _Invitation(record, topic, tuple(categories))

    def _unknown_category(self, ctx: Context, category: str, categories: Sequence[str]) -> Reply:
        if not categories:
            return Reply(t("ideas.no_categories", ctx.language, category=category), Outcome.REFUSED)
        listed = ", ".join(f"#{name}" for name in categories)
        return Reply(t("ideas.unknown_category", ctx.language, category=category, categories=listed), Outcome.REFUSED)

    def _already_saved(self, ctx: Context, idea_id: int) -> Reply:
        text = t("ideas.already_saved", ctx.language, id=idea_id)
        return Reply(text, Outcome.ALREADY_DONE, notice=str(text))

    async def usage(self, ctx: Context) -> Reply:
        """How to share an idea, with what the open ideas round asks and the categories to pick from."""
        invitation = await self._invitation(ctx.space_id)
        lines = []
        if invitation.topic is not None:
            topic = invitation.topic
            title, prompt = text_in(topic.title, ctx.language), text_in(topic.prompt, ctx.language)
            lines.append(t("ideas.topic", ctx.language, title=title, prompt=prompt))
        lines.append(t("ideas.usage", ctx.language))
        if invitation.categories:
            names = ", ".join(f"#{name}" for name in invitation.categories)
            lines.append(t("ideas.categories", ctx.language, categories=names))
        return Reply(Markup("\n".join(lines)))

    # voting -------------------------------------------------------------------------------------

    async def vote(self, ctx: Context, idea_id: int, up: bool) -> Reply:
        """Upvote an idea (``up``) or take one's upvote back; one upvote per member per idea."""
        result = await self.queries.vote(idea_id, ctx.user_id, up, self.points, self.services.clock())
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
        status = status_label(language, result.idea_status) if result.idea_status else ""
        return t(f"ideas.vote_{result.status.value}", language, id=idea_id, votes=result.votes, status=status)

    # showing ------------------------------------------------------------------------------------

    async def show(self, ctx: Context, idea_id: int) -> Reply:
        """One idea of this space with its votes, status, author, what it builds on and what builds on it."""
        idea = await self.queries.idea(idea_id)
        if idea is None or idea.space_id != ctx.space_id:
            return Reply(t("ideas.not_found", ctx.language, id=idea_id), Outcome.REFUSED)
        return await self._show(ctx, idea)

    async def _show(self, ctx: Context, idea: IdeaRecord) -> Reply:
        if idea.status in UNSEEN and not await self._may_see_unlisted(ctx, idea):
            return Reply(t("ideas.not_found", ctx.language, id=idea.id), Outcome.REFUSED)
        return await self.views.page(ctx, idea)

    async def _may_see_unlisted(self, ctx: Context, idea: IdeaRecord) -> bool:
        """A pending idea shows to its author and moderators; a hidden one to moderators only."""
        own_pending = idea.status == IdeaStatus.PENDING and idea.author_id == ctx.user_id
        return own_pending or await self.moderation.is_moderator(ctx)

    async def browse(self, ctx: Context, view: str = "top", page: int = 1, *, edit: bool = False) -> Reply:
        """A page of ideas here: ``top``, ``new``, ``trending``, ``best`` (by pairs judged), ``launched`` or
        ``pending`` (moderators)."""
        if view == "best":
            best = await self.best(ctx, page)
            return replace(best, edit=edit)
        if view == "pending":
            refusal = await self.moderation.refuse_unless_moderator(ctx, "ideas pending")
            if refusal is not None:
                return refusal
        return await self.views.listing(ctx, view, page, edit=edit)

    # moderating ---------------------------------------------------------------------------------

    async def set_status(
        self, ctx: Context, idea_id: int, status: IdeaStatus, note: str = "", *, merged_into: int | None = None
    ) -> Reply:
        """Moderators: move an idea to ``status`` with a note (or merge it into ``merged_into``).

        Audited; the author and every voter are told once per status through the outbox; accepted and
        launched pay the author their bonus once, and launched pays the earliest supporters too.
        """
        note = clean_text(note)
        refusal = await self.status_refusal(ctx, status, note, merged_into)
        if refusal is None and merged_into is not None:
            refusal = await self.merge_refusal(ctx, idea_id, merged_into)
        if refusal is not None:
            return refusal
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

    async def status_refusal(
        self, ctx: Context, status: IdeaStatus, note: str, merged_into: int | None = None
    ) -> Reply | None:
        """Why a status change may not be made (not a moderator, a note too long, no such status), or ``None``."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "status")
        if refusal is not None:
            return refusal
        if len(note) > NOTE_MAX_LENGTH:
            return Reply(t("ideas.note_too_long", ctx.language, length=len(note), max=NOTE_MAX_LENGTH), Outcome.REFUSED)
        if (status == IdeaStatus.MERGED) != (merged_into is not None) or status not in SETTABLE:
            return self.status_usage(ctx)
        return None

    async def merge_refusal(self, ctx: Context, idea_id: int, target_id: int) -> Reply | None:
        """Why ``idea_id`` may not be merged into ``target_id`` in a way a moderator can act on, or ``None``:
        into itself, or into an idea already merged into it (the two would point at each other)."""
        if target_id == idea_id:
            return Reply(t("ideas.merge_self", ctx.language, id=idea_id), Outcome.REFUSED)
        target = await self.queries.idea(target_id)
        if target is not None and target.space_id == ctx.space_id and target.merged_into == idea_id:
            return Reply(t("ideas.merge_cycle", ctx.language, id=idea_id, target=target_id), Outcome.REFUSED)
        return None

    def status_change(self, ctx: Context, idea: IdeaRecord, status: IdeaStatus, note: str) -> StatusChange:
        """The change :meth:`set_status` makes to ``idea`` (audited as ``status``, its author and voters told),
        for a bulk change that makes several in one transaction."""
        notices = ("ideas.notify.status_author", "ideas.notify.status_voter")
        compose = self._composer(idea, status, note, None, notices)
        return StatusChange(idea.id, ctx.space_id, ctx.user_id, status, "status", note, None, None, compose)

    def status_usage(self, ctx: Context) -> Reply:
        statuses = ", ".join(status.value for status in SETTABLE)
        return Reply(t("ideas.status_usage", ctx.language, statuses=statuses), Outcome.REFUSED)

    async def approve(self, ctx: Context, idea_id: int) -> Reply:
        """Moderators: let a pending idea be seen (with the moderation queue on); its author is told."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "approve")
        return refusal or await self._change(
            ctx,
            idea_id,
            IdeaStatus.NEW,
            "approve",
            only_from=IdeaStatus.PENDING,
            notices=("ideas.notify.approved", "ideas.notify.approved"),
        )

    async def hide(self, ctx: Context, idea_id: int) -> Reply:
        """Moderators: take an idea out of listings and suggestions (spam, abuse). Nobody is told."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "hide")
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
        result = await self.queries.change_status(change, self.points, self.services.clock())
        log.info(
            "action=idea_%s idea=%s status=%s moderator=%s outcome=%s",
            action,
            idea_id,
            status,
            ctx.user_id,
            result.outcome,
        )
        label = status_label(language, status)
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
        default_language = self.services.settings.default_language

        def compose(recipient: Recipient) -> dict[str, Any]:
            language = pick_language(recipient.language, default_language)
            key = notices[0] if recipient.is_author else notices[1]
            if recipient.reward and not recipient.is_author:
                key = "ideas.notify.early_supporter"  # only a launch pays voters: the first ones
            lines = [
                t(
                    key,
                    language,
                    id=idea.id,
                    text=snippet(idea.text, LIST_SNIPPET),
                    target=merged_into or "",
                    status=status_label(language, status),
                )
            ]
            if note:
                lines.append(t("ideas.page_note", language, note=note))
            if recipient.reward:
                lines.append(t("ideas.notify.reward", language, points=recipient.reward))
            return reply_payload(Reply(Markup("\n".join(lines)), private=True))

        return compose

    # buttons ------------------------------------------------------------------------------------

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """A tapped idea button (upvote, retract, idea page, listing page, submit anyway); every token is
        re-checked against the store."""
        if action.verb == Verb.IDEA_LIST:
            view = action.fields[0] if action.fields else ""
            page = action.int_field(1)
            if view not in VIEWS or page is None:
                return stale(ctx)
            return await self.browse(ctx, view, page, edit=True)
        number = action.int_field(0)
        if number is None:
            return stale(ctx)
        if action.verb in (Verb.UPVOTE, Verb.RETRACT):
            return await self.vote(ctx, number, up=action.verb == Verb.UPVOTE)
        if action.verb == Verb.SUBMIT_DRAFT:
            return await self._submit_draft(ctx, number)
        idea = await self.queries.idea(number)
        if idea is None:
            return Reply(t("ideas.not_found", ctx.language, id=number), Outcome.REFUSED)
        return await self._show(ctx, idea)
