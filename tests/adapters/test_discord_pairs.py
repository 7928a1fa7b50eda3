"""Ideas judged in pairs on Discord: /judge shows two ideas with buttons, a click on A records the
judgement, and /ideas best ranks the ideas with their upvotes beside the score."""

from __future__ import annotations

from bot.engine import Engine
from tests.adapters.harness import ALICE, BOB, CAROL, CHANNEL, GUILD, DiscordDeployment, count, custom_id, shown
from tests.fakes.discord.server import FakeDiscordServer

IDEAS = {ALICE: "Pumpkin spice latte with oat milk", BOB: "Board games on Sunday afternoons for everyone"}


async def test_judge_serves_a_pair_and_a_click_on_a_records_it(
    dc: FakeDiscordServer, running: DiscordDeployment, engine: Engine
) -> None:
    for author, text in IDEAS.items():
        form = (await (await dc.slash(author, GUILD, CHANNEL, "idea")).response())["data"]
        await shown(dc, await dc.submit_modal(author, GUILD, CHANNEL, form["custom_id"], {"text": text}), "saved")
    pair = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "judge"), "Which would you rather see?")
    labels = [item.get("label") for row in pair["components"] for item in row["components"]]
    assert labels[:3] == ["A", "B", "Can't decide"]
    await shown(dc, await dc.click(CAROL, pair, custom_id(pair, "A", exact=True)), "Noted, thank you!")
    assert await count(engine, "SELECT COUNT(*) FROM idea_judgements WHERE winner_id IS NOT NULL") == 1
    best = await shown(dc, await dc.slash(CAROL, GUILD, CHANNEL, "ideas", {"order": "best"}), "score")
    assert "👍 0" in best["content"] and "1 judgement" in best["content"]
