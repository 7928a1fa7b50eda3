"""``sendPoll``: the poll's question and options, checked against Telegram's poll limits.

Why its own module: a poll is a message whose content is not text but a structure with limits of its own
(question length, 2–12 options, option length), and PTB sends options either as strings or as objects.
"""

from __future__ import annotations

from typing import Any

from .limits import MAX_POLL_OPTION_LENGTH, MAX_POLL_QUESTION_LENGTH, POLL_OPTIONS_RANGE
from .params import Handler, Params
from .protocol import JSON, ApiError
from .records import Call
from .sending import Sender
from .world import World


def _poll_options(options: Any) -> list[str]:
    """Options arrive as strings or as ``InputPollOption`` objects (``{"text": ...}``)."""
    if not isinstance(options, list):
        raise ApiError.bad_request("can't parse options JSON object")
    if len(options) < POLL_OPTIONS_RANGE.start:
        raise ApiError.bad_request(f"poll must have at least {POLL_OPTIONS_RANGE.start} option")
    if len(options) >= POLL_OPTIONS_RANGE.stop:
        raise ApiError.bad_request(f"poll can't have more than {POLL_OPTIONS_RANGE.stop - 1} options")
    texts: list[str] = []
    for option in options:
        text = option.get("text") if isinstance(option, dict) else option
        if not isinstance(text, str) or not text:
            raise ApiError.bad_request("poll options must be non-empty")
        if len(text) > MAX_POLL_OPTION_LENGTH:
            raise ApiError.bad_request(f"poll options length must not exceed {MAX_POLL_OPTION_LENGTH}")
        texts.append(text)
    return texts


class PollMethods:
    """sendPoll."""

    def __init__(self, world: World, sender: Sender, calls: list[Call]) -> None:
        """``calls`` is the server's request log: a poll's id is the number of requests made so far."""
        self._world = world
        self._sender = sender
        self._calls = calls

    def handlers(self) -> dict[str, Handler]:
        return {"sendPoll": self._send_poll}

    async def _send_poll(self, params: Params) -> JSON:
        chat = self._world.writable_chat(params)
        question = params.opt_str("question") or ""
        if not question.strip():
            raise ApiError.bad_request("poll question must be non-empty")
        if len(question) > MAX_POLL_QUESTION_LENGTH:
            raise ApiError.bad_request(f"poll question length must not exceed {MAX_POLL_QUESTION_LENGTH}")
        options = _poll_options(params.get("options"))
        poll = {
            "id": str(len(self._calls)),
            "question": question,
            "options": [
                {"persistent_id": str(number), "text": text, "voter_count": 0} for number, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": params.flag("is_anonymous", default=True),
            "type": params.opt_str("type") or "regular",
            "allows_multiple_answers": params.flag("allows_multiple_answers"),
            "allows_revoting": params.flag("allows_revoting"),
            "members_only": params.flag("members_only"),
        }
        return self._sender.deliver("sendPoll", params, chat, {"poll": poll}, None, "text")
