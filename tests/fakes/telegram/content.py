"""What a message carries: its text or caption with entities, and its inline keyboard.

Why one module: sending, editing and clicking all need the same rules — the length limits apply after
parse-mode processing, ``callback_data`` is counted in bytes, and the message is echoed back the way Telegram
shows it — so the limits from ``limits`` are checked here once for every method that writes content.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

from .limits import MAX_CALLBACK_DATA_BYTES, MAX_CAPTION_LENGTH, MAX_INLINE_BUTTONS, MAX_TEXT_LENGTH
from .params import Params
from .parse_mode import parse_html
from .protocol import JSON, ApiError

_BUTTON_ACTIONS: Final = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def _check_button(button: Any) -> None:
    """One button: a non-empty text and exactly one action, ``callback_data`` within its byte limit."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise ApiError.bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"]:
        raise ApiError.bad_request("BUTTON_TEXT_INVALID")
    actions = _BUTTON_ACTIONS & button.keys()
    if len(actions) != 1:
        raise ApiError.bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if "callback_data" in actions and (
        not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise ApiError.bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in actions and (not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))):
        raise ApiError.bad_request("BUTTON_URL_INVALID")


def inline_keyboard(markup: Any) -> JSON | None:
    """Validate ``reply_markup`` and return what Telegram echoes on the message.

    Only inline keyboards are echoed; reply keyboards, ``remove_keyboard`` and ``force_reply``
    are accepted and not shown on the message, like in the real API.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError.bad_request('can\'t parse inline keyboard: Field "inline_keyboard" must be an Array')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise ApiError.bad_request("BUTTONS_TOO_MUCH")
    for button in buttons:
        _check_button(button)
    return {"inline_keyboard": rows} if buttons else None


def callback_datas(message: JSON) -> list[str]:
    """The ``callback_data`` of every button on the message: what a user can click."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def api_view(message: JSON) -> JSON:
    """The message as the Bot API returns it, without the fake's bookkeeping keys."""
    return {key: copy.deepcopy(value) for key, value in message.items() if key not in ("html", "deleted")}


@dataclass(frozen=True)
class Text:
    """A text or caption after parse-mode processing; ``html`` is the source when it was HTML."""

    plain: str
    entities: list[JSON]
    html: str | None


_ENTITY_KEYS: Final = {"text": "entities", "caption": "caption_entities"}


def _formatted(params: Params, key: str) -> Text | None:
    """Apply ``parse_mode`` to the ``text``/``caption`` parameter; explicit entities pass through."""
    raw = params.opt_str(key)
    if raw is None:
        return None
    mode = params.opt_str("parse_mode")
    if mode is None:
        entities = params.get(_ENTITY_KEYS[key]) or []
        if not isinstance(entities, list):
            raise ApiError.bad_request(f"can't parse {_ENTITY_KEYS[key]} JSON object")
        return Text(raw, entities, None)
    if mode.lower() != "html":
        raise ApiError.bad_request(f"unsupported parse_mode {mode!r}: the fake server implements only HTML")
    plain, entities = parse_html(raw)
    return Text(plain, entities, raw)


def message_text(params: Params) -> Text:
    """The length limits apply to the text *after* entity parsing, as on Telegram."""
    text = _formatted(params, "text")
    if text is None or not text.plain.strip():
        raise ApiError.bad_request("message text is empty")
    if len(text.plain) > MAX_TEXT_LENGTH:
        raise ApiError.bad_request("message is too long")
    return text


def caption_text(params: Params) -> Text | None:
    """A media caption is optional, but limited like a text once parsed."""
    caption = _formatted(params, "caption")
    if caption is not None and len(caption.plain) > MAX_CAPTION_LENGTH:
        raise ApiError.bad_request("message caption is too long")
    return caption


def set_text(message: JSON, text: Text | None, key: str) -> None:
    """Write ``text``/``caption`` and its entities the way Telegram shows them (absent if empty)."""
    message.pop(key, None)
    message.pop(_ENTITY_KEYS[key], None)
    message["html"] = text.html if text is not None else None
    if text is None or not text.plain:
        return
    message[key] = text.plain
    if text.entities:
        message[_ENTITY_KEYS[key]] = text.entities


def set_markup(message: JSON, markup: JSON | None) -> None:
    """Replace the message's inline keyboard; ``None`` removes it, as an edit without markup does."""
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup
