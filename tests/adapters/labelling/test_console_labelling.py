"""Labelling jobs in the console, where an operator tries one before members see it: the photo is a path
to open, the options numbered buttons, and a transcription is typed like any answer."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.console import ConsoleSession
from bot.engine import Engine
from tests.adapters.harness import number_of
from tests.adapters.labelling.jobs import PHOTO_PROMPT, RECEIPT_LINES, RECEIPTS_PROMPT, labels, pastry_in


def photo_path(question: str) -> Path:
    """The file the console names on the question's first line (``[image: …]``)."""
    found = re.match(r"\[image: (.+)\]\n", question)
    assert found is not None, question
    return Path(found.group(1))


async def test_an_operator_tries_the_starter_photos_and_a_transcription_in_the_console(engine: Engine) -> None:
    session = ConsoleSession(engine)
    session.switch("mod")
    assert "is open" in (await session.say("/round open pastries"))[-1]
    assert "is open" in (await session.say("/round open receipts"))[-1]
    session.switch("Ana")
    shown = await session.say("/task pastries")
    question = shown[-1]
    assert PHOTO_PROMPT in question
    assert "[1] Croissant  [2] Muffin\n[3] Cinnamon roll\n[4] Can't tell 🤷  [5] Enough for now ⏭" in question
    shown = await session.say(number_of(shown, pastry_in(photo_path(question).read_bytes())))
    assert shown[0].startswith("✅ Recorded:") and PHOTO_PROMPT in shown[-1]
    shown = await session.say(number_of(shown, "Can't tell"))
    assert shown[0] == "Passed: no answer, no points. Here is another one." and PHOTO_PROMPT in shown[-1]
    shown = await session.say(number_of(shown, "Enough for now"))
    assert shown[0] == "Skipped." and RECEIPTS_PROMPT in shown[-1], "out of the job, on to the next round"

    line = next(line for line in RECEIPT_LINES.values() if line in shown[-1])
    assert "Reply with your answer" in shown[-1]
    shown = await session.say(line)
    assert shown[0].startswith(f"✅ Recorded: {line} (+")
    assert await labels(engine, "pastry-photos") == 2
    assert await labels(engine, "receipt-lines", f"value = '\"{line}\"'") == 1
