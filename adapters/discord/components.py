"""Persistent components and forms: what a custom_id carries, and which ids CrowdPulse claims.

Components carry the engine's signed action tokens as their custom_ids and are routed by shape
(:func:`parse_custom_id`) in the client's ``on_interaction``, so a button from last week still works
after a restart; forms are routed by their custom_id the same way. Views and modals are sent *stopped*
so discord.py keeps no per-message state (it would otherwise time ephemeral views out after 15 minutes).

Why not discord.py's dynamic items: they rebuild a whole view from the clicked message on every click
(every button of it, to find the one clicked) and check the client against a runtime protocol twice,
about 5 % of the bot's CPU per click in the closed-loop benchmark, for nothing a custom_id's shape does
not already say.

An id CrowdPulse does not claim (one no shape matches, or a token whose signature the engine refuses)
is answered by :meth:`adapters.discord.interactions.Interactions.refuse_retired`: Discord shows "This
interaction failed" for anything left unanswered, so nothing is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord.incoming import Origin
from adapters.discord.limits import (
    BUTTON_LABEL,
    MODAL_TITLE,
    OPTION_TEXT,
    SELECT_OPTIONS,
    TEXT_INPUT_MAX,
    TEXT_INPUT_PLACEHOLDER,
    cut,
    plain,
)
from bot.replies import TextInput
from bot.texts import t

# The custom_id shape of an engine action token (bot/actions.py): a verb, dot-separated fields, a signature.
ACTION_ID = r"[a-z]\.[A-Za-z0-9_.-]{1,98}"
ACTION_ID_PATTERN = re.compile(ACTION_ID)
ANSWER_PREFIX = "answer"  # ``answer:<max length>:<token>`` opens the form a free-text answer is typed in
ANSWER_ID_PATTERN = re.compile(rf"{ANSWER_PREFIX}:(?P<limit>\d{{1,4}}):(?P<token>{ACTION_ID})")
ANSWER_MARK = "✍️"
ANSWER_FIELD = "text"
IDEA_FORM = "idea-form"
IDEA_FIELD, CATEGORY_FIELD = "text", "category"


@dataclass(frozen=True, slots=True)
class Clicked:
    """What a claimed component's custom_id says: the engine token, and for the "✍️" button the longest
    answer its form takes (``None``: a button or select that acts at once)."""

    token: str
    form_limit: int | None = None


def parse_custom_id(custom_id: str) -> Clicked | None:
    """The token a component of CrowdPulse's shapes carries (its signature aside), or ``None``."""
    if ACTION_ID_PATTERN.fullmatch(custom_id):
        return Clicked(custom_id)
    found = ANSWER_ID_PATTERN.fullmatch(custom_id)
    if found is None:
        return None
    return Clicked(found["token"], max(1, min(int(found["limit"]), TEXT_INPUT_MAX)))


def form_title(message: Origin | None, custom_id: str) -> str:
    """The title of the form the "✍️" button ``custom_id`` opens: the button's label without the mark."""
    label = ""
    for row in message.components if message is not None else ():
        for item in row.get("components", ()):
            if item.get("custom_id") == custom_id:
                label = item.get("label") or ""
    return label.removeprefix(ANSWER_MARK).strip() or label


def answer_button(text_input: TextInput) -> discord.ui.Button[Any]:
    """The button that opens the form; its custom_id keeps everything the form needs across a restart."""
    limit = max(1, min(text_input.max_length, TEXT_INPUT_MAX))
    return discord.ui.Button(
        style=discord.ButtonStyle.primary,
        label=cut(f"{ANSWER_MARK} {text_input.label}", BUTTON_LABEL),
        custom_id=f"{ANSWER_PREFIX}:{limit}:{text_input.action}",
    )


# forms ------------------------------------------------------------------------------------------


def answer_form(token: str, label: str, max_length: int, placeholder: str = "") -> discord.ui.Modal:
    """The modal a free-text answer is typed in; its custom_id is the token that receives the text."""
    title = cut(label, MODAL_TITLE) or ANSWER_MARK
    modal = discord.ui.Modal(title=title, custom_id=token)
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=ANSWER_FIELD,
        style=discord.TextStyle.paragraph,
        max_length=max(1, min(max_length, TEXT_INPUT_MAX)),
        placeholder=plain(placeholder, TEXT_INPUT_PLACEHOLDER) or None,
        required=True,
    )
    modal.add_item(discord.ui.Label(text=title, component=text))
    modal.stop()  # a form only: its submission is routed by custom_id (on_modal_submit), not kept here
    return modal


def idea_form(language: str, categories: Sequence[str], max_length: int) -> discord.ui.Modal:
    """``/idea`` without text: the idea and, when this server has categories, one to file it under."""
    modal = discord.ui.Modal(title=plain(t("discord.idea_form_title", language), MODAL_TITLE), custom_id=IDEA_FORM)
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=IDEA_FIELD,
        style=discord.TextStyle.paragraph,
        max_length=max(1, min(max_length, TEXT_INPUT_MAX)),
        required=True,
    )
    modal.add_item(discord.ui.Label(text=plain(t("discord.idea_form_text", language), MODAL_TITLE), component=text))
    if categories:
        menu: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=CATEGORY_FIELD,
            options=[
                discord.SelectOption(label=cut(name, OPTION_TEXT), value=name[:OPTION_TEXT])
                for name in categories[:SELECT_OPTIONS]
            ],
            min_values=0,
            max_values=1,
            required=False,
        )
        label = plain(t("discord.idea_form_category", language), MODAL_TITLE)
        modal.add_item(discord.ui.Label(text=label, component=menu))
    modal.stop()
    return modal


def modal_values(components: Sequence[Any]) -> dict[str, Any]:
    """A modal submission's values by input custom_id (a string for text, a list for selects)."""
    values: dict[str, Any] = {}
    for component in components:
        if component.get("type") == discord.ComponentType.action_row.value:
            values.update(modal_values(component.get("components", [])))
        elif component.get("type") == discord.ComponentType.label.value:
            values.update(modal_values([component.get("component", {})]))
        elif "custom_id" in component:
            values[component["custom_id"]] = component.get("value", component.get("values", []))
    return values
