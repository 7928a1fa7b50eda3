"""Per-chat send queues: order per chat, no chat waiting for another, waits honoured, bounds kept.

Sends here are plain coroutines that note what happened in a list; a "slow" send waits on an event the
test sets, so every assertion is about the order of events, never about how long something took.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from adapters.send_queue import RateLimited, SendQueue
from adapters.telegram_rendering import Delivery, Request


def noting(
    events: list[str], name: str, gate: asyncio.Event | None = None, done: asyncio.Event | None = None
) -> Callable[[], Awaitable[None]]:
    """A send that waits for ``gate`` (if any), notes ``name``, then sets ``done`` (if any)."""

    async def send() -> None:
        if gate is not None:
            await gate.wait()
        events.append(name)
        if done is not None:
            done.set()

    return send


@pytest.fixture
def queue() -> SendQueue[Hashable]:
    return SendQueue("test")


@pytest.fixture
def events() -> list[str]:
    """What the sends did, in order."""
    return []


async def test_sends_to_one_chat_keep_their_order_and_a_stuck_chat_holds_up_no_other(
    queue: SendQueue[Hashable], events: list[str]
) -> None:
    released, calm_done = asyncio.Event(), asyncio.Event()
    queue.put("flooded", noting(events, "flooded 1", released))
    queue.put("flooded", noting(events, "flooded 2"))
    queue.put("calm", noting(events, "calm 1"))
    queue.put("calm", noting(events, "calm 2", done=calm_done))
    await calm_done.wait()
    assert events == ["calm 1", "calm 2"] and queue.pending("flooded") == 2
    released.set()
    await queue.join()
    assert events == ["calm 1", "calm 2", "flooded 1", "flooded 2"]
    assert queue.total == 0


async def test_a_rate_limited_send_is_called_again_after_the_wait_and_the_next_one_waits_for_it(
    queue: SendQueue[Hashable], events: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    refusals = iter([RateLimited(0, "sendMessage"), RateLimited(0, "sendMessage")])

    async def limited() -> None:
        refusal = next(refusals, None)
        if refusal is not None:
            events.append("429")
            raise refusal
        events.append("first")

    with caplog.at_level(logging.WARNING):
        queue.put(7, limited)
        queue.put(7, noting(events, "second"))
        await queue.join()
    assert events == ["429", "429", "first", "second"]
    waits = [record.getMessage() for record in caplog.records]
    assert waits == ["send=rate_limited queue=test chat=7 method=sendMessage wait=0.0s"] * 2
    assert not [record for record in caplog.records if record.exc_info]


async def test_a_send_refused_again_and_again_is_given_up_and_the_chat_goes_on(events: list[str]) -> None:
    queue: SendQueue[int] = SendQueue("test", max_waits=2)

    async def always_limited() -> None:
        events.append("429")
        raise RateLimited(0, "sendMessage")

    queue.put(7, always_limited)
    queue.put(7, noting(events, "next"))
    await queue.join()
    assert events == ["429", "429", "429", "next"]
    assert queue.dropped == 1


async def test_a_chat_far_behind_drops_further_sends_and_says_identical_waiting_ones_once(events: list[str]) -> None:
    queue: SendQueue[int] = SendQueue("test", max_per_chat=3)
    released = asyncio.Event()
    assert queue.put(7, noting(events, "stuck", released))
    assert queue.put(7, noting(events, "points"), coalesce="You have 5 points")
    assert queue.put(7, noting(events, "points again"), coalesce="You have 5 points"), "said by the first"
    assert queue.put(7, noting(events, "top"), coalesce="Leaderboard")
    assert not queue.put(7, noting(events, "one too many"))
    released.set()
    await queue.join()
    assert events == ["stuck", "points", "top"] and queue.dropped == 1


async def test_an_error_the_send_left_unhandled_is_logged_and_the_next_send_goes(
    queue: SendQueue[Hashable], events: list[str], caplog: pytest.LogCaptureFixture
) -> None:

    async def broken() -> None:
        raise ValueError("a bug")

    with caplog.at_level(logging.ERROR):
        queue.put(7, broken)
        queue.put(7, noting(events, "next"))
        await queue.join()
    assert events == ["next"]
    assert [record.exc_info is not None for record in caplog.records] == [True], "a bug keeps its traceback"


async def test_closing_abandons_what_did_not_go_out_in_the_grace_and_takes_no_more(
    queue: SendQueue[Hashable], events: list[str]
) -> None:
    queue.put(7, noting(events, "stuck", asyncio.Event()))
    queue.put(7, noting(events, "behind it"))
    queue.put(8, noting(events, "goes"))
    assert await queue.close(grace=0) == 2
    assert events == ["goes"]
    assert not queue.put(9, noting(events, "too late"))
    assert queue.total == 0


async def test_a_telegram_delivery_resumes_with_the_request_that_got_the_429_and_repeats_none(
    queue: SendQueue[Hashable], events: list[str]
) -> None:
    """A reply of three messages whose second one meets flood control: the first is not sent twice."""
    refused = [False]

    def message(name: str) -> Request:
        async def send() -> None:
            if name == "two" and not refused[0]:
                refused[0] = True
                events.append("429")
                raise RetryAfter(timedelta(0))
            events.append(name)

        return ("sendMessage", send)

    async def failed(method: str, error: Exception) -> None:
        events.append(f"failed {method}")

    queue.put(
        7, Delivery([message("one"), message("two"), message("three")], failed, sent=lambda: events.append("sent"))
    )
    await queue.join()
    assert events == ["one", "429", "two", "three", "sent"]
