"""The Bot API client's HTTP: the gate in front of its connections lets a tap's answer in before waiting
messages and edits, a request cancelled while waiting holds no place, and the aiohttp client speaks to
the Bot API as PTB's own client did."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.error import BadRequest, TimedOut

from adapters.telegram_http import GatedRequest, PriorityGate
from tests.fakes.telegram.server import FakeTelegramServer


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


async def test_the_bot_api_client_uploads_a_file_reads_errors_and_times_out_as_ptb_does(tg: FakeTelegramServer) -> None:
    """Over aiohttp, what PTB's own httpx client did: a document goes as a multipart file with its name
    and type (and its caption as a field), Telegram's refusal is PTB's ``BadRequest``, a response slower
    than the read timeout is PTB's ``TimedOut``, and a downloaded file comes back byte for byte."""
    ana = tg.user(701, "Ana")
    chat = tg.private_chat(ana)
    bot = Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url, request=GatedRequest(2, read_timeout=0.5))
    async with bot:
        sent = await bot.send_document(chat["id"], b"id,answer\n1,Tea\n", filename="answers.csv", caption="Ça va")
        assert sent.document is not None and sent.caption == "Ça va"
        upload = tg.calls_to("sendDocument")[-1]["document"]
        assert (upload.filename, upload.data) == ("answers.csv", b"id,answer\n1,Tea\n")
        assert upload.content_type == "text/csv"
        file = await bot.get_file(sent.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"id,answer\n1,Tea\n"

        with pytest.raises(BadRequest):
            await bot.send_message(chat["id"], "")
        tg.delay_next("sendMessage", 1.5)
        with pytest.raises(TimedOut):
            await bot.send_message(chat["id"], "too late")
