"""Message components as Discord nests them: their type numbers and walking a component tree.

Why a module: the payload checks, the message store (which numbers components as Discord does) and the
driver that clicks buttons and fills in modals all need to find every component in a tree of rows,
containers, sections and labels, the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .protocol import JSON

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
    """A copy with numeric ``id``s filled in depth-first, as Discord assigns them on stored messages.

    Each component is copied (the request that sent them stays as it was sent, as the fake recorded
    it); what lies inside one, a select's options or an emoji, is shared, as nothing changes it in
    place. Copying every node of the tree (:func:`~.protocol.copied`) made this most of an edit's cost
    in the fake, charged to whichever bot edits its messages (the closed-loop benchmark's).
    """
    used = {c["id"] for c in walk(components) if isinstance(c.get("id"), int)}
    counter = 0

    def number(component: JSON) -> JSON:
        nonlocal counter
        copy = dict(component)
        if "id" not in copy:
            counter += 1
            while counter in used:
                counter += 1
            copy["id"] = counter
        if children := copy.get("components"):
            copy["components"] = [number(child) for child in children]
        for key in ("component", "accessory"):
            if isinstance(copy.get(key), dict):
                copy[key] = number(copy[key])
        return copy

    return [number(component) for component in components]
