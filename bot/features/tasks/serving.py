"""Serving and answering micro-tasks: the next question for a member, and what a tap or typed text does.

The next task is the first one a member may answer in the open task rounds here (a named campaign
first, tasks in catalog order): not answered or skipped yet, quota not full, audience matching. One read
gathers what the choice needs (bans, answers and skips, quotas, the member's profile); after an answer,
the answer's own transaction brought it back, so the follow-up question costs no second read.

A skip is recorded (no answer, no points): the task is not asked again in that round, so a member who
skips some questions and answers the rest is all caught up. The progress line ("3/7") counts the tasks
this member sees: those answered or skipped, and those still meant for them (a follow-up counts once
the answer it follows makes it theirs; a task for other languages or with a full quota does not).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.actions import Action, Verb
from bot.catalog import Audienced, Campaign, Task, TaskKind, text_in
from bot.context import Context, Services, stale, storage_refusal
from bot.features.labelling.jobs import Held, Labelling
from bot.features.pairs.judging import Pairs
from bot.features.points import Points
from bot.features.rounds.cache import OpenRounds
from bot.features.tasks.kinds import (
    TEXT_KINDS,
    Accepted,
    NeedsText,
    Refused,
    answer_input,
    answer_keys,
    ask_other_text,
    parse_answer,
    parse_typed,
    render_task,
)
from bot.features.tasks.recorded import RecordedReplies
from bot.features.tasks.upcoming import Plan, Plans, Upcoming
from bot.features.themes.promotions import Promotions
from bot.identity import UserRef
from bot.point_rules import task_points
from bot.replies import Outcome, Reply, TextInput
from bot.store.database import StoreUnavailableError
from bot.store.records import AnswerStatus, Award, NewAnswer, RoundRecord, SkipStatus, TaskProgress
from bot.texts import Markup, t

log = logging.getLogger(__name__)

TASK_VIEW_CACHE = 4096


class Tasks:
    """The task use cases: welcome, next task, answers, skips, multi-choice toggles, typed text."""

    verbs = frozenset({Verb.ANSWER, Verb.SELECT, Verb.TEXT, Verb.TOGGLE, Verb.SKIP, Verb.ROUND_START, Verb.LABEL})

    def __init__(
        self,
        services: Services,
        open_rounds: OpenRounds,
        points: Points,
        labelling: Labelling,
        promotions: Promotions,
        pairs: Pairs,
    ) -> None:
        self.services = services
        self.open_rounds = open_rounds
        self.promotions = promotions  # each round serves its campaign with the options promoted before it
        self.points = points
        self.labelling = labelling
        self.pairs = pairs
        self._views: dict[tuple[int, int, str, int, int, int, int], Reply] = {}
        self._plans = Plans()
        self._recorded = RecordedReplies(services.settings.points.daily_cap, points)

    async def start(self, ctx: Context, campaign_id: str | None = None) -> Reply:
        """Greet the member, give the welcome bonus once, and hand out the first task.

        ``campaign_id`` comes from a deep link (``t.me/<bot>?start=coffee``): that campaign comes first.
        """
        services = self.services
        bonus = services.settings.points.welcome_bonus
        awarded = await services.store.points.award(
            Award(ctx.user_id, ctx.space_id, None, bonus, "welcome", "", f"welcome:{ctx.user_id}"),
            services.rules,
            services.clock(),
        )
        greeting = t("start.greeting", ctx.language, name=ctx.user.display_name or "👋")
        if awarded.points:
            greeting = Markup(f"{greeting}\n{t('start.welcome_bonus', ctx.language, points=awarded.points)}")
        known = campaign_id if campaign_id and services.catalog.campaign(campaign_id) else None
        return Reply(greeting, follow_up=await self.next_task(ctx, known))

    async def next_task(
        self,
        ctx: Context,
        campaign_id: str | None = None,
        after: tuple[RoundRecord, int] | None = None,
        upcoming: Upcoming | None = None,
        progress: TaskProgress | None = None,
    ) -> Reply:
        """The next task this member may answer here, or "all done".

        ``after`` = (round, index) is the task just answered: its round goes on after it, first, also when
        it is not this space's (see :meth:`_upcoming`). ``upcoming`` and ``progress``: the rounds offered
        and the member's progress through them, when the caller has both (an answer's unit read it).
        """
        store = self.services.store
        if upcoming is None or progress is None:
            upcoming = await self._upcoming(ctx, campaign_id, after[0] if after else None)
            progress = await store.tasks.progress(upcoming.query)
        if progress.banned:
            return Reply(t("moderation.you_are_banned", ctx.language), Outcome.REFUSED)
        held_back = False
        for record, campaign in upcoming.rounds:
            start = after[1] + 1 if after is not None and record.id == after[0].id else 0
            done = progress.done.get(record.id, set())
            visible = _visible(ctx, record, campaign, progress)
            for index in (i for i in visible if i >= start and campaign.tasks[i].id not in done):
                task = campaign.tasks[index]
                position = _position(visible, index)
                if task.is_job:
                    header = self._header(ctx, campaign, position)
                    served = await self.labelling.serve(ctx, record, campaign, index, task, header)
                    if isinstance(served, Held):
                        held_back |= served is Held.HELD_BACK
                        continue
                    reply = served
                elif task.kind == TaskKind.IDEA_PAIR:
                    pair = await self.pairs.serve(ctx, record, index, task, self._header(ctx, campaign, position))
                    if pair is None:  # no pair left for this member: the campaign goes on
                        continue
                    reply = pair
                else:
                    reply = self._show_task(ctx, record, campaign, index, task, position)
                if reply.text_input is not None:
                    await store.tasks.expect_input(
                        ctx.user_id, ctx.space_id, reply.text_input.action, record.id, task.id, self.services.clock()
                    )
                return Reply(t("label.none_for_you", ctx.language), follow_up=reply) if held_back else reply
        balance = await store.points.balance(ctx.user_id)
        done_text = t("task.all_done", ctx.language, points=balance)
        if held_back:  # said politely where a job's item would have been: never an accusation
            done_text = Markup(f"{t('label.none_for_you', ctx.language)}\n{done_text}")
        return Reply(done_text, follow_up=await self.pairs.offer(ctx))

    async def _upcoming(
        self, ctx: Context, campaign_id: str | None = None, current: RoundRecord | None = None
    ) -> Upcoming:
        """The open task rounds here with their campaigns, in the order they are offered, and the query
        that reads the member's progress through them (the space's :class:`Plan`, kept while the round
        and promotion caches hold the same lists).

        ``current`` is the round the member is answering in. It comes first when it is another space's:
        a Telegram group sends a member's questions to their private chat, where the taps arrive, and
        the member must go on with the group's round (a job's next item) rather than start the chat's own.
        """
        open_rounds = await self.open_rounds.of_space(ctx.space_id)
        promoted = await self.promotions.all()
        plan = self._plans.get(ctx.space_id, campaign_id, open_rounds, promoted)
        if plan is None:
            plan = Plan.of(await self._offered(open_rounds, campaign_id))
            self._plans.keep(ctx.space_id, campaign_id, open_rounds, promoted, plan)
        if current is not None and current.id not in plan.round_ids:
            campaign = await self.promotions.campaign(current)
            if campaign is not None:
                plan = Plan.of(((current, campaign), *plan.rounds))
        return plan.upcoming(ctx.space_id, ctx.user_id)

    async def _offered(
        self, open_rounds: list[RoundRecord], campaign_id: str | None
    ) -> list[tuple[RoundRecord, Campaign]]:
        """The open rounds with the campaigns they serve, in order: ``campaign_id``'s first."""
        campaign_of = self.promotions.campaign
        rounds = [(record, campaign) for record in open_rounds if (campaign := await campaign_of(record)) is not None]
        if campaign_id is not None:
            rounds.sort(key=lambda pair: pair[0].subject != campaign_id)
        return rounds

    def _show_task(
        self,
        ctx: Context,
        record: RoundRecord,
        campaign: Campaign,
        index: int,
        task: Task,
        position: tuple[int, int],
        mask: int = 0,
    ) -> Reply:
        """A task with its campaign and position ("Corner Café feedback · 3/7") above the prompt.

        The view is the same for every member who gets this task in this language at this position,
        and replies are immutable, so recent views are kept (bounded) instead of being rendered and
        signed again.
        """
        number, total = position
        key = (record.id, index, ctx.language, mask, number, total, len(task.promoted))
        cached = self._views.get(key)
        if cached is not None:
            return cached
        if len(self._views) >= TASK_VIEW_CACHE:
            self._views.clear()
        header = self._header(ctx, campaign, position)
        view = render_task(
            task,
            codec=self.services.codec,
            round_id=record.id,
            index=index,
            header=header,
            language=ctx.language,
            mask=mask,
        )
        self._views[key] = view
        return view

    @staticmethod
    def _header(ctx: Context, campaign: Campaign, position: tuple[int, int]) -> Markup:
        """The line above a question: the campaign and the position ("Corner Café feedback · 3/7")."""
        number, total = position
        return t(
            "task.header", ctx.language, campaign=text_in(campaign.title, ctx.language), number=number, total=total
        )

    # buttons and typed text ---------------------------------------------------------------------

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """A tapped answer, a select, typed text, a toggle, a skip or a round's Start button."""
        if action.verb == Verb.ROUND_START:
            return await self._round_start(ctx, action)
        if action.verb == Verb.SKIP:
            return await self._skip(ctx, action)
        resolved = await self._resolve(ctx, action)
        if isinstance(resolved, Reply):
            return resolved
        if action.verb == Verb.TOGGLE:
            return await self._toggle(ctx, action, *resolved)
        if action.verb == Verb.LABEL:
            return await self._label(ctx, action, text, *resolved)
        if resolved[3].is_job or resolved[3].kind == TaskKind.IDEA_PAIR:  # those carry label or pair tokens
            return stale(ctx)
        if action.verb == Verb.TEXT:
            return await self._typed(ctx, text, *resolved)
        return await self._answer(ctx, action, text, values, *resolved)

    async def _label(
        self,
        ctx: Context,
        action: Action,
        text: str | None,
        record: RoundRecord,
        campaign: Campaign,
        index: int,
        task: Task,
    ) -> Reply:
        """A label for a job's item; the job's next item (or the next question) follows it."""
        labelled = await self.labelling.label(ctx, action, text, record, campaign, task)
        if not labelled.next_question:
            return labelled.reply
        return replace(labelled.reply, follow_up=await self.next_task(ctx, after=(record, index - 1)))

    @staticmethod
    def _task_of(action: Action) -> tuple[int, int] | None:
        round_id, index = action.int_field(0), action.int_field(1)
        return None if round_id is None or index is None else (round_id, index)

    async def _resolve(self, ctx: Context, action: Action) -> tuple[RoundRecord, Campaign, int, Task] | Reply:
        ids = self._task_of(action)
        record = await self.open_rounds.round(ctx.space_id, ids[0]) if ids else None
        campaign = await self.promotions.campaign(record) if record else None
        if ids is None or record is None or campaign is None or ids[1] >= len(campaign.tasks):
            return stale(ctx)
        if not record.is_open:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        return record, campaign, ids[1], campaign.tasks[ids[1]]

    async def _answer(
        self,
        ctx: Context,
        action: Action,
        text: str | None,
        values: Sequence[str],
        record: RoundRecord,
        campaign: Campaign,
        index: int,
        task: Task,
    ) -> Reply:
        payload = action.fields[2] if len(action.fields) > 2 else ""
        parsed = parse_answer(task, payload, text, values, ctx.language)
        if isinstance(parsed, NeedsText):
            codec = self.services.codec
            other = ask_other_text(task, codec, record.id, index, ctx.language)
            other_token = codec.pack(Verb.ANSWER, record.id, index, 2)
            await self.services.store.tasks.expect_input(
                ctx.user_id, ctx.space_id, other_token, record.id, task.id, self.services.clock()
            )
            return other
        if isinstance(parsed, Refused):
            return Reply(t(parsed.key, ctx.language, **parsed.variables), Outcome.REFUSED)
        return await self._record(ctx, record, campaign, index, task, parsed)

    async def _typed(
        self, ctx: Context, text: str | None, record: RoundRecord, campaign: Campaign, index: int, task: Task
    ) -> Reply:
        if text is None:
            return ask_other_text(task, self.services.codec, record.id, index, ctx.language)
        parsed = parse_typed(task, text, ctx.language)
        if isinstance(parsed, Refused):
            return Reply(t(parsed.key, ctx.language, **parsed.variables), Outcome.REFUSED)
        assert isinstance(parsed, Accepted)
        return await self._record(ctx, record, campaign, index, task, parsed)

    async def _toggle(
        self, ctx: Context, action: Action, record: RoundRecord, campaign: Campaign, index: int, task: Task
    ) -> Reply:
        mask = action.int_field(2)
        if mask is None or mask >= 1 << len(task.options):
            return stale(ctx)
        query = Plan.of([(record, campaign)]).query(ctx.space_id, ctx.user_id)
        progress = await self.services.store.tasks.progress(query)
        position = _position(_visible(ctx, record, campaign, progress), index)
        view = self._show_task(ctx, record, campaign, index, task, position, mask)
        return Reply(view.text, Outcome.INFO, buttons=view.buttons, select=view.select, edit=True, notice="✓")

    async def _skip(self, ctx: Context, action: Action) -> Reply:
        """Record the skip, then the next task; a second tap on the same Skip only says it is done."""
        resolved = await self._resolve(ctx, action)
        if isinstance(resolved, Reply):
            return resolved
        record, _, _, task = resolved
        try:
            status = await self.services.store.tasks.skip(
                record.id, task.id, ctx.user_id, self.services.clock(), ctx.here
            )
        except StoreUnavailableError:
            return storage_refusal(ctx.language)
        log.info("action=skip task=%s round=%s user=%s outcome=%s", task.id, record.id, ctx.user_id, status)
        refusal = _refusal(ctx, status)
        if refusal is not None:
            return refusal
        skipped = t("task.skipped", ctx.language)
        if status == SkipStatus.ALREADY_SKIPPED:
            return Reply(skipped, Outcome.ALREADY_DONE, notice=str(skipped))
        follow_up = await self.next_task(ctx, after=(record, -1))  # the round from its start: the skip is done
        return Reply(skipped, Outcome.DONE, notice=str(skipped), follow_up=follow_up)

    async def _round_start(self, ctx: Context, action: Action) -> Reply:
        """The Start button of a round announcement: that round's next task for whoever tapped."""
        round_id = action.int_field(0)
        record = await self.services.store.rounds.round(round_id) if round_id is not None else None
        if record is None:
            return stale(ctx)
        if not record.is_open:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        return await self.next_task(ctx, record.subject)

    async def _record(
        self, ctx: Context, record: RoundRecord, campaign: Campaign, index: int, task: Task, parsed: Accepted
    ) -> Reply:
        services = self.services
        points = task_points(task, services.settings.points)
        if parsed.correct and not task.attention:  # a bonus would tell the member they passed a check
            points += services.settings.points.known_answer_bonus
        award = Award(ctx.user_id, record.space_id, record.id, points, "answer", task.id, "", capped=True)
        answer = NewAnswer(
            record.id, task.id, ctx.user_id, parsed.value, task.quota, award, task.kind in TEXT_KINDS, ctx.here
        )
        upcoming = await self._upcoming(ctx, current=record)
        try:
            result = await services.store.tasks.record_answer(answer, services.rules, services.clock(), upcoming.query)
        except StoreUnavailableError:
            return storage_refusal(ctx.language)
        log.info("action=answer task=%s round=%s user=%s outcome=%s", task.id, record.id, ctx.user_id, result.status)
        refusal = _refusal(ctx, result.status)
        if refusal is not None:
            return refusal
        if result.status == AnswerStatus.QUOTA_FULL:
            return Reply(
                t("answer.quota_full", ctx.language),
                Outcome.REFUSED,
                follow_up=await self.next_task(ctx, after=(record, index)),
            )
        follow_up = await self.next_task(ctx, after=(record, index), upcoming=upcoming, progress=result.progress)
        return self._recorded.reply(ctx.language, parsed.summary, result.awarded, follow_up)

    # what a platform asks before the member acts (reads only) -----------------------------------

    async def text_input(self, user: UserRef, token: str) -> TextInput | None:
        """The form a free-text token is typed in, as the question that carried it showed it.

        A platform that can keep little more than the token with its button (Discord: a custom_id of
        at most 100 characters) asks here when the member opens the form, so label, placeholder and
        limit survive a restart. In ``user``'s language; reads only (the round from the open rounds'
        cache when it is kept there): nothing is recorded and no rate limit is spent. ``None`` when the
        token is forged, not a free-text one, or names a round or task that is gone; submitting the text
        then gets the usual refusal.
        """
        action = self.services.codec.parse(token)
        if action is not None and action.verb == Verb.LABEL:
            return await self.labelling.text_input(action, self.services.language_of(user))
        ids = self._task_of(action) if action is not None and action.verb == Verb.TEXT else None
        if ids is None:
            return None
        round_id, index = ids
        record = self.open_rounds.open_round(round_id) or await self.services.store.rounds.round(round_id)
        campaign = await self.promotions.campaign(record) if record is not None else None
        if campaign is None or index >= len(campaign.tasks) or campaign.tasks[index].kind not in TEXT_KINDS:
            return None
        task = campaign.tasks[index]
        return answer_input(task, self.services.codec, round_id, index, self.services.language_of(user))


def _meant_for(ctx: Context, record: RoundRecord, task: Audienced, progress: TaskProgress) -> bool:
    """Whether the member may be asked ``task`` now: quota not full, their language, and (a follow-up)
    the answer it follows given."""
    if task.quota is not None and progress.counts.get(record.id, {}).get(task.task_id, 0) >= task.quota:
        return False
    if task.languages and ctx.language not in task.languages:
        return False
    earlier = task.earlier
    if earlier is None:
        return True
    value = progress.profile.get(earlier.id)
    return value is not None and not task.answers.isdisjoint(answer_keys(earlier, value))


def _visible(ctx: Context, record: RoundRecord, campaign: Campaign, progress: TaskProgress) -> list[int]:
    """Indices of the campaign's tasks this member sees: those for everyone, and of the others those
    they answered or skipped and those still meant for them (computed once per question shown: it is
    on every tap's path)."""
    done = progress.done.get(record.id, set())
    theirs = [
        task.index for task in campaign.audienced if task.task_id in done or _meant_for(ctx, record, task, progress)
    ]
    return sorted([*campaign.everyone_task_indices, *theirs]) if theirs else list(campaign.everyone_task_indices)


def _position(visible: list[int], index: int) -> tuple[int, int]:
    """(number, total) of the task at ``index`` among the ``visible`` ones (it counts even when it is not)."""
    seen = visible if index in visible else sorted([*visible, index])
    return seen.index(index) + 1, len(seen)


def _refusal(ctx: Context, status: AnswerStatus | SkipStatus) -> Reply | None:
    """The reply to an answer or a skip the store did not record, for the reasons both share."""
    if status in (AnswerStatus.ALREADY_ANSWERED, SkipStatus.ALREADY_ANSWERED):
        text = t("answer.already", ctx.language)
        return Reply(text, Outcome.ALREADY_DONE, notice=str(text))
    if status in (AnswerStatus.ROUND_CLOSED, SkipStatus.ROUND_CLOSED):
        return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
    if status in (AnswerStatus.BANNED, SkipStatus.BANNED):
        return Reply(t("moderation.you_are_banned", ctx.language), Outcome.REFUSED)
    return None
