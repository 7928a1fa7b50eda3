"""What the fake remembers of the bot's behaviour, in the shapes tests inspect.

Why separate records: a test asserts on what the bot did (``tg.calls``, ``tg.errors``, ``tg.flood_errors``,
``tg.callback_answers``, ``tg.photos(...)``); these small immutable records are that vocabulary, shared by the
method handlers that write them and the server that exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .protocol import JSON


class Call(NamedTuple):
    """One request the bot made: the canonical method name and its decoded parameters."""

    method: str
    params: JSON


class ErrorReply(NamedTuple):
    """One error reply the fake sent."""

    method: str
    error_code: int
    description: str
    retry_after: int | None


class CallbackAnswer(NamedTuple):
    """One successful ``answerCallbackQuery``."""

    query_id: str
    text: str | None
    show_alert: bool


class FloodError(NamedTuple):
    """One 429 given by flood control; ``wait`` is the exact (scaled) wait that was needed."""

    method: str
    chat_id: int
    retry_after: int
    wait: float


@dataclass(frozen=True)
class StoredFile:
    """A file the bot sent (``data`` is ``None`` when it was sent by URL, which is not fetched)."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str | None
    mime_type: str | None
    data: bytes | None
