"""Ideas judged in pairs, a "wiki survey": "Which would you rather see?", A, B or "Can't decide".

Upvotes reward the ideas seen first (a list sorted by votes shows the early ones to everyone); a pair
asks every member about ideas they may never have scrolled to, so a late, better idea catches up. A pair
is served like any task: a campaign includes an ``idea_pair`` task (the tasks feature asks :meth:`serve`
when the member reaches it, and the pairs go on until none is left or "Enough for now"), ``/judge``
asks one directly, and a member with nothing left to answer is offered one (:meth:`offer`).

A tap is re-checked whole in the judgement's unit (:mod:`bot.store.pairs_sql`): a token naming the same
idea twice, another space's idea or the member's own is refused as stale; an idea hidden, merged or
declined since the pair was shown is refused politely and nothing counts; a second tap on a pair counts
once. Points per judgement go through the ledger under the judgement's key. Scores: :mod:`.scoring`;
the choice of pairs: :mod:`.index`; ``/ideas best``: :mod:`.ranking`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from bot.actions import Action, Verb
from bot.catalog import Task, TaskKind, text_in
from bot.context import Context, Services, stale, storage_refusal
from bot.features.ideas.similarity import snippet
from bot.features.pairs.index import PairIndex
from bot.features.rounds.cache import OpenRounds
from bot.point_rules import task_points
from bot.replies import Button, Outcome, Reply, to_plain
from bot.store.database import StoreUnavailableError
from bot.store.records import Award, JudgeStatus, NewJudgement, RoundRecord
from bot.texts import Markup, t

log = logging.getLogger(__name__)

PICKS = ("a", "b", "x")  # the first idea shown, the second, "can't decide"
PAIR_SNIPPET = 200  # characters of each idea in a pair: both must be read to choose
NO_ROUND = 0  # the round field of a pair asked by /judge or offered after the last task

ContinueRound = Callable[[Context, RoundRecord, int], Awaitable[Reply]]


class Pairs:
    """Serving pairs of ideas, recording judgements, and each space's pool in memory."""

    verbs = frozenset({Verb.JUDGE})

    def __init__(self, services: Services, open_rounds: OpenRounds, continue_round: ContinueRound) -> None:
        """``continue_round(ctx, record, index)``: the member's next question in ``record`` from task
        ``index`` on (the tasks feature's), after a judgement made in a campaign."""
        self.services = services
        self.open_rounds = open_rounds
        self.continue_round = continue_round
        self._pools: dict[int, PairIndex] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._rng = random.Random()

    # the pool -----------------------------------------------------------------------------------

    async def pool(self, space_id: int, *, fresh_scores: bool = False) -> PairIndex:
        """The space's pool, brought up to date with the database (and fitted again when due, or when
        ``fresh_scores`` asks for scores that count every judgement)."""
        index, _ = await self._synced(space_id, fresh_scores)
        return index

    async def _synced(
        self, space_id: int, fresh_scores: bool = False, judge: int | None = None
    ) -> tuple[PairIndex, set[tuple[int, int]]]:
        """:meth:`pool`, and the pairs ``judge`` judged in the space, read in the same trip."""
        index = self._pools.setdefault(space_id, PairIndex())
        store = self.services.store.pairs
        async with self._locks.setdefault(space_id, asyncio.Lock()):
            changes = await store.changes(space_id, index.since(), index.judgements_from(), judge)
            index.apply_ideas(changes.ideas)
            index.apply_judgements(changes.judgements)
            if index.due or (fresh_scores and index.changed_since_fit):
                judgements = len(index.winners)
                index.adopt(await asyncio.to_thread(index.fit_listed), judgements)
        return index, changes.judged

    async def next_pair(self, ctx: Context, space_id: int) -> tuple[int, int] | None:
        """The pair to show the member next in a space, or ``None`` when none is left for them."""
        index, judged = await self._synced(space_id, judge=ctx.user_id)
        return index.choose(ctx.user_id, judged, self._rng)

    # serving ------------------------------------------------------------------------------------

    async def serve(self, ctx: Context, record: RoundRecord, index: int, task: Task, header: Markup) -> Reply | None:
        """A campaign's ``idea_pair`` task: the member's next pair under ``header``, or ``None`` when no
        pair is left for them (the campaign goes on)."""
        pair = await self.next_pair(ctx, record.space_id)
        if pair is None:
            return None
        prompt = t("task.prompt", ctx.language, header=header, prompt=text_in(task.prompt, ctx.language))
        enough = Button(str(t("pairs.enough", ctx.language)), self.services.codec.pack(Verb.SKIP, record.id, index))
        return await self._render(ctx, prompt, pair, record.id, index, (enough,))

    async def judge(self, ctx: Context) -> Reply:
        """``/judge``: a pair of this space's ideas, or why there is none."""
        if await self.services.store.members.is_banned(ctx.space_id, ctx.user_id):
            return Reply(t("moderation.you_are_banned", ctx.language), Outcome.REFUSED)
        pair = await self.next_pair(ctx, ctx.space_id)
        if pair is None:
            return Reply(t("pairs.none_left", ctx.language))
        return await self._render(ctx, t("pairs.prompt", ctx.language), pair, NO_ROUND, 0)

    async def offer(self, ctx: Context) -> Reply | None:
        """For a member with nothing left to answer: a pair to judge meanwhile, or ``None``."""
        pair = await self.next_pair(ctx, ctx.space_id)
        if pair is None:
            return None
        prompt = Markup(f"{t('pairs.meanwhile', ctx.language)}\n{t('pairs.prompt', ctx.language)}")
        return await self._render(ctx, prompt, pair, NO_ROUND, 0)

    async def _render(
        self,
        ctx: Context,
        prompt: Markup,
        pair: tuple[int, int],
        round_id: int,
        index: int,
        extra: tuple[Button, ...] = (),
    ) -> Reply:
        codec, language = self.services.codec, ctx.language
        first, second = pair
        ideas = self.services.store.ideas
        texts = []
        for letter, idea_id in (("A", first), ("B", second)):
            idea = await ideas.idea(idea_id)
            text = snippet(idea.text, PAIR_SNIPPET) if idea is not None else "…"
            texts.append(t("pairs.option", language, letter=letter, id=idea_id, text=text))

        def pick(choice: str) -> str:
            return codec.pack(Verb.JUDGE, round_id, index, first, second, choice)

        buttons = (
            (Button("A", pick("a")), Button("B", pick("b"))),
            (Button(str(t("pairs.cant_decide", language)), pick("x")), *extra),
        )
        return Reply(Markup("\n".join([prompt, "", *texts])), buttons=buttons)

    # judging ------------------------------------------------------------------------------------

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """A tapped A, B or "Can't decide"; everything the token names is checked again."""
        round_id, index, first, second = (action.int_field(k) for k in range(4))
        choice = action.fields[4] if len(action.fields) == 5 else ""
        if round_id is None or index is None or first is None or second is None or choice not in PICKS:
            return stale(ctx)
        record, task = None, None
        if round_id != NO_ROUND:
            found = await self._campaign_task(ctx, round_id, index)
            if isinstance(found, Reply):
                return found
            record, task = found
        space_id = record.space_id if record is not None else ctx.space_id
        winner = {"a": first, "b": second, "x": None}[choice]
        per_kind = self.services.settings.points.per_kind.get(TaskKind.IDEA_PAIR.value, 0)
        points = task_points(task, self.services.settings.points) if task is not None else per_kind
        award = Award(ctx.user_id, space_id, round_id or None, points, "judgement", f"{first}:{second}", "", True)
        judgement = NewJudgement(space_id, ctx.user_id, first, second, winner, round_id or None, award)
        try:
            result = await self.services.store.pairs.record(judgement, self.services.rules, self.services.clock())
        except StoreUnavailableError:
            return storage_refusal(ctx.language)
        log.info(
            "action=judge pair=%s:%s user=%s pick=%s outcome=%s", first, second, ctx.user_id, choice, result.status
        )
        return await self._reply(ctx, result.status, result.awarded.points if result.awarded else 0, record, index)

    async def _campaign_task(self, ctx: Context, round_id: int, index: int) -> tuple[RoundRecord, Task] | Reply:
        """The open round and its ``idea_pair`` task a token names, or the refusal."""
        record = await self.open_rounds.round(ctx.space_id, round_id)
        campaign = self.services.catalog.campaign(record.subject) if record is not None else None
        if record is None or campaign is None or index >= len(campaign.tasks):
            return stale(ctx)
        if campaign.tasks[index].kind != TaskKind.IDEA_PAIR:
            return stale(ctx)
        if not record.is_open:
            return Reply(t("round.closed", ctx.language), Outcome.REFUSED)
        return record, campaign.tasks[index]

    async def _reply(
        self, ctx: Context, status: JudgeStatus, points: int, record: RoundRecord | None, index: int
    ) -> Reply:
        language = ctx.language
        if status == JudgeStatus.NOT_A_PAIR:
            return stale(ctx)
        if status == JudgeStatus.ROUND_CLOSED:
            return Reply(t("round.closed", language), Outcome.REFUSED)
        if status == JudgeStatus.BANNED:
            return Reply(t("moderation.you_are_banned", language), Outcome.REFUSED)
        if status == JudgeStatus.ALREADY_JUDGED:
            text = t("pairs.already", language)
            return Reply(text, Outcome.ALREADY_DONE, notice=str(text))
        follow_up = await (self.continue_round(ctx, record, index) if record is not None else self.judge(ctx))
        if status == JudgeStatus.GONE:
            text = t("pairs.gone", language)
            return Reply(text, Outcome.REFUSED, notice=str(text), follow_up=follow_up)
        text = t("pairs.recorded", language, points=points)
        return Reply(text, Outcome.DONE, notice=to_plain(text), follow_up=follow_up)  # short: it is the toast
