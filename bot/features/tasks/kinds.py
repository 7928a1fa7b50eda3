"""Task kinds: turn what a user tapped or typed into a valid answer, and show a task as a Reply.

An answer arrives as a *payload* from an action token (an option index, a scale value, ``m<mask>`` for
a multi-pick) plus, for text kinds, the typed text, or a list of select values. Each kind checks its
own rules and either returns the canonical value to store (JSON) or a refusal naming a message key.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.actions import ActionCodec, Verb
from bot.catalog import CHOICE_KINDS, PROMOTED_KINDS, Task, TaskKind, text_in
from bot.replies import Button, Image, Reply, Select, SelectOption, TextInput
from bot.texts import Markup, clean_text, t

YES_NO_OTHER = ("yes", "no", "other")
PROMOTED_PREFIX = "p"  # an answer payload naming a promoted option: ``p0``, ``p1``…
TEXT_KINDS = frozenset({TaskKind.FREE_TEXT, TaskKind.YES_NO_OTHER})  # the kinds that take typed text
RATING_RANGE = range(1, 6)
NPS_RANGE = range(11)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid answer: ``value`` is the JSON to store, ``summary`` what the user chose, in words."""

    value: str
    summary: str
    correct: bool | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    key: str
    variables: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NeedsText:
    """The choice needs a typed explanation (yes/no/other → other)."""


Parsed = Accepted | Refused | NeedsText


def parse_answer(task: Task, payload: str, text: str | None, values: Sequence[str], language: str) -> Parsed:
    """Validate one answer against the task's kind."""
    if task.kind in (TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL):
        return _one_option(task, payload, language)
    if task.kind == TaskKind.MULTI_CHOICE:
        return _many_options(task, payload, values, language)
    if payload.startswith(PROMOTED_PREFIX) and task.kind in PROMOTED_KINDS:
        return _promoted(task, payload, language)
    if task.kind == TaskKind.YES_NO_OTHER:
        return _yes_no_other(task, payload, text, language)
    if task.kind in (TaskKind.RATING, TaskKind.NPS):
        scale = RATING_RANGE if task.kind == TaskKind.RATING else NPS_RANGE
        if not payload.isdigit() or int(payload) not in scale:
            return Refused("answer.out_of_range", {"low": scale[0], "high": scale[-1]})
        return Accepted(json.dumps(int(payload)), payload)
    return _free_text(task, text, task.max_length)


def parse_typed(task: Task, text: str, language: str) -> Parsed:
    """Validate text typed into a task's :func:`answer_input`: the whole answer, or what "Other" means.

    The form's token names only the task, so on a yes/no/other task the text stands for "Other".
    """
    payload = str(YES_NO_OTHER.index("other")) if task.kind == TaskKind.YES_NO_OTHER else ""
    return parse_answer(task, payload, text, (), language)


def _one_option(task: Task, payload: str, language: str) -> Parsed:
    if not payload.isdigit() or int(payload) >= len(task.options):
        return Refused("answer.unknown_option")
    index = int(payload)
    correct = None if task.known_answer is None else task.answer_labels[index] == task.known_answer
    return Accepted(str(index), text_in(task.options[index], language), correct)  # an int's JSON is its digits


def _many_options(task: Task, payload: str, values: Sequence[str], language: str) -> Parsed:
    if values:
        if not all(value.isdecimal() and len(value) <= 4 for value in values):  # int() refuses "²" and 5000 digits
            return Refused("answer.unknown_option")
        picks = sorted({int(value) for value in values})
    elif payload.startswith("m") and payload[1:].isdigit():
        mask = int(payload[1:])
        picks = [index for index in range(mask.bit_length()) if mask >> index & 1]
    else:
        return Refused("answer.unknown_option")
    if any(index >= len(task.options) for index in picks):
        return Refused("answer.unknown_option")
    low, high = task.pick_range
    if not low <= len(picks) <= high:
        return Refused("answer.pick_count", {"low": low, "high": high})
    summary = ", ".join(text_in(task.options[index], language) for index in picks)
    return Accepted(json.dumps(picks), summary)


def _promoted(task: Task, payload: str, language: str) -> Parsed:
    """A promoted option tapped: stored as if its words were typed (free text) or typed after "Other"
    (yes/no/other), so the tallies, the themes and the exports need nothing new to read it.

    The words stored are the option's English label (its first translation otherwise), as for choices.
    """
    number = payload.removeprefix(PROMOTED_PREFIX)
    if not number.isdecimal() or len(number) > 2 or int(number) >= len(task.promoted):
        return Refused("answer.unknown_option")
    option = task.promoted[int(number)]
    stored, shown = text_in(option, "en"), text_in(option, language)
    if task.kind == TaskKind.YES_NO_OTHER:
        return Accepted(json.dumps({"other": stored}, ensure_ascii=False), f"{t('choice.other', language)}: {shown}")
    return Accepted(json.dumps(stored, ensure_ascii=False), shown)


def _yes_no_other(task: Task, payload: str, text: str | None, language: str) -> Parsed:
    if payload not in ("0", "1", "2"):
        return Refused("answer.unknown_option")
    choice = YES_NO_OTHER[int(payload)]
    if choice != "other":
        return Accepted(json.dumps(choice), str(t(f"choice.{choice}", language)))
    if text is None:
        return NeedsText()
    typed = _free_text(task, text, task.max_length)
    if not isinstance(typed, Accepted):
        return typed
    return Accepted(json.dumps({"other": json.loads(typed.value)}), f"{t('choice.other', language)}: {typed.summary}")


def _free_text(task: Task, text: str | None, max_length: int) -> Parsed:
    cleaned = clean_text(text or "")
    if not any(unicodedata.category(char)[0] not in "ZC" for char in cleaned):
        return Refused("answer.empty_text")
    if len(cleaned) > max_length:
        return Refused("answer.too_long", {"limit": max_length, "length": len(cleaned)})
    return Accepted(json.dumps(cleaned, ensure_ascii=False), cleaned if len(cleaned) <= 60 else cleaned[:57] + "…")


def answer_keys(task: Task, value: str) -> set[str]:
    """A stored value as the catalog's answer keys (English labels, yes/no/other, numbers)."""
    # An option's index, the usual value, is read without the JSON parser: this is on every tap's path.
    decoded: Any = int(value) if value.isascii() and value.isdecimal() else json.loads(value)
    if task.kind in CHOICE_KINDS:
        picks = decoded if isinstance(decoded, list) else [decoded]
        labels = task.answer_labels
        return {labels[index] for index in picks if index < len(labels)}
    if task.kind == TaskKind.YES_NO_OTHER:
        return {"other" if isinstance(decoded, dict) else str(decoded)}
    return {str(decoded)}


def render_task(
    task: Task,
    *,
    codec: ActionCodec,
    round_id: int,
    index: int,
    header: Markup,
    language: str,
    mask: int = 0,
) -> Reply:
    """Show a task with its native controls; every control carries a signed action token."""
    prompt = t("task.prompt", language, header=header, prompt=text_in(task.prompt, language))
    skip = Button(str(t("button.skip", language)), codec.pack(Verb.SKIP, round_id, index))

    def answer(payload: object) -> str:
        return codec.pack(Verb.ANSWER, round_id, index, payload)

    image = None
    if task.kind == TaskKind.IMAGE_LABEL:
        is_url = task.image.startswith(("http://", "https://"))
        image = Image(url=task.image) if is_url else Image(path=task.image, filename=task.image.rsplit("/", 1)[-1])
    if task.kind in (TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL):
        buttons = [Button(label, answer(i)) for i, label in enumerate(task.option_labels(language))]
        return Reply(prompt, buttons=(*_rows(buttons, 2), (skip,)), image=image)
    if task.kind == TaskKind.MULTI_CHOICE:
        return _render_multi(task, codec, round_id, index, prompt, language, mask, skip)
    promoted = _rows(
        [Button(text_in(option, language), answer(f"{PROMOTED_PREFIX}{i}")) for i, option in enumerate(task.promoted)],
        2,
    )
    if task.kind == TaskKind.YES_NO_OTHER:
        labels = [str(t(f"choice.{choice}", language)) for choice in YES_NO_OTHER]
        choices = tuple(Button(label, answer(i)) for i, label in enumerate(labels))
        return Reply(prompt, buttons=(choices, *promoted, (skip,)))
    if task.kind == TaskKind.RATING:
        stars = tuple(Button(f"{n}★", answer(n)) for n in RATING_RANGE)
        return Reply(prompt, buttons=(stars, (skip,)))
    if task.kind == TaskKind.NPS:
        scale = [Button(str(n), answer(n)) for n in NPS_RANGE]
        return Reply(prompt, buttons=(tuple(scale[:6]), tuple(scale[6:]), (skip,)))
    hint = t("task.type_hint", language, limit=task.max_length)
    text_input = answer_input(task, codec, round_id, index, language)
    return Reply(Markup(f"{prompt}\n{hint}"), buttons=(*promoted, (skip,)), text_input=text_input)


def ask_other_text(task: Task, codec: ActionCodec, round_id: int, index: int, language: str) -> Reply:
    """After "Other": ask for the few words that explain it."""
    text_input = answer_input(task, codec, round_id, index, language)
    return Reply(t("task.other_prompt", language, prompt=text_in(task.prompt, language)), text_input=text_input)


def answer_input(task: Task, codec: ActionCodec, round_id: int, index: int, language: str) -> TextInput:
    """Where a task's typed text goes: the whole answer (free text) or what "Other" means (yes/no/other).

    Built from the task and the token's fields alone, so :meth:`bot.features.tasks.Tasks.text_input` can
    rebuild exactly what the question showed (label, placeholder, limit) from a ``Verb.TEXT`` token.
    """
    label = "choice.other" if task.kind == TaskKind.YES_NO_OTHER else "task.your_answer"
    return TextInput(
        action=codec.pack(Verb.TEXT, round_id, index),
        label=str(t(label, language)),
        max_length=task.max_length,
        placeholder=str(t("task.type_answer", language, limit=task.max_length)),
    )


def _render_multi(
    task: Task,
    codec: ActionCodec,
    round_id: int,
    index: int,
    prompt: Markup,
    language: str,
    mask: int,
    skip: Button,
) -> Reply:
    low, high = task.pick_range
    toggles = [
        Button(
            f"{'☑' if mask >> i & 1 else '☐'} {label}",
            codec.pack(Verb.TOGGLE, round_id, index, mask ^ (1 << i)),
            selected=bool(mask >> i & 1),
            select_stand_in=True,
        )
        for i, label in enumerate(task.option_labels(language))
    ]
    count = bin(mask).count("1")
    submit = Button(
        str(t("button.submit", language, count=count)),
        codec.pack(Verb.ANSWER, round_id, index, f"m{mask}"),
        select_stand_in=True,
    )
    select = Select(
        action=codec.pack(Verb.SELECT, round_id, index),
        options=tuple(SelectOption(label, str(i)) for i, label in enumerate(task.option_labels(language))),
        min_values=low,
        max_values=high,
        placeholder=str(t("task.pick_between", language, low=low, high=high)),
    )
    text = Markup(f"{prompt}\n{t('task.pick_between', language, low=low, high=high)}")
    return Reply(text, buttons=(*_rows(toggles, 2), (submit, skip)), select=select)


def _rows(buttons: Sequence[Button], width: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))
