"""Closing the loop through the fake Telegram server: when an admin closes a round, each member who
answered gets exactly one private summary (none for a member who chose /quiet, none for a member who
answered nothing), and the same close delivered again after a restart sends nobody a second one."""

from __future__ import annotations

from bot.engine import Engine
from bot.settings import Settings
from tests.adapters.harness import count, running_telegram_bot, tap, texts, wait_for_question
from tests.fakes.telegram.server import FakeTelegramServer

GROUP = -1005
ADMIN = 501
RESPONDENTS = {502: "Ana", 503: "Bea", 504: "Cal"}
QUIET, OUTSIDER = 503, 505


def summaries(tg: FakeTelegramServer, member: int) -> list[str]:
    return [text for text in texts(tg, member) if "is closed" in text]


async def test_closing_a_round_sends_each_respondent_one_summary_even_when_the_close_is_redelivered(
    engine: Engine, settings: Settings, tg: FakeTelegramServer
) -> None:
    admin = tg.user(ADMIN, "Admin")
    group = tg.group(GROUP, "Café regulars")
    tg.set_admins(GROUP, [ADMIN])
    tg.user(OUTSIDER, "Outsider")
    async with running_telegram_bot(engine, settings, tg):
        tg.send_text(admin, group, "/round open coffee")
        await tg.wait_for(lambda: any("New round" in text for text in texts(tg, GROUP)))
        for member_id, name in RESPONDENTS.items():
            member = tg.user(member_id, name)
            tg.send_text(member, group, "/task")
            await tg.wait_until_consumed()
            await wait_for_question(tg, GROUP)
            await tap(tg, member, GROUP, "Latte")
        quiet = tg.users[QUIET]
        tg.send_text(quiet, tg.private_chat(quiet), "/quiet")
        await tg.wait_for(lambda: any("won't get" in text for text in texts(tg, QUIET)))
        assert await count(engine, "SELECT COUNT(DISTINCT user_id) FROM answers") == len(RESPONDENTS)

        close = tg.send_text(admin, group, "/round close")
        await tg.wait_for(lambda: all(summaries(tg, m) for m in RESPONDENTS if m != QUIET), timeout=15)
        await tg.wait_until_consumed()
    queued = await count(engine, "SELECT COUNT(*) FROM outbox")
    answered = len(texts(tg, GROUP))
    tg.redeliver(close)  # Telegram sends the close again: the bot stopped before confirming it
    async with running_telegram_bot(engine, settings, tg):
        await tg.wait_for(lambda: len(texts(tg, GROUP)) > answered, timeout=10)  # the repeat is answered
        await tg.wait_until_consumed()
    assert await count(engine, "SELECT COUNT(*) FROM outbox") == queued, "the repeat queues nothing"

    assert {m: len(summaries(tg, m)) for m in (*RESPONDENTS, OUTSIDER)} == {502: 1, 503: 0, 504: 1, 505: 0}
    (summary,) = summaries(tg, 502)
    assert "What do you order most often? → Latte (100%)" in summary and "/quiet" in summary
    assert await count(engine, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
    assert await count(engine, "SELECT COUNT(*) FROM rounds WHERE status = 'closed'") == 1
