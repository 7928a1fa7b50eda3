from tests.adapters.test_discord import *  # noqa
from tests.adapters.test_discord import dc, bot, running  # noqa

async def test_dbg(dc, running, engine, tmp_path):
    queries = RewardQueries(engine.store)
    await add_reward(queries, "mug", "Café mug", 10, None)
    codes = tmp_path / "codes.csv"
    codes.write_text("reward_id,code\nmug,MUG-7Q2X\nmug,MUG-9K4P\n", encoding="utf-8")
    await import_codes(queries, codes)
    await (await dc.slash(ALICE, GUILD, CHANNEL, "start")).response()
    redeemed = await dc.slash(ALICE, GUILD, CHANNEL, "redeem", {"reward": "mug"})
    await shown(dc, redeemed, "Your code")
    await asyncio.sleep(2)
    print([tuple(r) for r in await engine.store.fetchall("SELECT id, platform, target, not_before, claimed_at, sent_at, attempts, last_error FROM outbox")])
    print(engine.clock())
    print([ (c.method, c.path) for c in dc.calls][-6:])
