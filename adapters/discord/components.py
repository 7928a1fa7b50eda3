"""Persistent components and forms: what a custom_id carries, and which ids CrowdPulse claims.

Components carry the engine's signed action tokens as their custom_ids and are matched by shape
(:class:`ActionItem`, :class:`AnswerButton`), so a button from last week still works after a restart;
forms are routed by their custom_id the same way. Views and modals are sent *stopped* so discord.py keeps
no per-message state: it would otherwise time ephemeral views out after 15 minutes and, removing them,
unregister the dynamic items for the whole client.

An id CrowdPulse does not claim (one no template matches, or a token whose signature the engine refuses)
is answered by :meth:`ComponentHandler.refuse_retired`: Discord shows "This interaction failed" for
anything left unanswered, so nothing is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import discord

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
ANSWER_ID = rf"{ANSWER_PREFIX}:(?P<limit>\d{{1,4}}):(?P<token>{ACTION_ID})"
ANSWER_MARK = "✍️"
ANSWER_FIELD = "text"
IDEA_FORM = "idea-form"
IDEA_FIELD, CATEGORY_FIELD = "text", "category"
_CLAIMED = (ACTION_ID_PATTERN, re.compile(ANSWER_ID))


class ComponentHandler(Protocol):
    """What the persistent components call back (:class:`adapters.discord.interactions.Interactions`)."""

    def authentic(self, token: str) -> bool: ...

    async def refuse_retired(self, interaction: discord.Interaction) -> None: ...

    async def on_action(self, interaction: discord.Interaction, token: str, values: Sequence[str]) -> None: ...

    async def open_answer_form(self, interaction: discord.Interaction, token: str, label: str, limit: int) -> None: ...


@runtime_checkable
class ComponentHost(Protocol):
    """A client whose components are CrowdPulse's (:class:`adapters.discord.client.CrowdPulseClient`)."""

    @property
    def components(self) -> ComponentHandler: ...


def claimed(custom_id: str) -> bool:
    """Whether one of CrowdPulse's component templates takes ``custom_id`` (its signature aside)."""
    return any(pattern.fullmatch(custom_id) for pattern in _CLAIMED)


def _handler(interaction: discord.Interaction) -> ComponentHandler:
    client = interaction.client
    assert isinstance(client, ComponentHost)
    return client.components


class TokenItem(discord.ui.DynamicItem[discord.ui.Item[Any]], template=ACTION_ID):
    """A component whose custom_id holds an action token: a forged or retired token claims nothing.

    discord.py skips the callback when :meth:`interaction_check` says no, so the check answers the member
    itself: a token of the right shape whose signature the engine refuses gets the same "older message"
    reply as an id of no known shape.
    """

    @property
    def token(self) -> str:
        return self.custom_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        handler = _handler(interaction)
        if handler.authentic(self.token):
            return True
        await handler.refuse_retired(interaction)
        return False


class ActionItem(TokenItem, template=ACTION_ID):
    """A button or select whose custom_id is an engine action token, rebuilt from that id per click."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionItem:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        await _handler(interaction).on_action(interaction, self.token, tuple(data.get("values", ())))


class AnswerButton(TokenItem, template=ANSWER_ID):
    """The "✍️" button of a free-text question: opens the form whose submission carries the token.

    Like every dynamic item it is rebuilt from the clicked component alone, so all it knows is its
    label and custom_id; the form's placeholder is asked from the engine when it opens
    (:meth:`ComponentHandler.open_answer_form`), and label and limit are what it falls back on.
    """

    def __init__(self, item: discord.ui.Item[Any], match: re.Match[str] | None = None) -> None:
        super().__init__(item)
        found = match or self.template.fullmatch(self.custom_id)
        assert found is not None  # DynamicItem checked the custom_id against the template
        self._token = found["token"]
        self.limit = max(1, min(int(found["limit"]), TEXT_INPUT_MAX))

    @property
    def token(self) -> str:
        return self._token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        return cls(item, match)

    async def callback(self, interaction: discord.Interaction) -> None:
        label = getattr(self.item, "label", None) or ""
        title = label.removeprefix(ANSWER_MARK).strip() or label
        await _handler(interaction).open_answer_form(interaction, self.token, title, self.limit)


def answer_button(text_input: TextInput) -> AnswerButton:
    """The button that opens the form; its custom_id keeps everything the form needs across a restart."""
    limit = max(1, min(text_input.max_length, TEXT_INPUT_MAX))
    button: discord.ui.Button[Any] = discord.ui.Button(
        style=discord.ButtonStyle.primary,
        label=cut(f"{ANSWER_MARK} {text_input.label}", BUTTON_LABEL),
        custom_id=f"{ANSWER_PREFIX}:{limit}:{text_input.action}",
    )
    return AnswerButton(button)


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
