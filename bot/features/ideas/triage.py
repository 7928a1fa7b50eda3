"""The team's own work on ideas: tags, an assignee, internal notes, a merge's preview, bulk status changes.

Moderators sort what members proposed (Canny's and Fider's back office, in the team's web dashboard).
Tags, assignees and notes are the team's: no member is told or shown them, but each change is audited
with the teammate who made it. A bulk status change is the chat's ``/status`` on several ideas in one
transaction (all of them or none), each idea's author and voters told as ``/status`` tells them; a merge
is ``/status <id> merged <target>``, and its preview counts the voters the target would keep.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.context import Context, Services
from bot.features.ideas.use_cases import Ideas
from bot.features.ideas.views import status_label
from bot.features.moderation import Moderation
from bot.identity import UserRef
from bot.replies import Outcome, Reply
from bot.store.records import LISTED, ChangeOutcome, IdeaRecord, IdeaStatus, TriageOutcome
from bot.texts import Markup, clean_text, t

log = logging.getLogger(__name__)

TAG_MAX_LENGTH = 32  # also a CHECK in migration 0014
NOTE_MAX_LENGTH = 10_000  # also a CHECK in migration 0014
BULK_MAX = 100  # ideas one bulk change may name: a page of the dashboard's table is 50


class IdeaTriage:
    """Tags, assignees, notes, merge previews and bulk status changes; moderators only, each audited."""

    def __init__(self, services: Services, moderation: Moderation, ideas: Ideas) -> None:
        self.services = services
        self.moderation = moderation
        self.ideas = ideas
        self.queries = services.store.idea_board

    async def tag(self, ctx: Context, idea_id: int, tag: str, *, remove: bool = False) -> Reply:
        """Put a tag (at most :data:`TAG_MAX_LENGTH` characters, a leading ``#`` dropped) on an idea, or
        take it off (``remove``)."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "untag" if remove else "tag")
        if refusal is not None:
            return refusal
        tag = " ".join(clean_text(tag).lstrip("#").split())
        if not 1 <= len(tag) <= TAG_MAX_LENGTH:
            return Reply(t("triage.tag_length", ctx.language, max=TAG_MAX_LENGTH), Outcome.REFUSED)
        outcome = await self.queries.tag(idea_id, ctx.space_id, ctx.user_id, tag, not remove, self.services.clock())
        log.info(
            "action=idea_%s idea=%s moderator=%s outcome=%s",
            "untag" if remove else "tag",
            idea_id,
            ctx.user_id,
            outcome,
        )
        key = "triage.untagged" if remove else "triage.tagged"
        unchanged = "triage.not_tagged" if remove else "triage.already_tagged"
        return self._reply(ctx, outcome, idea_id, key, unchanged, tag=tag)

    async def assign(self, ctx: Context, idea_id: int, teammate: UserRef | None) -> Reply:
        """Give an idea to a teammate (someone who moderates this community), or to nobody (``None``)."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "assign")
        if refusal is not None:
            return refusal
        assignee_id = None
        if teammate is not None:
            if not await self.moderation.moderates(teammate, ctx.space):
                return Reply(t("triage.not_teammate", ctx.language, name=teammate.display_name), Outcome.REFUSED)
            members = self.services.store.members
            # an account already known keeps its name (the form names only the account); a dashboard
            # teammate who never acted yet gets their row now
            assignee_id = await members.find_user(teammate.platform, teammate.platform_user_id)
            if assignee_id is None:
                assignee_id = await members.ensure_user(
                    teammate.platform, teammate.platform_user_id, teammate.display_name, None, self.services.clock()
                )
        outcome = await self.queries.assign(idea_id, ctx.space_id, ctx.user_id, assignee_id, self.services.clock())
        log.info(
            "action=idea_assign idea=%s moderator=%s assignee=%s outcome=%s", idea_id, ctx.user_id, assignee_id, outcome
        )
        if teammate is None:
            return self._reply(ctx, outcome, idea_id, "triage.unassigned", "triage.unassigned")
        name = teammate.display_name
        return self._reply(ctx, outcome, idea_id, "triage.assigned", "triage.already_assigned", name=name)

    async def note(self, ctx: Context, idea_id: int, text: str) -> Reply:
        """Add an internal note to an idea: the team reads it on the dashboard; members never see it."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "note")
        if refusal is not None:
            return refusal
        text = clean_text(text)
        if not text:
            return Reply(t("triage.note_empty", ctx.language), Outcome.REFUSED)
        if len(text) > NOTE_MAX_LENGTH:
            return Reply(
                t("triage.note_too_long", ctx.language, length=len(text), max=NOTE_MAX_LENGTH), Outcome.REFUSED
            )
        outcome = await self.queries.add_note(idea_id, ctx.space_id, ctx.user_id, text, self.services.clock())
        log.info("action=idea_note idea=%s moderator=%s outcome=%s", idea_id, ctx.user_id, outcome)
        return self._reply(ctx, outcome, idea_id, "triage.noted", "triage.noted")

    async def merge_preview(self, ctx: Context, idea_id: int, target_id: int) -> Reply:
        """What merging ``idea_id`` into ``target_id`` would do, before the moderator confirms it: the
        votes of each and the distinct voters the target keeps. A merge that would be refused is refused
        here with the same words (:meth:`Ideas.set_status` decides)."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, "status")
        if refusal is None:
            refusal = await self.ideas.merge_refusal(ctx, idea_id, target_id)
        if refusal is not None:
            return refusal
        language = ctx.language
        idea, target = await self._idea(ctx, idea_id), await self._idea(ctx, target_id)
        if idea is None:
            return Reply(t("ideas.not_found", language, id=idea_id), Outcome.REFUSED)
        if idea.status == IdeaStatus.MERGED:
            return Reply(t("ideas.already_merged", language, id=idea_id, target=idea.merged_into), Outcome.REFUSED)
        if target is None or target.status not in LISTED:
            return Reply(t("ideas.bad_target", language, id=idea_id, target=target_id), Outcome.REFUSED)
        preview = await self.queries.merge_preview(idea_id, target_id)
        text = t(
            "triage.merge_preview",
            language,
            id=idea_id,
            target=target_id,
            votes=preview.source_votes,
            target_votes=preview.target_votes,
            kept=preview.kept,
        )
        return Reply(text, Outcome.INFO)

    async def bulk_status(self, ctx: Context, idea_ids: Sequence[int], status: IdeaStatus, note: str = "") -> Reply:
        """Move several ideas to one status with one note, in one transaction; each idea's author and voters
        are told as :meth:`Ideas.set_status` tells them (merging is one idea at a time)."""
        note = clean_text(note)
        refusal = await self.ideas.status_refusal(ctx, status, note)
        if refusal is None and status == IdeaStatus.MERGED:
            refusal = self.ideas.status_usage(ctx)
        if refusal is not None:
            return refusal
        wanted = list(dict.fromkeys(idea_ids))
        if not wanted:
            return Reply(t("triage.bulk_none", ctx.language), Outcome.REFUSED)
        if len(wanted) > BULK_MAX:
            return Reply(t("triage.bulk_too_many", ctx.language, max=BULK_MAX), Outcome.REFUSED)
        found = [idea for idea in [await self._idea(ctx, idea_id) for idea_id in wanted] if idea is not None]
        changes = [self.ideas.status_change(ctx, idea, status, note) for idea in found]
        results = await self.ideas.queries.change_many(changes, self.ideas.points, self.services.clock())
        by_outcome: dict[ChangeOutcome, list[int]] = {}
        for idea, result in zip(found, results, strict=True):
            by_outcome.setdefault(result.outcome, []).append(idea.id)
        missing = [idea_id for idea_id in wanted if idea_id not in {idea.id for idea in found}]
        log.info(
            "action=idea_bulk_status status=%s moderator=%s outcomes=%s missing=%s",
            status,
            ctx.user_id,
            {outcome.value: ids for outcome, ids in by_outcome.items()},
            missing,
        )
        return self._bulk_reply(ctx, status, by_outcome, missing)

    def _bulk_reply(
        self, ctx: Context, status: IdeaStatus, by_outcome: dict[ChangeOutcome, list[int]], missing: list[int]
    ) -> Reply:
        language = ctx.language
        changed = by_outcome.pop(ChangeOutcome.CHANGED, [])
        unchanged = by_outcome.pop(ChangeOutcome.UNCHANGED, [])
        refused = sorted([*missing, *(idea_id for ids in by_outcome.values() for idea_id in ids)])
        label = status_label(language, status)
        lines = [t("triage.bulk_done", language, count=len(changed), status=label)]
        if unchanged:
            lines.append(t("triage.bulk_unchanged", language, ids=_ids(unchanged)))
        if refused:
            lines.append(t("triage.bulk_refused", language, ids=_ids(refused)))
        return Reply(Markup("\n".join(lines)), Outcome.DONE if changed else Outcome.REFUSED)

    async def _idea(self, ctx: Context, idea_id: int) -> IdeaRecord | None:
        """The idea, when it is this community's (another community's idea is as good as missing)."""
        idea = await self.ideas.queries.idea(idea_id)
        return idea if idea is not None and idea.space_id == ctx.space_id else None

    def _reply(
        self, ctx: Context, outcome: TriageOutcome, idea_id: int, done: str, unchanged: str, **values: object
    ) -> Reply:
        if outcome == TriageOutcome.NOT_FOUND:
            return Reply(t("ideas.not_found", ctx.language, id=idea_id), Outcome.REFUSED)
        if outcome == TriageOutcome.UNCHANGED:
            return Reply(t(unchanged, ctx.language, id=idea_id, **values), Outcome.ALREADY_DONE)
        return Reply(t(done, ctx.language, id=idea_id, **values), Outcome.DONE)


def _ids(idea_ids: Sequence[int]) -> str:
    return ", ".join(f"#{idea_id}" for idea_id in idea_ids)
