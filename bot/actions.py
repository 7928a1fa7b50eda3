"""Action tokens: the data behind every button, select and modal.

A token is ``<verb>.<field>.<field>…<signature>``: short, opaque to users, and signed with the
instance's secret key (keyed BLAKE2b, 48 bits, compared in constant time), so a client can replay a
token it was shown but cannot forge a new one. The
engine still re-checks everything a token names (round open, option exists, not already done), because
a replayed token can be stale. Packing refuses fields that would break parsing and tokens over
:data:`MAX_TOKEN_BYTES` (Telegram's ``callback_data`` limit; Discord allows 100 characters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_TOKEN_BYTES = 64
_SIGNATURE_CACHE = 65_536
_PARSED_CACHE = 4096
_SEPARATOR = "."
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,24}(?:\.[A-Za-z0-9_-]{1,24})*")


class Verb(StrEnum):
    """What a token asks for: every button, select and form the engine makes names one of these.

    The values are what tokens carry (one character each, to leave room for fields within 64 bytes);
    they are stored in messages members already hold, so a value never changes meaning. Each feature
    declares the verbs it handles, and the engine refuses to start if two claim the same one.
    """

    ANSWER = "a"  # round, task, payload: an option, a rating, "m<mask>" for a multiple choice
    SELECT = "s"  # round, task: a multiple choice answered with a select menu
    TEXT = "x"  # round, task: typed text (free text, or what "Other" means)
    TOGGLE = "t"  # round, task, mask: tick or untick an option of a multiple choice
    SKIP = "n"  # round, task
    LABEL = "l"  # round, task, item, payload: an option, "x" for "can't tell", "t" for typed text
    ROUND_START = "r"  # round: the Start button of a round announcement
    REWARD_CONFIRM = "w"  # reward: ask to confirm a redemption
    REDEEM = "q"  # reward, nonce: redeem (the nonce makes a double tap redeem once)
    UPVOTE = "v"  # idea
    RETRACT = "u"  # idea
    IDEA_PAGE = "i"  # idea
    IDEA_LIST = "p"  # view, page
    SUBMIT_DRAFT = "d"  # draft: "Submit anyway" for an idea held back as similar
    LINK_CONFIRM = "k"  # code: the owner confirms linking the account that typed their code
    JUDGE = "j"  # round (0: none), task, first idea, second idea, pick: "a", "b" or "x" (can't decide)


_VERBS = {verb.value: verb for verb in Verb}


@dataclass(frozen=True, slots=True)
class Action:
    """A parsed, authentic token: a verb and its fields."""

    verb: Verb
    fields: tuple[str, ...]

    def int_field(self, index: int) -> int | None:
        """The field at ``index`` as a non-negative int, or ``None`` when missing or not a number."""
        if index >= len(self.fields) or not self.fields[index].isdigit():
            return None
        return int(self.fields[index])


class ActionCodec:
    """Packs and verifies tokens with one secret key (the same in every process of an instance)."""

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("the action signing key must be 16 to 64 bytes")
        self._key = key
        # The same buttons are shown to many members: remember recent signatures (bounded), and the
        # actions of recent authentic tokens (bounded; a forged token never gets in): every tap parses one.
        self._signatures: dict[str, str] = {}
        self._parsed: dict[str, Action] = {}

    def pack(self, verb: Verb, *fields: object) -> str:
        """Build a signed token.

        Raises:
            ValueError: a field is empty, too long or holds a character outside ``[A-Za-z0-9_-]``,
                or the token would exceed :data:`MAX_TOKEN_BYTES`. Both are programming errors.
        """
        payload = _SEPARATOR.join([verb, *map(str, fields)])
        if not _PAYLOAD.fullmatch(payload):
            raise ValueError(f"action {payload!r} has a field that is not a short [A-Za-z0-9_-] word")
        token = f"{payload}{_SEPARATOR}{self._sign(payload)}"
        if len(token.encode()) > MAX_TOKEN_BYTES:
            raise ValueError(f"action token {token!r} exceeds {MAX_TOKEN_BYTES} bytes")
        return token

    def parse(self, token: str) -> Action | None:
        """The action a token names, or ``None`` for anything malformed, oversized, forged or of no known verb."""
        action = self._parsed.get(token)
        if action is None:
            action = self._verified(token)
            if action is not None:
                if len(self._parsed) >= _PARSED_CACHE:
                    self._parsed.clear()
                self._parsed[token] = action
        return action

    def _verified(self, token: str) -> Action | None:
        if not token or len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
            return None
        payload, _, signature = token.rpartition(_SEPARATOR)
        if not _PAYLOAD.fullmatch(payload):
            return None
        # Bytes, not str: compare_digest refuses non-ASCII strings, and a forged token may carry any.
        if not hmac.compare_digest(signature.encode("utf-8", "replace"), self._sign(payload).encode()):
            return None
        letter, *fields = payload.split(_SEPARATOR)
        verb = _VERBS.get(letter)
        return None if verb is None else Action(verb=verb, fields=tuple(fields))

    def _sign(self, payload: str) -> str:
        signature = self._signatures.get(payload)
        if signature is None:
            digest = hashlib.blake2b(payload.encode(), key=self._key, digest_size=6).digest()
            signature = base64.urlsafe_b64encode(digest).decode()  # 6 bytes → exactly 8 characters
            if len(self._signatures) >= _SIGNATURE_CACHE:
                self._signatures.clear()
            self._signatures[payload] = signature
        return signature
