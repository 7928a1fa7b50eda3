"""What a member can enter in Discord's client: typed command options, select picks and modal answers.

Why the driver checks input: Discord's client refuses a missing required option, a value outside a
command's choices, too many picks in a select or an empty required text input before anything reaches the
bot, so a test that passes such input would exercise a path production never takes. These helpers turn a
test's plain values into the payloads Discord would send, refusing (``ValueError``) what it would not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .components import ACTION_ROW, CHECKBOX, CHECKBOX_GROUP, LABEL, RADIO_GROUP, STRING_SELECT, TEXT_INPUT
from .protocol import JSON

OPTION_RESOLVES = {6: "user", 7: "channel", 8: "role", 9: "mentionable"}
"""What an id in a command option of each type resolves to."""
SELECT_RESOLVES = {5: "user", 6: "role", 7: "mentionable", 8: "channel"}
"""What an id picked in a select menu of each type resolves to."""


def walk_options(options: Sequence[JSON]) -> Iterator[JSON]:
    for option in options:
        yield from walk_options(option.get("options") or [])
        if "value" in option:
            yield option


def leaf_options(schema: Sequence[JSON], given: Mapping[str, Any], focused: str | None) -> list[JSON]:
    """Typed interaction options from plain values, refusing what Discord's client would not let through."""
    by_name = {o["name"]: o for o in schema}
    unknown = set(given) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
    if missing and focused is None:  # while autocompleting, the user simply has not filled them yet
        raise ValueError(f"required options missing: {missing}")
    result = []
    for name, value in given.items():
        option = by_name[name]
        if name == focused:
            result.append({"name": name, "type": option["type"], "value": str(value), "focused": True})
            continue
        typed = _typed_value(option["type"], value)
        choices = [c["value"] for c in option.get("choices") or []]
        if choices and typed not in choices:
            raise ValueError(f"{typed!r} is not a choice of option {name!r} ({choices})")
        result.append({"name": name, "type": option["type"], "value": typed})
    return result


def _typed_value(kind: int, value: Any) -> Any:
    if kind in OPTION_RESOLVES:
        return str(int(value))
    converters: dict[int, Callable[[Any], Any]] = {3: str, 4: int, 5: bool, 10: float}
    if kind not in converters:
        raise ValueError(f"option type {kind} (attachments) is not supported by the fake")
    return converters[kind](value)


def modal_answers(layout: Sequence[JSON], fields: dict[str, Any]) -> list[JSON]:
    """The submitted ``components`` mirroring the modal's layout (rows and type-18 labels)."""
    answers: list[JSON] = []
    for component in layout:
        if component["type"] == ACTION_ROW:
            answers.append({"type": ACTION_ROW, "components": [_answer(component["components"][0], fields)]})
        elif component["type"] == LABEL:
            answers.append(
                {
                    "type": LABEL,
                    "id": component.get("id"),
                    "component": _answer(component["component"], fields),
                }
            )
    if fields:
        raise ValueError(f"the modal has no inputs {sorted(fields)}")
    return answers


def _answer(inner: JSON, fields: dict[str, Any]) -> JSON:
    custom_id, kind = inner["custom_id"], inner["type"]
    value = fields.pop(custom_id, None)
    answer: JSON = {"type": kind, "custom_id": custom_id, "id": inner.get("id")}
    if kind == TEXT_INPUT:
        answer["value"] = _text_answer(inner, "" if value is None else str(value))
    elif kind == CHECKBOX:
        answer["value"] = bool(value)
    elif kind == RADIO_GROUP:
        answer["value"] = value
    else:
        picked = [str(v) for v in value or []]
        if inner.get("required", True) and not picked:
            raise ValueError(f"modal input {custom_id!r} is required")
        answer["values"] = select_values(inner, picked) if picked else []
    return answer


def select_values(menu: JSON, values: Sequence[Any]) -> list[str]:
    """The picked values, refused when the client would not allow them (count, unknown options)."""
    picked = [str(v) for v in values]
    low, high = menu.get("min_values", 1), menu.get("max_values", 1)
    if not low <= len(picked) <= high:
        raise ValueError(f"{menu['custom_id']!r} takes {low}..{high} values, got {len(picked)}")
    allowed = {o["value"] for o in menu.get("options", [])}
    if menu["type"] in (STRING_SELECT, CHECKBOX_GROUP) and not set(picked) <= allowed:
        raise ValueError(f"{sorted(set(picked) - allowed)} are not options of {menu['custom_id']!r}")
    return picked


def _text_answer(text_input: JSON, text: str) -> str:
    custom_id = text_input["custom_id"]
    if text_input.get("required", True) and not text:
        raise ValueError(f"text input {custom_id!r} is required")
    low, high = text_input.get("min_length") or 0, text_input.get("max_length") or 4000
    if text and not low <= len(text) <= high:
        raise ValueError(f"text input {custom_id!r} takes {low}..{high} characters, got {len(text)}")
    return text
