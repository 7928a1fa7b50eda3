"""Discord's limits, each in one place (see /work/shared/platform-limits.md), and text cut to fit them.

Discord refuses a whole message or command upload when one field is too long, so every module of the
adapter cuts to these numbers rather than to its own. Rows of buttons share the engine's
:data:`bot.replies.BUTTONS_PER_ROW`: the engine lays its rows out for Discord's five already.
"""

from __future__ import annotations

from bot.replies import BUTTONS_PER_ROW, to_plain

__all__ = [
    "ACK_BUDGET",
    "AUTOCOMPLETE_BUDGET",
    "AUTOCOMPLETE_CHOICES",
    "BUTTONS_PER_ROW",
    "BUTTON_LABEL",
    "CHANNEL_INTERVAL",
    "CONTENT_LIMIT",
    "IDENTIFY_INTERVAL",
    "MODAL_TITLE",
    "OPTION_TEXT",
    "REQUESTS_PER_SECOND",
    "ROWS_PER_MESSAGE",
    "SELECT_OPTIONS",
    "SELECT_PLACEHOLDER",
    "TEXT_INPUT_MAX",
    "TEXT_INPUT_PLACEHOLDER",
    "cut",
    "plain",
]

# messages and components
CONTENT_LIMIT = 2000
ROWS_PER_MESSAGE = 5
SELECT_OPTIONS = 25
BUTTON_LABEL = 80
OPTION_TEXT = 100  # select option labels and values, command and option descriptions, choice names
SELECT_PLACEHOLDER = 150
MODAL_TITLE = 45  # also a modal label's text
TEXT_INPUT_MAX = 4000
TEXT_INPUT_PLACEHOLDER = 100
AUTOCOMPLETE_CHOICES = 25

# time
ACK_BUDGET = 1.5  # seconds the engine may take before the interaction is deferred (Discord allows 3)
AUTOCOMPLETE_BUDGET = 2.0  # seconds autocomplete may take to find its choices (Discord allows 3, no deferral)
IDENTIFY_INTERVAL = 5.0  # seconds between a process's shard launches (Discord's identify rate limit)

# pacing of unsolicited messages: Discord allows ~50 requests a second, ~5 messages per 5 s in a channel
REQUESTS_PER_SECOND = 40.0
CHANNEL_INTERVAL = 1.0


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(markup: str, limit: int) -> str:
    """Reply markup as plain text within ``limit``: labels, titles and descriptions show no Markdown."""
    return cut(to_plain(markup), limit)
