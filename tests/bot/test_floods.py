"""A member flooding the bot is slowed down politely; everyone else carries on; memory stays bounded."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.commands import dispatch
from bot.engine import Engine
from bot.ratelimit import Admission, RateLimiter
from bot.replies import Outcome, to_plain
from tests.helpers import button, open_task


async def test_a_thousand_commands_in_a_second_are_slowed_down_and_others_are_served(
    engine: Engine, person, cafe
) -> None:
    flooder, neighbour = person("Flood"), person("Nina")
    replies = await asyncio.gather(*(dispatch(engine, flooder, cafe, "/points") for _ in range(1000)))
    outcomes = Counter(reply.outcome for reply in replies if reply is not None)
    burst = engine.services.settings.limits.burst
    assert outcomes[Outcome.REFUSED] >= 1000 - burst - 5
    refused = [reply for reply in replies if reply is not None and reply.outcome == Outcome.REFUSED]
    assert "slow down" in to_plain(refused[0].text)
    assert sum(not reply.quiet for reply in refused) == 1, "told once; the rest are quiet, for adapters to drop"
    question = await open_task(engine, neighbour, cafe, "What do you order")
    answered = await engine.act(neighbour, cafe, button(question, "Latte"))
    assert answered.outcome == Outcome.DONE, "the neighbour is not slowed by the flood"
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM users WHERE display_name = 'Flood'") == 1


async def test_buttons_and_typed_answers_count_against_the_same_limit(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    question = await open_task(engine, ana, cafe, "What do you order")
    taps = await asyncio.gather(*(engine.act(ana, cafe, button(question, "Latte")) for _ in range(200)))
    outcomes = Counter(reply.outcome for reply in taps)
    assert outcomes[Outcome.DONE] == 1 and outcomes[Outcome.REFUSED] > 150
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers") == 1


async def test_idea_submissions_have_their_own_hourly_limit(engine: Engine, person, cafe, clock) -> None:
    ana = person("Ana")
    limit = engine.services.settings.limits.ideas_per_hour
    topics = [
        "espresso",
        "pastries",
        "music",
        "seats",
        "wifi",
        "plants",
        "lights",
        "books",
        "games",
        "tea",
        "cups",
        "soups",
    ]
    for number in range(limit):
        reply = await dispatch(engine, ana, cafe, f"/idea A new idea about {topics[number]} number {number} please")
        assert reply is not None and reply.outcome != Outcome.REFUSED, to_plain(reply.text)
    refused = await dispatch(engine, ana, cafe, "/idea One more idea about the garden terrace")
    assert refused is not None and refused.outcome == Outcome.REFUSED
    assert "in the last hour" in to_plain(refused.text)


def test_the_limiter_forgets_the_least_recent_members_so_memory_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 2, max_keys=1000, clock=lambda: now[0])
    for member in range(50_000):
        limiter.allow(member)
    assert len(limiter) == 1000
    assert limiter.allow("fresh") and limiter.allow("fresh") and not limiter.allow("fresh")
    now[0] += 1.0
    assert limiter.allow("fresh")


def test_a_flooder_is_told_to_slow_down_once_per_window_whatever_they_send_in_between() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 2, clock=lambda: now[0])  # the window: 2 s, what an empty bucket takes to fill
    said = [limiter.admit("flo") for _ in range(6)]
    assert said == [Admission.ALLOWED] * 2 + [Admission.REFUSED] + [Admission.REFUSED_QUIETLY] * 3
    now[0] = 1.0
    assert [limiter.admit("flo") for _ in range(2)] == [Admission.ALLOWED, Admission.REFUSED_QUIETLY]
    now[0] = 2.5
    assert [limiter.admit("flo") for _ in range(3)] == [
        Admission.ALLOWED,
        Admission.REFUSED,
        Admission.REFUSED_QUIETLY,
    ]
    assert limiter.admit("nina") is Admission.ALLOWED, "everyone else has a bucket of their own"
