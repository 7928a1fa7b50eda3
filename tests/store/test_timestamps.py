"""Timestamps are stored as UTC text: one instant, one text, whatever zone it was taken in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.store.timestamps import from_text, to_text

BUCHAREST = ZoneInfo("Europe/Bucharest")


def test_the_same_instant_in_two_zones_is_stored_as_the_same_text() -> None:
    moment = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert to_text(moment) == to_text(moment.astimezone(BUCHAREST)) == "2026-07-01T09:30:00.000000+00:00"


def test_the_hour_repeated_when_summer_time_ends_is_stored_as_its_own_instant() -> None:
    summer = datetime(2026, 10, 25, 3, 30, tzinfo=BUCHAREST)  # 03:30 EEST, before the clocks go back
    winter = summer.replace(fold=1)  # 03:30 again an hour later, EET
    assert from_text(to_text(summer)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert from_text(to_text(winter)) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
