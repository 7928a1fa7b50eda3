"""Discord's limits on what a message or a modal may hold, checked the way Discord answers: 400/50035
"Invalid Form Body" with a nested ``errors`` object that names each offending field.

Why the fake checks payloads at all: Discord enforces these limits server-side, so a reply that is one
character, one button or one embed field too many works in a mock and fails in production. Each figure is
written once, here (command schemas are checked in :mod:`.commands`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .components import (
    ACTION_ROW,
    BUTTON,
    LABEL,
    MODAL_INPUTS,
    SELECT_TYPES,
    STRING_SELECT,
    TEXT_DISPLAY,
    TEXT_INPUT,
    V2_TOP_LEVEL,
    walk,
)
from .protocol import COMPONENTS_V2, JSON, ApiError, Path


class Problems:
    """Collects form-body problems and renders them as Discord's nested ``errors`` object (code 50035)."""

    def __init__(self) -> None:
        self._items: list[tuple[Path, str, str]] = []

    def add(self, path: Path, code: str, message: str) -> None:
        self._items.append((path, code, message))

    def max_len(self, path: Path, value: Any, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def between(self, path: Path, value: Any, low: int, high: int) -> None:
        if value is None:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def in_range(self, path: Path, value: Any, low: int, high: int) -> None:
        if value is not None and value < low:
            self.add(path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        if value is not None and value > high:
            self.add(path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")

    def raise_if_any(self) -> None:
        if not self._items:
            return
        errors: JSON = {}
        for path, code, message in self._items:
            node = errors
            for key in path:
                node = node.setdefault(str(key), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        raise ApiError(400, 50035, "Invalid Form Body", errors=errors)


def check_message(p: Problems, message: JSON, path: Path) -> None:
    """Discord's limits on anything that becomes a message (sends, edits, interaction replies)."""
    p.max_len((*path, "content"), message.get("content"), 2000)
    _check_embeds(p, message.get("embeds") or [], (*path, "embeds"))
    p.max_len((*path, "attachments"), message.get("attachments"), 10)
    components = message.get("components") or []
    if message.get("flags", 0) & COMPONENTS_V2:
        _check_v2_components(p, message, components, path)
    else:
        _check_action_rows(p, components, (*path, "components"))
    _check_unique_custom_ids(p, components, (*path, "components"))


def _check_embeds(p: Problems, embeds: Sequence[JSON], path: Path) -> None:
    p.max_len(path, embeds, 10)
    total = sum(_check_embed(p, embed, (*path, index)) for index, embed in enumerate(embeds))
    if total > 6000:
        p.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _check_embed(p: Problems, embed: JSON, path: Path) -> int:
    """Checks one embed and returns its character count towards the 6000 total."""
    size = 0
    for keys, limit in ((("title",), 256), (("description",), 4096), (("footer", "text"), 2048)):
        size += _check_text(p, embed, keys, limit, path)
    size += _check_text(p, embed, ("author", "name"), 256, path)
    fields = embed.get("fields") or []
    p.max_len((*path, "fields"), fields, 25)
    for index, item in enumerate(fields):
        p.between((*path, "fields", index, "name"), item.get("name"), 1, 256)
        p.between((*path, "fields", index, "value"), item.get("value"), 1, 1024)
        size += len(item.get("name") or "") + len(item.get("value") or "")
    return size


def _check_text(p: Problems, node: JSON, keys: tuple[str, ...], limit: int, path: Path) -> int:
    value: Any = node
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    p.max_len(path + keys, value, limit)
    return len(value or "")


def _check_action_rows(p: Problems, rows: Sequence[JSON], path: Path) -> None:
    p.max_len(path, rows, 5)
    for index, row in enumerate(rows):
        if row.get("type") != ACTION_ROW:
            p.add((*path, index, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1}.")
        else:
            _check_action_row(p, row, (*path, index))


def _check_action_row(p: Problems, row: JSON, path: Path) -> None:
    children = row.get("components") or []
    path = (*path, "components")
    if not children:
        p.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    if any(child.get("type") in SELECT_TYPES for child in children) and len(children) > 1:
        p.add(path, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width")
    p.max_len(path, children, 5)
    for index, child in enumerate(children):
        if child.get("type") == BUTTON:
            _check_button(p, child, (*path, index))
        elif child.get("type") in SELECT_TYPES:
            _check_select(p, child, (*path, index))
        else:
            p.add((*path, index, "type"), "BASE_TYPE_CHOICES", "Value must be one of {2, 3, 5, 6, 7, 8}.")


def _check_button(p: Problems, button: JSON, path: Path) -> None:
    p.max_len((*path, "label"), button.get("label"), 80)
    style = button.get("style")
    if style == 5:
        p.between((*path, "url"), button.get("url"), 1, 512)
        if button.get("custom_id") is not None:
            p.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A link button cannot have a custom id",
            )
    elif style == 6:
        p.between((*path, "sku_id"), button.get("sku_id"), 1, 20)
    elif style in (1, 2, 3, 4):
        _check_custom_id(p, button, path)
    else:
        p.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")


def _check_select(p: Problems, select: JSON, path: Path) -> None:
    _check_custom_id(p, select, path)
    p.max_len((*path, "placeholder"), select.get("placeholder"), 150)
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    p.in_range((*path, "min_values"), low, 0, 25)
    p.in_range((*path, "max_values"), high, 1, 25)
    if low > high:
        p.add(
            (*path, "min_values"),
            "SELECT_COMPONENT_MIN_VALUES_EXCEEDED",
            "min_values must not exceed max_values",
        )
    if select.get("type") == STRING_SELECT:
        options = select.get("options")
        p.between((*path, "options"), options, 1, 25)
        for index, option in enumerate(options or []):
            p.between((*path, "options", index, "label"), option.get("label"), 1, 100)
            p.between((*path, "options", index, "value"), option.get("value"), 1, 100)
            p.max_len((*path, "options", index, "description"), option.get("description"), 100)
        if options and high > len(options):
            p.add(
                (*path, "max_values"),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {len(options)}.",
            )


def _check_custom_id(p: Problems, component: JSON, path: Path) -> None:
    p.between((*path, "custom_id"), component.get("custom_id"), 1, 100)


def _check_v2_components(p: Problems, message: JSON, components: Sequence[JSON], path: Path) -> None:
    """Components V2 replace content/embeds, allow 40 components in all and nest rows in containers."""
    if message.get("content") or message.get("embeds"):
        p.add(
            (*path, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    for index, component in enumerate(components):
        if component.get("type") not in V2_TOP_LEVEL:
            p.add((*path, "components", index, "type"), "BASE_TYPE_CHOICES", "Invalid top-level component type.")
    walked = list(walk(components))
    if len(walked) > 40:
        p.add((*path, "components"), "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
    for index, component in enumerate(walked):
        if component.get("type") == ACTION_ROW:
            _check_action_row(p, component, (*path, "components", index))
    text = sum(len(c.get("content") or "") for c in walked if c.get("type") == TEXT_DISPLAY)
    if text > 4000:
        p.add(
            (*path, "components"),
            "BASE_TYPE_MAX_LENGTH",
            "Text displays must total 4000 or fewer characters.",
        )


def _check_unique_custom_ids(p: Problems, components: Sequence[JSON], path: Path) -> None:
    seen: set[str] = set()
    for component in walk(components):
        custom_id = component.get("custom_id")
        if custom_id in seen:
            p.add(path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        if custom_id is not None:
            seen.add(custom_id)


def check_modal(p: Problems, modal: JSON, path: Path) -> None:
    p.between((*path, "title"), modal.get("title"), 1, 45)
    _check_custom_id(p, modal, path)
    components = modal.get("components")
    p.between((*path, "components"), components, 1, 5)
    for index, component in enumerate(components or []):
        _check_modal_component(p, component, (*path, "components", index))
    _check_unique_custom_ids(p, components or [], (*path, "components"))


def _check_modal_component(p: Problems, component: JSON, path: Path) -> None:
    kind = component.get("type")
    if kind == ACTION_ROW:
        children = component.get("components") or []
        if len(children) != 1 or children[0].get("type") != TEXT_INPUT:
            p.add(
                (*path, "components"),
                "BASE_TYPE_BAD_LENGTH",
                "A modal action row holds exactly one text input.",
            )
        else:
            _check_text_input(p, children[0], (*path, "components", 0), in_label=False)
    elif kind == LABEL:
        p.between((*path, "label"), component.get("label"), 1, 45)
        p.max_len((*path, "description"), component.get("description"), 100)
        _check_labelled(p, component.get("component") or {}, (*path, "component"))
    elif kind == TEXT_DISPLAY:
        p.max_len((*path, "content"), component.get("content"), 4000)
    else:
        p.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 10, 18}.")


def _check_labelled(p: Problems, inner: JSON, path: Path) -> None:
    kind = inner.get("type")
    if kind == TEXT_INPUT:
        _check_text_input(p, inner, path, in_label=True)
    elif kind in SELECT_TYPES:
        _check_select(p, inner, path)
    elif kind in MODAL_INPUTS:
        _check_custom_id(p, inner, path)
    else:
        p.add((*path, "type"), "BASE_TYPE_CHOICES", "A label wraps a text input, select or choice component.")


def _check_text_input(p: Problems, text_input: JSON, path: Path, *, in_label: bool) -> None:
    _check_custom_id(p, text_input, path)
    if text_input.get("style") not in (1, 2):
        p.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if in_label:
        p.max_len((*path, "label"), text_input.get("label"), 45)
    else:
        p.between((*path, "label"), text_input.get("label"), 1, 45)
    p.max_len((*path, "value"), text_input.get("value"), 4000)
    p.max_len((*path, "placeholder"), text_input.get("placeholder"), 100)
    p.in_range((*path, "min_length"), text_input.get("min_length"), 0, 4000)
    p.in_range((*path, "max_length"), text_input.get("max_length"), 1, 4000)


def check_choices(p: Problems, choices: Sequence[JSON], path: Path) -> None:
    p.max_len(path, choices, 25)
    for index, choice in enumerate(choices):
        p.between((*path, index, "name"), choice.get("name"), 1, 100)
        if isinstance(choice.get("value"), str):
            p.max_len((*path, index, "value"), choice["value"], 100)


def validate_message(message: JSON, path: Path) -> None:
    """Refuses a message (a send, an edit, an interaction reply) Discord would refuse."""
    problems = Problems()
    check_message(problems, message, path)
    problems.raise_if_any()
    if _is_empty(message):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _is_empty(message: JSON) -> bool:
    keys = ("content", "embeds", "components", "attachments", "sticker_items", "poll")
    return not any(message.get(key) for key in keys)
