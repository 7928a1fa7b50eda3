"""The outbox: a claimed row, as the drainer sends it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    platform: str
    target: str
    payload: str
    attempts: int
