"""Message components as Discord nests them: their type numbers and walking a component tree.

Why a module: the payload checks, the message store (which numbers components as Discord does) and the
driver that clicks buttons and fills in modals all need to find every component in a tree of rows,
containers, sections and labels, the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .protocol import JSON, copied

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SECTION, TEXT_DISPLAY, CONTAINER, LABEL = 9, 10, 17, 18
RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX = 21, 22, 23
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
V2_TOP_LEVEL = frozenset({ACTION_ROW, SECTION, TEXT_DISPLAY, 12, 13, 14, CONTAINER})
MODAL_INPUTS = frozenset({TEXT_INPUT, *SELECT_TYPES, 19, RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX})


def walk(components: Sequence[JSON]) -> Iterator[JSON]:
    """Every component in a tree: rows, containers, sections' accessories and labels' children."""
    for component in components:
        yield component
        yield from walk(component.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(component.get(key), dict):
                yield from walk([component[key]])


def find_component(components: Sequence[JSON], custom_id: str) -> JSON | None:
    return next((c for c in walk(components) if c.get("custom_id") == custom_id), None)


def numbered(components: Sequence[JSON]) -> list[JSON]:
    """A copy with numeric ``id``s filled in depth-first, as Discord assigns them on stored messages."""
    result: list[JSON] = copied(list(components))
    used = {c["id"] for c in walk(result) if isinstance(c.get("id"), int)}
    counter = 0
    for component in walk(result):
        if "id" not in component:
            counter += 1
            while counter in used:
                counter += 1
            component["id"] = counter
    return result
