"""What the fake remembers of the bot's behaviour, in the shapes tests inspect.

Why separate records: a test asserts on what the bot did (``dc.calls``, ``dc.errors``, ``dc.flood_errors``)
and a session-wide check looks at :data:`NEVER_ACKNOWLEDGED`; these small immutable records are that
vocabulary, shared by the modules that write them and the server that exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

NEVER_ACKNOWLEDGED: list[str] = []
"""Every fake server's interactions that nobody acknowledged in time, noted as each server closes, so one
check over the whole test session (tests/conftest.py) finds a member left with "This interaction failed"."""


class Call(NamedTuple):
    """One REST request the bot made (path is relative to ``/api/v10``, without the query)."""

    method: str
    path: str
    json: Any
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An error reply the fake returned; ``injected`` marks the ones a test asked for."""

    method: str
    path: str
    status: int
    code: int | None
    message: str
    injected: bool = False


class FloodError(NamedTuple):
    """One 429 given for a channel's limit (:class:`~.limits.FloodLimits`), in the order they were given."""

    method: str
    path: str
    channel_id: int
    retry_after: float
