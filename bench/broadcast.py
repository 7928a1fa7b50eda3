"""Benchmark 6: one message to every subscriber through the outbox, at Telegram's flood limits.

The messages are queued in the outbox (one row per subscriber, as a cause's unit of work would) and sent
by the Telegram adapter's own drainer (``TelegramAdapter.drainer()``: its pacer, its sender and PTB) to
the fake Bot API server with flood control on: 30 messages/s overall, 1/s per chat.

To keep the run short, the fake's clock runs ``1 / TIME_SCALE`` times faster, and so do the client's
clocks: the pacers' rates and intervals are scaled by the same factor when the adapter builds them (a
pacer's per-group minute is not, and does not apply: every subscriber is a private chat). The allowed
rate is the fake's overall limit under that same scale, so the ratio achieved/allowed is the one an
unscaled run would give, unless the bot itself cannot keep up at the shortened pace
(``broadcast.achieved_vs_own_pacer`` below 1 would say so). The achieved rate is measured between the
first and the last delivery.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import adapters.telegram
from adapters.telegram import TelegramAdapter
from bench.fakes import FakeProcess
from bench.runner import Context, Figure, Target, ratio
from bench.telegram_e2e import settings_for
from bench.world import engine_on
from bot.outbox.drainer import Pacer
from bot.outbox.payloads import reply_payload, user_target
from bot.replies import Reply
from bot.store.effects import enqueue
from bot.texts import Markup
from tests.fakes.telegram.limits import GLOBAL_MESSAGES_PER_SECOND

FULL_SUBSCRIBERS = 10_000
QUICK_SUBSCRIBERS = 200
TIME_SCALE = 0.4  # flood windows (and the client's clocks) last 0.4 of real time: the bot keeps up
DRAIN_TIMEOUT = 300.0
RATE_TARGET = Target(">=", 0.95)
NONE = Target("==", 0)
MESSAGE = Markup("📣 The winter menu is out: come and taste it this week!")


@contextmanager
def shortened_clocks(scale: float, paced: list[float]) -> Iterator[None]:
    """While the adapter is built, its Pacers get every period times ``scale``.

    ``paced`` receives the scaled overall rate of each Pacer made (unlimited for the adapter's group pacer).
    """

    def pacer(
        per_second: float,
        per_target_interval: float = 0.0,
        group_per_minute: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> Pacer:
        paced.append(per_second / scale)
        return Pacer(per_second / scale, per_target_interval * scale, group_per_minute, clock)

    names = vars(adapters.telegram)  # the adapter looks the name up in its module when it builds a pacer
    saved = names["Pacer"]
    names["Pacer"] = pacer
    try:
        yield
    finally:
        names["Pacer"] = saved


class Deliveries:
    """Wraps the drainer's sender to note when each delivery was accepted, and when all of them were."""

    def __init__(self, send: Callable[[str, Reply], Awaitable[None]], expected: int) -> None:
        self._send = send
        self.expected = expected
        self.times: list[float] = []
        self.all_done = asyncio.Event()

    async def send(self, target: str, reply: Reply) -> None:
        await self._send(target, reply)
        self.times.append(time.perf_counter())
        if len(self.times) >= self.expected:
            self.all_done.set()

    @property
    def rate(self) -> float:
        """Deliveries per second between the first and the last."""
        times = self.times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


async def run(ctx: Context) -> list[Figure]:
    count = QUICK_SUBSCRIBERS if ctx.quick else FULL_SUBSCRIBERS
    subscribers = list(itertools.islice(itertools.count(8_000_000), count))
    paced: list[float] = []
    async with (
        FakeProcess("telegram", flood_limits=True, time_scale=TIME_SCALE) as fake,
        engine_on(ctx.workdir / "broadcast.db") as engine,
    ):
        await fake.call("members", ids=subscribers)
        now = engine.services.clock()
        payload = reply_payload(Reply(MESSAGE))
        await engine.services.store.write(
            lambda db: [
                enqueue(
                    db,
                    platform="telegram",
                    target=user_target(str(subscriber)),
                    payload=payload,
                    now=now,
                    dedup_key=f"bench-broadcast:{subscriber}",
                )
                for subscriber in subscribers
            ]
        )
        with shortened_clocks(TIME_SCALE, paced):
            adapter = TelegramAdapter(engine, settings_for(engine.services.settings, fake.info))
            drainer = adapter.drainer()
        deliveries = Deliveries(drainer.send, count)
        drainer.send = deliveries.send
        async with adapter.application:
            stop = asyncio.Event()
            draining = asyncio.create_task(drainer.run(stop))
            finished = asyncio.create_task(deliveries.all_done.wait())
            await asyncio.wait({draining, finished}, timeout=DRAIN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            finished.cancel()
            await draining
        unsent = int(await engine.services.store.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL", (), 0))
        seen = await fake.call("delivered", ids=subscribers)
    achieved = deliveries.rate
    own_pace = next(rate for rate in paced if math.isfinite(rate))  # the drainer's
    allowed = GLOBAL_MESSAGES_PER_SECOND / TIME_SCALE
    note = f"{count} private chats, clocks x{1 / TIME_SCALE:g}"
    return [
        Figure("broadcast.achieved", achieved, "msgs/s", note=note),
        Figure("broadcast.allowed", allowed, "msgs/s", note="Telegram's 30/s overall, scaled"),
        Figure("broadcast.achieved_vs_allowed", ratio(achieved, allowed), "ratio", RATE_TARGET),
        Figure(
            "broadcast.achieved_vs_own_pacer",
            ratio(achieved, own_pace),
            "ratio",
            note=f"the adapter paces at {own_pace * TIME_SCALE:g}/s unscaled",
        ),
        Figure("broadcast.flood_429s", float(seen["flood_errors"]), "count", NONE),
        Figure("broadcast.lost", float(seen["lost"] + unsent), "messages", NONE),
        Figure("broadcast.repeated", float(seen["repeated"]), "messages", NONE),
    ]
