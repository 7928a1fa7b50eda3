"""The gate in front of the Bot API client's connections: a tap's answer is let in before waiting
messages and edits, and a request cancelled while waiting holds no place."""

from __future__ import annotations

import asyncio

from adapters.telegram_http import PriorityGate


async def test_a_waiting_tap_answer_goes_before_the_messages_waiting_ahead_of_it() -> None:
    gate = PriorityGate(1)
    await gate.acquire(urgent=False)
    order: list[str] = []

    async def request(name: str, urgent: bool) -> None:
        await gate.acquire(urgent=urgent)
        order.append(name)
        gate.release()

    waiting = [
        asyncio.create_task(request(name, urgent))
        for name, urgent in (("edit", False), ("next question", False), ("toast", True))
    ]
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*waiting)
    assert order == ["toast", "edit", "next question"]


async def test_a_request_cancelled_while_waiting_leaves_its_turn_to_the_next() -> None:
    gate = PriorityGate(1)
    await gate.acquire(urgent=False)
    abandoned = asyncio.create_task(gate.acquire(urgent=True))
    after = asyncio.create_task(gate.acquire(urgent=False))
    await asyncio.sleep(0)
    abandoned.cancel()
    gate.release()
    await asyncio.wait_for(after, 1)
    assert abandoned.cancelled()
