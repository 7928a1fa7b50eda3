"""``crowdpulse demo``: a small community plays through the starter catalog, printed as transcripts.

Deterministic (a seeded choice per user) and self-contained: it uses its own database under ``--out``,
never the operator's.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from adapters.console import ConsoleSession
from bot.app import running_engine
from bot.settings import load_settings

COMMUNITY = [("Ana", "en"), ("Mihai", "ro"), ("Bogdan", "ro"), ("Chloe", "en"), ("Dev", "en")]
FREE_TEXT = {
    "Ana": "More seats near the window, please.",
    "Mihai": "Mai multe prize pentru laptopuri.",
    "Bogdan": "Program prelungit în weekend.",
    "Chloe": "A loyalty card that works in the app.",
    "Dev": "Quieter music in the morning.",
}


def _print(speaker: str, lines: list[str]) -> None:
    for line in lines:
        print("    " + line.replace("\n", "\n    "))
    print()


async def _moderator(session: ConsoleSession, command: str) -> None:
    """The console moderator ("mod" in the default settings) runs a command; announcements follow."""
    session.switch("mod", "en")
    print(f"  mod> {command}")
    _print("mod", await session.say(command))
    _print("", await session.deliveries())


async def run_demo(out: Path) -> int:
    """Play the demo into ``out``; returns the process exit code."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    settings = load_settings(storage={"path": out / "demo.db"})
    rng = random.Random(7)
    async with running_engine(settings) as engine:
        session = ConsoleSession(engine)
        print("=== A moderator opens this week's coffee round ===")
        await _moderator(session, "/round open coffee 7d")
        for name, language in COMMUNITY:
            print(f"=== {name} ({language}) ===")
            session.switch(name, language)
            seen = await session.say("/start")
            _print(name, seen)
            for _ in range(20):
                reply = session.last[session.user.platform_user_id]
                if reply.text_input is not None:
                    typed = FREE_TEXT[name]
                elif reply.select is not None:
                    _print(name, await session.say("1"))
                    _print(name, await session.say("2"))
                    typed = str(len(reply.select.options) + 1)  # Submit follows the options
                elif reply.buttons:
                    choices = sum(len(row) for row in reply.buttons) - 1  # the last button is Skip
                    typed = str(rng.randint(1, choices))
                else:
                    break
                print(f"  {name}> {typed}")
                seen = await session.say(typed)
                _print(name, seen)
        print("=== The moderator closes the round ===")
        await _moderator(session, "/round close")
        if session.images:
            chart = out / "results.png"
            chart.write_bytes(session.images[-1])
            print(f"(results chart written to {chart})\n")
        print("=== Leaderboard ===")
        _print("", await session.say("/top"))
        print("=== Ana's points ===")
        session.switch("Ana", "en")
        _print("", await session.say("/points"))
    print(f"(demo database: {out / 'demo.db'})")
    return 0
