"""Repeated warnings are folded into one line and a count; other records pass untouched."""

from __future__ import annotations

import logging

import pytest

from adapters.log_repeats import RepeatFilter, folding_repeats

RATE_LIMITED = "send=rate_limited chat=%s method=%s wait=%.1fs"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("adapters.send_queue", level, __file__, 1, message, args, None)


def test_a_warning_repeated_within_the_window_is_counted_and_the_count_comes_with_the_next_one_shown() -> None:
    clock = ManualClock()
    folding = RepeatFilter(60, clock=clock)
    assert folding.filter(record(RATE_LIMITED, 1, "sendMessage", 1.0))
    for chat in range(2, 39):
        clock.now += 1
        assert not folding.filter(record(RATE_LIMITED, chat, "sendMessage", 1.0))
    clock.now = 61
    shown = record(RATE_LIMITED, 99, "sendMessage", 2.0)
    assert folding.filter(shown)
    assert (
        shown.getMessage()
        == "send=rate_limited chat=99 method=sendMessage wait=2.0s (37 more like this in the last 60 s)"
    )
    clock.now += 1
    assert not folding.filter(record(RATE_LIMITED, 100, "sendMessage", 1.0)), "a new window started"


def test_different_warnings_and_anything_below_warning_pass_on_their_own() -> None:
    folding = RepeatFilter(60, clock=ManualClock())
    assert folding.filter(record(RATE_LIMITED, 1, "sendMessage", 1.0))
    assert folding.filter(record("send=dropped chat=%s", 1))
    assert all(folding.filter(record("update=%s handled", n, level=logging.INFO)) for n in range(5))
    assert not folding.filter(record("send=dropped chat=%s", 2))


def test_folding_ends_with_the_block_so_one_run_never_silences_the_next(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("adapters.send_queue")
    with caplog.at_level(logging.WARNING, logger="adapters.send_queue"):
        with folding_repeats("adapters.send_queue"):
            for chat in range(3):
                logger.warning(RATE_LIMITED, chat, "sendMessage", 1.0)
        logger.warning(RATE_LIMITED, 9, "sendMessage", 1.0)
    assert [r.getMessage().split()[1] for r in caplog.records] == ["chat=0", "chat=9"]
