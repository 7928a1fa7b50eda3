"""Labelling jobs in a member's flow: the next item of a job, and what a tapped or typed label does.

A job is a catalog task naming an item file. :class:`Labelling` serves its items one at a time inside
the usual task flow (the tasks feature asks it when the member reaches the job): an item the member has
not answered, not settled, with a slot left; about ``gold_share`` of the time a gold item, which looks and
pays exactly like the others. Each label's unit decides, with the job's rules, whether the member is
now held back (gold accuracy under the bar) and whether the item settled (its aggregated answer sure
enough after ``overlap.min`` answers, or ``overlap.max`` reached). A member held back is served no more
items, told politely, and still gets every poll.

The item file is read by the catalog (re-read when it changes); the first time a process serves a job
after a change, the round's items follow the file (new ones join, removed ones stop being served).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path

from bot.actions import Action, ActionCodec, Verb
from bot.catalog import CHOICE_KINDS, Campaign, Quality, Task, TaskKind, text_in
from bot.catalog_items import Item
from bot.context import Context, Services, stale, storage_refusal
from bot.features.labelling.aggregation import (
    item_posterior,
    most_common_text,
    normalise_text,
    smoothed_accuracy,
    weighing_accuracy,
)
from bot.features.tasks.kinds import YES_NO_OTHER, Accepted, Refused, parse_answer
from bot.point_rules import task_points
from bot.replies import Button, Image, Outcome, Reply, TextInput, escape, to_plain, toast_choice
from bot.store.database import StoreUnavailableError
from bot.store.records import (
    Award,
    Evidence,
    ItemQuery,
    ItemRow,
    ItemVote,
    JobRules,
    LabelStatus,
    NewLabel,
    RoundRecord,
    Settling,
)
from bot.texts import Markup, t

log = logging.getLogger(__name__)

CANT_TELL = "x"
TYPED = "t"
_SERVE_TRIES = 3  # items found unusable (image gone) before giving up on the job for this question
CROWD_REFRESH = timedelta(seconds=30)  # how stale the crowd's pooled gold accuracy may be when weighing votes


class Held(Enum):
    """Why a job had no item for the member: nothing left, or the member is held back."""

    NOTHING_LEFT = "nothing_left"
    HELD_BACK = "held_back"


@dataclass(frozen=True, slots=True)
class Labelled:
    """A recorded label's reply, and whether the next question should follow it."""

    reply: Reply
    next_question: bool


def votes_of(task: Task) -> tuple[str, ...]:
    """The votes a choice job counts, in option order (the stored answer values)."""
    if task.kind == TaskKind.YES_NO_OTHER:
        return tuple(json.dumps(choice) for choice in YES_NO_OTHER)
    return tuple(json.dumps(index) for index in range(len(task.options)))


def gold_vote(task: Task, known_answer: str) -> str:
    """An item's known answer (an answer key) as the vote it is compared with."""
    if task.kind in CHOICE_KINDS:
        return json.dumps(task.answer_labels.index(known_answer))
    if task.kind == TaskKind.YES_NO_OTHER:
        return json.dumps(known_answer)
    return normalise_text(known_answer)


def vote_label(task: Task, vote: str | None, language: str = "en") -> str:
    """A vote in words: the option's text, yes/no/other, or the normalised text itself."""
    if vote is None:
        return ""
    if task.kind in CHOICE_KINDS:
        return text_in(task.options[int(vote)], language)
    if task.kind == TaskKind.YES_NO_OTHER:
        return str(json.loads(vote))
    return vote


class Labelling:
    """Serving a job's items and recording labels, for the tasks feature."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._synced: dict[tuple[int, str], tuple[tuple[Item, ...], dict[str, Item]]] = {}
        self._crowds: dict[int, tuple[float, datetime]] = {}

    # serving ------------------------------------------------------------------------------------

    async def serve(
        self, ctx: Context, record: RoundRecord, campaign: Campaign, index: int, task: Task, header: Markup
    ) -> Reply | Held:
        """The job's next item for the member, shown under ``header``, or why there is none."""
        by_key = await self._synced_items(record, task)
        store, now = self.services.store, self.services.clock()
        query = ItemQuery(record.id, task.id, ctx.user_id, self._gold_turns(record, campaign, task, ctx))
        for _ in range(_SERVE_TRIES):
            served, held = await store.labelling.next_item(query, now)
            if held:
                return Held.HELD_BACK
            if served is None:
                return Held.NOTHING_LEFT
            item = by_key.get(served.key)
            if item is not None and _image_present(item):
                return self._render(ctx, record, index, task, header, served.id, item)
            note = "image missing at serve time" if item is not None else "not in the item file"
            log.warning("action=withdraw_item task=%s item=%s reason=%s", task.id, served.key, note)
            await store.labelling.withdraw(record.id, task.id, served.key, note)
        return Held.NOTHING_LEFT

    def _gold_turns(self, record: RoundRecord, campaign: Campaign, task: Task, ctx: Context) -> Callable[[int], bool]:
        """Whether the member's n-th item of the job is a gold one: about ``gold_share`` of their items,
        drawn from the instance's secret key, so members cannot foresee it and a replay repeats it."""
        key, share = self.services.codec_key, campaign.quality.gold_share

        def turn(answered: int) -> bool:
            seed = f"{record.id}:{task.id}:{ctx.user_id}:{answered}".encode()
            digest = hashlib.blake2b(seed, key=key[:64], digest_size=8).digest()
            return int.from_bytes(digest, "big") / 2**64 < share

        return turn

    async def _synced_items(self, record: RoundRecord, task: Task) -> dict[str, Item]:
        """The job's items from the catalog by key; the round's rows follow the file whenever it changed
        (and the index is built then, not on every serve)."""
        items = self.services.catalog.items(task)
        key = (record.id, task.id)
        synced = self._synced.get(key)
        if synced is None or synced[0] is not items:
            rows = [ItemRow(item.key, _gold(task, item)) for item in items]
            await self.services.store.labelling.sync_items(record.id, task.id, rows, task.overlap.max)
            synced = (items, {item.key: item for item in items})
            self._synced[key] = synced
        return synced[1]

    def _render(
        self, ctx: Context, record: RoundRecord, index: int, task: Task, header: Markup, item_id: int, item: Item
    ) -> Reply:
        codec, language = self.services.codec, ctx.language
        prompt = t("task.prompt", language, header=header, prompt=text_in(task.prompt, language))
        if item.text:
            prompt = Markup(f"{prompt}\n\n<i>{escape(item.text)}</i>")
        image = None
        if item.image:
            is_url = item.image.startswith(("http://", "https://"))
            # A neutral name: the platform may show it, and an operator's "croissant-3.png" is the answer.
            neutral = f"photo{Path(item.image).suffix.lower()}"
            image = Image(url=item.image) if is_url else Image(path=item.image, filename=neutral)

        def label(payload: object) -> str:
            return codec.pack(Verb.LABEL, record.id, index, item_id, payload)

        enough = Button(str(t("label.enough", language)), codec.pack(Verb.SKIP, record.id, index))
        cant_tell = Button(str(t("label.cant_tell", language)), label(CANT_TELL))
        if task.kind == TaskKind.FREE_TEXT:
            hint = t("task.type_hint", language, limit=task.max_length)
            text_input = _typed_input(codec, task, record.id, index, item_id, language)
            return Reply(
                Markup(f"{prompt}\n{hint}"), buttons=((cant_tell, enough),), text_input=text_input, image=image
            )
        if task.kind == TaskKind.YES_NO_OTHER:
            names = [str(t(f"choice.{choice}", language)).rstrip("…") for choice in YES_NO_OTHER]
        else:
            names = task.option_labels(language)
        options = [Button(name, label(i)) for i, name in enumerate(names)]
        rows = tuple(tuple(options[i : i + 2]) for i in range(0, len(options), 2))
        return Reply(prompt, buttons=(*rows, (cant_tell, enough)), image=image)

    # labelling ----------------------------------------------------------------------------------

    async def label(
        self, ctx: Context, action: Action, text: str | None, record: RoundRecord, campaign: Campaign, task: Task
    ) -> Labelled:
        """Record a tapped (or typed) label for the item the token names."""
        item_id = action.int_field(2)
        payload = action.fields[3] if len(action.fields) > 3 else ""
        if item_id is None or not task.is_job:
            return Labelled(stale(ctx), next_question=False)
        parsed = self._parse(ctx, task, payload, text)
        if isinstance(parsed, Reply):
            return Labelled(parsed, next_question=False)
        value, vote, summary = parsed
        services = self.services
        points = task_points(task, services.settings.points)
        award = Award(ctx.user_id, record.space_id, record.id, points, "answer", task.id, "", capped=True)
        new = NewLabel(record.id, task.id, item_id, ctx.user_id, value, vote, award)
        try:
            rules = job_rules(campaign.quality, task, await self._crowd(record.id))
            result = await services.store.labelling.record_label(
                new, rules, services.rules, services.clock(), record.space_id
            )
        except StoreUnavailableError:
            return Labelled(storage_refusal(ctx.language), next_question=False)
        log.info("action=label task=%s item=%s user=%s outcome=%s", task.id, item_id, ctx.user_id, result.status)
        language = ctx.language
        if result.status == LabelStatus.STALE:
            return Labelled(stale(ctx), next_question=False)
        if result.status == LabelStatus.ROUND_CLOSED:
            return Labelled(Reply(t("round.closed", language), Outcome.REFUSED), next_question=False)
        if result.status == LabelStatus.BANNED:
            return Labelled(Reply(t("moderation.you_are_banned", language), Outcome.REFUSED), next_question=False)
        if result.status == LabelStatus.ALREADY_ANSWERED:
            text_ = t("answer.already", language)
            return Labelled(Reply(text_, Outcome.ALREADY_DONE, notice=str(text_)), next_question=False)
        if result.status in (LabelStatus.ITEM_SETTLED, LabelStatus.NOT_FOR_YOU):
            key = "label.settled" if result.status == LabelStatus.ITEM_SETTLED else "label.none_for_you"
            return Labelled(Reply(t(key, language), Outcome.REFUSED, notice=str(t(key, language))), True)
        gained = result.awarded.points if result.awarded else 0
        if value is None:
            line = t("label.passed", language)
        elif campaign.quality.pay_on_agreement:
            line = t("label.recorded_later", language, choice=summary)
        else:
            line = t("answer.recorded", language, choice=summary, points=gained)
        toast = t("answer.toast", language, choice=toast_choice(summary), points=gained) if value is not None else line
        return Labelled(Reply(line, Outcome.DONE, notice=to_plain(toast)), next_question=True)

    async def _crowd(self, round_id: int) -> float:
        """The crowd's pooled gold accuracy in the round (smoothed), read at most every ``CROWD_REFRESH``:
        a newcomer's vote is weighed with it until their own gold answers say more."""
        now = self.services.clock()
        cached = self._crowds.get(round_id)
        if cached is None or now - cached[1] > CROWD_REFRESH:
            right, total = await self.services.store.labelling.crowd_gold(round_id)
            cached = (smoothed_accuracy(right, total), now)
            self._crowds[round_id] = cached
        return cached[0]

    def _parse(
        self, ctx: Context, task: Task, payload: str, text: str | None
    ) -> tuple[str | None, str | None, str] | Reply:
        """(value, vote, summary) of a label, or the refusal to reply with."""
        if payload == CANT_TELL:
            return None, None, ""
        if task.kind == TaskKind.FREE_TEXT:
            if payload != TYPED:
                return stale(ctx)
            parsed = parse_answer(task, "", text, (), ctx.language)
        elif task.kind == TaskKind.YES_NO_OTHER:
            if payload not in ("0", "1", "2"):
                return stale(ctx)
            choice = YES_NO_OTHER[int(payload)]
            return json.dumps(choice), json.dumps(choice), str(t(f"choice.{choice}", ctx.language)).rstrip("…")
        else:
            parsed = parse_answer(task, payload, None, (), ctx.language)
        if isinstance(parsed, Refused):
            return Reply(t(parsed.key, ctx.language, **parsed.variables), Outcome.REFUSED)
        assert isinstance(parsed, Accepted)
        vote = normalise_text(json.loads(parsed.value)) if task.kind == TaskKind.FREE_TEXT else parsed.value
        return parsed.value, vote, parsed.summary

    async def text_input(self, action: Action, language: str) -> TextInput | None:
        """The form a transcription item's token is typed in (Discord asks before opening it)."""
        round_id, index, item_id = action.int_field(0), action.int_field(1), action.int_field(2)
        if round_id is None or index is None or item_id is None or action.fields[3:4] != (TYPED,):
            return None
        record = await self.services.store.rounds.round(round_id)
        campaign = self.services.catalog.campaign(record.subject) if record is not None else None
        if campaign is None or index >= len(campaign.tasks) or campaign.tasks[index].kind != TaskKind.FREE_TEXT:
            return None
        return _typed_input(self.services.codec, campaign.tasks[index], round_id, index, item_id, language)


def job_rules(quality: Quality, task: Task, crowd: float) -> JobRules:
    """The rules a label's unit applies: when a member is held back (their ``reliability``, judged once they
    gave ``min_gold`` gold answers), and when an item has settled (each vote weighed with its member's
    evidence pulled towards the ``crowd``'s gold accuracy)."""
    options = votes_of(task) if task.kind != TaskKind.FREE_TEXT else ()
    overlap = task.overlap

    def hold_back(evidence: Evidence) -> bool:
        return evidence.gold_answers >= quality.min_gold and reliability(evidence) < quality.exclude_below

    def settle(votes: Sequence[ItemVote], taken: int) -> Settling:
        if not options:
            text, share, _ = most_common_text(vote.vote for vote in votes)
            label, confidence = text, share
        else:
            weighted = [
                (options.index(vote.vote), weighing_accuracy(*right_of_given(vote.record), crowd))
                for vote in votes
                if vote.vote in options
            ]
            estimate = item_posterior(weighted, len(options))
            label, confidence = options[estimate.label], estimate.confidence
        sure = len(votes) >= overlap.min and confidence >= overlap.confidence
        return Settling(label, confidence, sure or taken >= overlap.max)

    return JobRules(overlap.min, quality.min_seconds, quality.pay_on_agreement, hold_back, settle)


def reliability(evidence: Evidence) -> float:
    """A member's reliability: the smoothed accuracy of their gold answers and of their votes on settled
    items together. Gold is about one answer in ten; agreement with what the crowd settled is many times
    that evidence, so a careful member unlucky on three gold items is not held back, and a spammer is
    found as soon as their gold answers allow a judgement (``python -m bench --only quality``)."""
    return smoothed_accuracy(*right_of_given(evidence))


def right_of_given(evidence: Evidence) -> tuple[int, int]:
    """(right, given) answers the evidence counts: gold answers and votes on settled items together."""
    return evidence.gold_correct + evidence.agreed, evidence.gold_answers + evidence.resolved


def _typed_input(codec: ActionCodec, task: Task, round_id: int, index: int, item_id: int, language: str) -> TextInput:
    return TextInput(
        action=codec.pack(Verb.LABEL, round_id, index, item_id, TYPED),
        label=str(t("task.your_answer", language)),
        max_length=task.max_length,
        placeholder=str(t("task.type_answer", language, limit=task.max_length)),
    )


def _gold(task: Task, item: Item) -> str | None:
    return None if item.known_answer is None else gold_vote(task, item.known_answer)


def _image_present(item: Item) -> bool:
    """A local image must still be there when served (URLs are the platform's to fetch)."""
    return not item.image or item.image.startswith(("http://", "https://")) or Path(item.image).is_file()
