"""Engine replies as Discord messages: Markdown chunks, embeds and files, and rows of components.

Content is split below 2000 characters between lines, rows are cut to five buttons and messages to five
rows (more rows go in further messages), selects to 25 options, labels to their lengths; images and
charts travel as attachments shown in an embed. Nothing pings: every message is sent with
``AllowedMentions.none()``.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import discord

from adapters.discord.components import answer_button
from adapters.discord.incoming import EPHEMERAL, Origin
from adapters.discord.limits import (
    BUTTON_LABEL,
    BUTTONS_PER_ROW,
    CONTENT_LIMIT,
    OPTION_TEXT,
    ROWS_PER_MESSAGE,
    SELECT_OPTIONS,
    SELECT_PLACEHOLDER,
    cut,
)
from bot.replies import Button, Outcome, Reply, Select, TextInput, escape, split_markup, to_markdown
from bot.texts import Markup

NO_MENTIONS = discord.AllowedMentions.none()
NO_MENTIONS_DATA = NO_MENTIONS.to_dict()
LAYOUTS_KEPT = 1024  # questions' component layouts kept for reuse (see _layout)
CHUNKINGS_KEPT = 1024  # short texts kept as Markdown chunks (see _chunks)
TURNS_KEPT = 1024  # answered questions turned into the next one, kept for reuse (see replaced)
PICTURES_KEPT = 256  # catalog pictures kept in memory (see _picture)
PICTURE_KEPT_BYTES = 256 * 1024  # a larger picture is read for every message that shows it


def markdown_chunks(markup: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Reply markup as Discord Markdown, in chunks of at most ``limit`` characters cut between lines.

    Escaping for Markdown lengthens text (``*`` becomes ``\\*``), so the markup is split with a smaller
    budget until every converted chunk fits; tags never span lines, so each chunk converts on its own.
    """
    return list(_chunks(markup, limit))


def _chunks(markup: str, limit: int = CONTENT_LIMIT) -> tuple[str, ...]:
    """:func:`markdown_chunks`; a text of one message or less is kept (:func:`_kept_chunks`)."""
    return _kept_chunks(markup, limit) if len(markup) <= limit else _converted(markup, limit)


def _converted(markup: str, limit: int) -> tuple[str, ...]:
    budget = limit
    while True:
        chunks = tuple(to_markdown(part) for part in split_markup(markup, budget))
        longest = max(len(chunk) for chunk in chunks)
        if longest <= limit:
            return chunks
        budget = max(1, min(budget - 1, budget * limit // longest))


# The members answering a question see the same short texts (the next question, "✅ Tea, +5" above it);
# converting them again was a few per cent of a tap's CPU. At most a message's length each: a few MB.
_kept_chunks = functools.lru_cache(maxsize=CHUNKINGS_KEPT)(_converted)


Upload = tuple[bytes, str]  # a file's bytes and its name


@dataclass
class Outgoing:
    """One Discord message to send or to edit into place.

    Its files are kept as bytes and made into :class:`discord.File` afresh for every request: discord.py
    reads a file to its end and then closes it, and a queued send may be tried again after a 429.
    """

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    view: discord.ui.View | None = None

    def files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(data), name) for data, name in self.uploads]

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.content:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = self.embeds
        if self.uploads:
            kwargs["files"] = self.files()
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def send_data(self, *, ephemeral: bool) -> dict[str, Any]:
        """The message as JSON, as discord.py would send it (:mod:`adapters.discord.callbacks` posts it,
        with :attr:`uploads` as its files)."""
        data: dict[str, Any] = {"allowed_mentions": NO_MENTIONS_DATA}
        if self.content:
            data["content"] = self.content
        if self.embeds:
            data["embeds"] = [embed.to_dict() for embed in self.embeds]
        if self.uploads:
            data["attachments"] = self._attachments()
        if self.view is not None:
            data["components"] = components(self.view)
        if ephemeral:
            data["flags"] = EPHEMERAL
        return data

    def edit_data(self) -> dict[str, Any]:
        """:meth:`edit_kwargs` as JSON: the whole message replaced, old files by the new ones (or none)."""
        return {
            "content": self.content or None,
            "embeds": [embed.to_dict() for embed in self.embeds],
            "attachments": self._attachments(),
            "components": [] if self.view is None else components(self.view),
            "allowed_mentions": NO_MENTIONS_DATA,
        }

    def _attachments(self) -> list[dict[str, Any]]:
        """The files' entries, numbered as the ``files[n]`` parts they travel in."""
        return [{"id": index, "filename": name} for index, (_, name) in enumerate(self.uploads)]

    def edit_kwargs(self) -> dict[str, Any]:
        """The whole message replaced: what the reply does not show (an old image, buttons) goes."""
        return {
            "content": self.content or None,
            "embeds": self.embeds,
            "attachments": self.files(),
            "view": self.view,
            "allowed_mentions": NO_MENTIONS,
        }


def text_message(markup: str) -> Outgoing:
    """A message of one short sentence (an apology, a refusal), as Markdown."""
    return Outgoing(content=to_markdown(markup))


async def render(reply: Reply) -> list[Outgoing]:
    """One reply (not its follow-ups) as Discord messages: text chunks, then media and components.

    The image or file and the first five rows of components ride on the last text chunk; further rows
    (the engine's replies have at most four) go in messages of their own.
    """
    messages = [Outgoing(content=chunk) for chunk in _chunks(reply.text)] if reply.text else [Outgoing()]
    last = messages[-1]
    last.embeds, last.uploads = await _media(reply)
    pages = _layout(reply.buttons, reply.select, reply.text_input)
    if pages:
        last.view = pages[0]
    messages += [Outgoing(view=page) for page in pages[1:]]
    return messages


def _filename(name: str) -> str:
    """A name ``attachment://`` can refer to."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "file"


async def _media(reply: Reply) -> tuple[list[discord.Embed], list[Upload]]:
    embeds: list[discord.Embed] = []
    files: list[Upload] = []
    image = reply.image
    if image is not None:
        embed = discord.Embed()
        if image.data or image.path:
            name = _filename(image.filename)
            data = image.data or await _picture(image.path)
            files.append((data, name))
            embed.set_image(url=f"attachment://{name}")
        else:
            embed.set_image(url=image.url)
        embeds.append(embed)
    if reply.attachment is not None:
        files.append((reply.attachment.data, _filename(reply.attachment.filename)))
    return embeds, files


async def _picture(path: str) -> bytes:
    """A catalog picture's bytes, read off the event loop; a small one kept while its file is unchanged.

    Discord keeps no file a message could refer to, so a question's picture travels with every member's
    message, and reading it in a thread each time was a thread hop per question shown (some 2 % of a
    tap's CPU in the closed-loop benchmark). A file replaced on disk has another size or time of change,
    and is read anew; only that look costs the event loop (a stat, not a read).
    """
    found = os.stat(path)
    key = (path, found.st_size, found.st_mtime_ns)
    data = _pictures.get(key)
    if data is None:
        data = await asyncio.to_thread(Path(path).read_bytes)
        if len(data) <= PICTURE_KEPT_BYTES:
            if len(_pictures) >= PICTURES_KEPT:
                _pictures.clear()
            _pictures[key] = data
    return data


_pictures: dict[tuple[str, int, int], bytes] = {}


@functools.lru_cache(maxsize=LAYOUTS_KEPT)
def _layout(
    buttons: tuple[tuple[Button, ...], ...], select: Select | None, text_input: TextInput | None
) -> tuple[discord.ui.View, ...]:
    """The components of a reply, as the stopped views of its messages (one per five rows).

    Kept for reuse: tokens name a round and a task, not a member, so everyone answering a question gets
    the same components, and building discord.py's items anew for each was about 5 % of the bot's CPU
    per click in the closed-loop benchmark. A stopped view is only read when sent (discord.py keeps
    none), so one serves many messages.
    """
    return tuple(_pages(_rows(buttons, select, text_input)))


@functools.lru_cache(maxsize=LAYOUTS_KEPT)
def components(view: discord.ui.View) -> list[dict[str, Any]]:
    """A view's components as JSON, kept with the view (:func:`_layout`): read-only, shared by every
    message that shows them, as the view itself is."""
    payload: list[dict[str, Any]] = view.to_components()
    return payload


def _rows(
    buttons: tuple[tuple[Button, ...], ...], select: Select | None, text_input: TextInput | None
) -> list[list[discord.ui.Item[Any]]]:
    """Component rows: the select first, then the buttons five to a row, the answer button in front."""
    rows: list[list[discord.ui.Item[Any]]] = []
    seen: set[str] = set()  # Discord refuses a message with a custom_id twice
    if select is not None:
        rows.append([_select(select)])
        seen.add(select.action)
    for row in buttons:
        items = []
        for button in row:
            if button.select_stand_in and select is not None:
                continue  # the native select replaces the toggle buttons and their Submit
            if button.url or button.action not in seen:
                items.append(_button(button))
                seen.add(button.action)
        rows += [items[i : i + BUTTONS_PER_ROW] for i in range(0, len(items), BUTTONS_PER_ROW)]
    if text_input is not None:
        answer = answer_button(text_input)
        roomy = next((row for row in rows if len(row) < BUTTONS_PER_ROW and not _is_select_row(row)), None)
        if roomy is None:
            rows.append([answer])
        else:
            roomy.insert(0, answer)
    return rows


def _is_select_row(row: list[discord.ui.Item[Any]]) -> bool:
    return any(item.type == discord.ComponentType.select for item in row)


def _pages(rows: list[list[discord.ui.Item[Any]]]) -> list[discord.ui.View]:
    pages = []
    for start in range(0, len(rows), ROWS_PER_MESSAGE):
        view = discord.ui.View(timeout=None)
        for number, row in enumerate(rows[start : start + ROWS_PER_MESSAGE]):
            for item in row:
                item.row = number
                view.add_item(item)
        view.stop()  # see adapters.discord.components: clicks are routed by custom_id, not by a kept view
        pages.append(view)
    return pages


def _button(button: Button) -> discord.ui.Item[Any]:
    label = cut(button.label, BUTTON_LABEL)
    if button.url:
        return discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=button.url)
    style = discord.ButtonStyle.success if button.selected else discord.ButtonStyle.primary
    return discord.ui.Button(style=style, label=label, custom_id=button.action)


def _select(select: Select) -> discord.ui.Select[Any]:
    options = [
        discord.SelectOption(label=cut(option.label, OPTION_TEXT), value=option.value[:OPTION_TEXT])
        for option in select.options[:SELECT_OPTIONS]
    ]
    high = max(1, min(select.max_values, len(options)))
    menu: discord.ui.Select[Any] = discord.ui.Select(
        custom_id=select.action,
        placeholder=cut(select.placeholder, SELECT_PLACEHOLDER) or None,
        min_values=min(select.min_values, high),
        max_values=high,
        options=options,
    )
    return menu


async def replaced(answer: Reply, following: Sequence[Reply]) -> Outgoing | None:
    """The next question with the answer's confirmation ("✅ Tea, +5") above it, to edit an answered
    question into (the ``"edit"`` follow-up mode); ``None`` when there is no next question, when it brings
    a file, when it takes more than one message, or when the answer earned more than its points (a
    streak, a badge: those lines stay in the member's view with the question they came with).

    A question with an image is edited in too: the update carries the new attachment and the embed that
    shows it (what Telegram cannot do, an edit from text to photo, Discord does in the one request).
    """
    if not following or "\n" in answer.text or not answer.notice:
        return None
    upcoming = following[0]
    key = (id(answer), id(upcoming))
    kept = _turns.get(key)
    if kept is not None:
        return kept[2]
    turned = await _turned(answer, upcoming)
    if turned is None or not turned.uploads:  # a file's bytes are not kept
        if len(_turns) >= TURNS_KEPT:
            _turns.clear()
        _turns[key] = (answer, upcoming, turned)
    return turned


# The engine keeps its replies (an answer's confirmation, the next question), so members answering alike
# bring the same two objects: the message they make is kept by their identities (each entry holds both,
# so no other reply takes their ids) rather than rendered again for every member (a few per cent of a
# tap's CPU in the closed-loop benchmark). Read only once made, as the layouts it shares (_layout).
_turns: dict[tuple[int, int], tuple[Reply, Reply, Outgoing | None]] = {}


async def _turned(answer: Reply, upcoming: Reply) -> Outgoing | None:
    if upcoming.attachment is not None:
        return None
    messages = await render(replace(upcoming, text=Markup(f"{escape(answer.notice)}\n{upcoming.text}")))
    return messages[0] if len(messages) == 1 else None


def closes(reply: Reply, message: Origin) -> bool:
    """Whether ``reply`` closes the question ``message`` (only this member sees it, and a plain "done"
    leaves nothing on it to tap twice): the question then turns into the next one or its confirmation."""
    if reply.outcome != Outcome.DONE or not message.ephemeral:
        return False
    return not (reply.buttons or reply.select or reply.text_input or reply.image or reply.attachment)


def answered(reply: Reply, message: Origin) -> str | None:
    """A closed question's text: the confirmation below it; ``None`` when that would be too long."""
    line = "\n".join(_chunks(reply.text))
    content = f"{message.content}\n{line}" if message.content else line
    return content if len(content) <= CONTENT_LIMIT else None
