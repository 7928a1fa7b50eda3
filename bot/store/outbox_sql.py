"""Outbox and audit rows written inside other units of work (same transaction as their cause)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any


def enqueue(
    db: sqlite3.Connection,
    *,
    platform: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    dedup_key: str | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue a message; a ``dedup_key`` seen before queues nothing (returns ``False``)."""
    cursor = db.execute(
        "INSERT INTO outbox (platform, target, payload, dedup_key, not_before) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (dedup_key) DO NOTHING",
        (platform, target, json.dumps(payload, ensure_ascii=False), dedup_key, (not_before or now).isoformat()),
    )
    return cursor.rowcount == 1


def audit(
    db: sqlite3.Connection, *, space_id: int | None, moderator_id: int | None, action: str, target: str = "",
    detail: str = "", now: datetime,
) -> None:
    db.execute(
        "INSERT INTO audit (space_id, moderator_id, action, target, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (space_id, moderator_id, action, target, detail, now.isoformat()),
    )
