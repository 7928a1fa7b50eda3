"""``crowdpulse demo``: a small community plays through the starter catalog, printed as transcripts.

Deterministic (a seeded choice per user) and self-contained: it uses its own database under ``--out``,
never the operator's.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from adapters.console import SPACE, ConsoleSession
from bot.app import running_engine
from bot.features.rewards import add_reward
from bot.settings import load_settings
from bot.store.records import CodeLine

COMMUNITY = [("Ana", "en"), ("Mihai", "ro"), ("Bogdan", "ro"), ("Chloe", "en"), ("Dev", "en")]
FREE_TEXT = {  # two members ask for seats in English, two in Romanian: two themes the moderator merges
    "Ana": "More seats near the window, please.",
    "Mihai": "Mai multe locuri lângă geam.",
    "Bogdan": "Locuri în plus lângă geam, vă rog.",
    "Chloe": "More seats by the window.",
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


IDEA_SCENE = [
    ("Ana", "en", "/idea More power outlets for laptops near the window"),
    ("Mihai", "ro", "/idea Un card de fidelitate care merge în aplicație"),
    ("Dev", "en", "/idea Please add more power sockets for laptops by the windows"),
    ("Dev", "en", "1"),  # the similar idea #1: upvote it instead of submitting a duplicate
    ("Bogdan", "ro", "/idea 2"),
    ("Bogdan", "ro", "1"),  # Upvote
]


async def _ideas_scene(session: ConsoleSession) -> None:
    """Ideas: two members propose, a third finds a near-duplicate and upvotes it, a moderator answers."""
    print("=== Ideas: members propose and upvote, a moderator answers ===")
    await _script(session, IDEA_SCENE)
    await _moderator(session, "/status 1 accepted Six new outlets by the window in March")
    session.switch("Chloe", "en")
    print("  Chloe> /ideas top")
    _print("Chloe", await session.say("/ideas top"))


PAIRS_SCENE = [
    ("Chloe", "en", "/idea Board games on Sunday afternoons for everyone"),
    ("Dev", "en", "/judge"),
    ("Dev", "en", "1"),  # A
    ("Dev", "en", "2"),  # B
    ("Dev", "en", "1"),
    ("Bogdan", "ro", "/judge"),
    ("Bogdan", "ro", "1"),
    ("Ana", "en", "/ideas best"),
]


async def _pairs_scene(session: ConsoleSession) -> None:
    """Ideas judged in pairs: "which would you rather see?", then the ranking with upvotes beside it."""
    print("=== Ideas judged in pairs: which would you rather see? ===")
    await _script(session, PAIRS_SCENE)


async def _script(session: ConsoleSession, lines: list[tuple[str, str, str]]) -> None:
    """Each (member, language, typed) in turn: what the member types, then what they see."""
    for name, language, typed in lines:
        session.switch(name, language)
        print(f"  {name}> {typed}")
        _print(name, await session.say(typed))


async def _themes_scene(session: ConsoleSession) -> None:
    """Themes: the moderator lists the typed answers' themes, merges the English and the Romanian one
    (the clustering never joins two languages), names it and promotes it to an option of the next round."""
    print("=== Themes: the moderator merges, names and promotes what members typed ===")
    session.switch("mod", "en")
    print("  mod> /themes")
    listing = await session.say("/themes")
    _print("mod", listing)
    typed = listing[0][listing[0].index("(one-change)") :]  # the free-text question's themes
    ids = [int(found) for found in re.findall(r"#(\d+) “(?:More seats|Mai multe locuri|Locuri)", typed)]
    if len(ids) < 2:  # the clustering put them otherwise: nothing to merge in this run
        return
    for command in (
        f"/theme merge {ids[0]} {ids[1]}",
        f"/theme rename {ids[0]} More seats by the window",
        f"/theme promote {ids[0]}",
    ):
        print(f"  mod> {command}")
        _print("mod", await session.say(command))


async def _rewards_scene(session: ConsoleSession, rng: random.Random) -> None:
    """Rewards: codes made up for this run's own database (real codes come from an operator's file)."""
    queries = session.engine.rewards.queries
    await add_reward(queries, "coffee", "Free coffee", 50, None)
    await add_reward(queries, "mug", "Corner Café mug", 500, 5)
    codes = [CodeLine(line, "coffee", f"DEMO-{rng.randrange(16**6):06X}") for line in range(1, 4)]
    await queries.import_codes(codes, datetime.now(UTC))
    print("=== Rewards: Ana spends her points, Dev saves up ===")
    session.switch("Ana", "en")
    _print("Ana", await session.say("/rewards"))
    for tap in ("1", "1"):  # the reward, then Redeem to confirm
        print(f"  Ana> {tap}")
        _print("Ana", await session.say(tap))
    _print("", await session.deliveries())
    _print("Ana", await session.say("/me"))
    session.switch("Dev", "en")
    print("  Dev> /redeem mug")
    _print("Dev", await session.say("/redeem mug"))


LINKED = "Eve"  # a member on Telegram and on Discord who links both accounts
# (who types, what) after linking: both accounts open the first question, the Telegram one answers it first
LINKED_ANSWERS = [("telegram", "/task"), ("discord", "/task"), ("telegram", "2"), ("discord", "3")]


async def _as(session: ConsoleSession, account: str, typed: str) -> None:
    """``account`` (``Eve@telegram``) types ``typed``; what it sees, then what the bot posts, is printed."""
    print(f"  {account}> {typed}")
    _print(account, await session.say(typed))
    if posted := await session.deliveries():
        _print("", posted)


async def _linked_accounts_scene(session: ConsoleSession) -> None:
    """Linked accounts: one person on two platforms answers once per task and keeps one balance.

    Linking happens in private chats (``/as Eve@telegram``); the answers are given in the café's room,
    where both accounts are members, as a person with the bot in a group on each platform would.
    """
    print(f"=== Linked accounts: {LINKED} links Telegram and Discord, then answers from both ===")
    telegram, discord = f"{LINKED}@telegram", f"{LINKED}@discord"
    session.switch(telegram, "en")
    shown = await session.say("/link")
    print(f"  {telegram}> /link")
    _print(telegram, shown)
    code = re.search(r"/link ([0-9A-Z]{8})", shown[0])
    assert code is not None, shown
    session.switch(discord, "en")
    await _as(session, discord, f"/link {code.group(1)}")
    session.switch(telegram, "en")
    _print("", await session.deliveries())  # the confirmation, on Telegram
    await _as(session, telegram, "1")  # Link
    for platform, typed in [*LINKED_ANSWERS, ("telegram", "/points"), ("discord", "/points")]:
        session.switch(f"{LINKED}@{platform}", "en")
        session.space = SPACE
        await _as(session, f"{LINKED}@{platform}", typed)


# What each starter pastry photo shows (the item file names only the gold ones): the careful members look.
PASTRIES = dict.fromkeys(("p01", "p05", "p07", "p10"), 1) | dict.fromkeys(("p02", "p04", "p08", "p11"), 2)
PASTRIES |= dict.fromkeys(("p03", "p06", "p09", "p12"), 3)
DEMO_KEY = "crowdpulse-demo-key-not-a-secret"
HURRIED = "Dev"  # taps the first option of every photo without looking
SHOWN_PHOTOS = 2  # photos printed per member; the rest are labelled quietly


async def _labelling_scene(session: ConsoleSession) -> None:
    """Labelling: the community sorts the starter's pastry photos; the moderator reads the quality report."""
    print("=== Labelling: members sort the pastry photos, one without looking ===")
    await _moderator(session, "/round open pastries 7d")
    second = sorted(COMMUNITY, key=lambda member: (member[0] != COMMUNITY[0][0], member[0] != HURRIED))
    for name, language in second:  # the hurried member right after the first, while photos are open
        session.switch(name, language)
        print(f"  {name}> /task pastries")
        seen = await session.say("/task pastries")
        _print(name, seen)
        labelled = 0
        while (reply := session.last[session.who]).image is not None:
            typed = "1" if name == HURRIED else str(PASTRIES[Path(reply.image.path).stem])
            seen = await session.say(typed)
            labelled += 1
            if labelled <= SHOWN_PHOTOS:
                print(f"  {name}> {typed}")
                _print(name, seen)
        if labelled > SHOWN_PHOTOS:
            print(f"  … {name} labels {labelled - SHOWN_PHOTOS} more photos …")
            _print(name, seen)
    await _moderator(session, "/quality")
    await _moderator(session, f"/round close {await _open_round(session, 'pastries')}")


async def _open_round(session: ConsoleSession, subject: str) -> int:
    """The number of the open round on ``subject``: the moderator names it once several are open."""
    return int(
        await session.engine.services.store.fetchval(
            "SELECT MAX(id) FROM rounds WHERE subject = ? AND status = 'open'", (subject,)
        )
    )


def _fresh_folder(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)


async def run_demo(out: Path) -> int:
    """Play the demo into ``out`` (emptied first); returns the process exit code."""
    await asyncio.to_thread(_fresh_folder, out)
    settings = load_settings()
    settings.limits.burst = 10_000  # the scripted members type faster than any person could
    if settings.storage.url:
        print(f"(the demo plays in the store the settings name: {settings.storage.url.split('@')[-1]})")
    else:
        settings.storage.path = out / "demo.db"
    if settings.secret_key is None:  # a fixed key replays the same gold draws (it signs this run's buttons only)
        settings.secret_key = SecretStr(DEMO_KEY)
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
                reply = session.last[session.who]
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
        await _themes_scene(session)
        await _ideas_scene(session)
        await _pairs_scene(session)
        await _labelling_scene(session)
        await _linked_accounts_scene(session)
        print("=== The moderator closes the round: results for the group, a summary for each member ===")
        await _moderator(session, f"/round close {await _open_round(session, 'coffee')}")
        if session.images:
            chart = out / "results.png"
            chart.write_bytes(session.images[-1])
            print(f"(results chart written to {chart})\n")
        print("=== Leaderboard ===")
        _print("", await session.say("/top"))
        await _rewards_scene(session, rng)
        print("=== Ana's points ===")
        session.switch("Ana", "en")
        _print("", await session.say("/points"))
    print(f"(demo database: {settings.storage.url.split('@')[-1] if settings.storage.url else out / 'demo.db'})")
    return 0
