"""The dashboard's Ideas page shows the pairs' score and judgements beside the upvotes."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from bot.actions import Verb
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from tests.adapters.dashboard.conftest import add_teammate, sign_in
from tests.bot.conftest import submit
from tests.conftest import FakeClock


async def test_the_ideas_page_shows_pairs_scores_beside_upvotes(
    engine: Engine,
    client: httpx.AsyncClient,
    community: int,
    clock: FakeClock,
    cafe: SpaceRef,
    person: Callable[..., UserRef],
) -> None:
    loved = await submit(engine, person("Bob"), cafe, "Board games on Sunday afternoons for everyone")
    codec = engine.services.codec
    for n in range(8):  # the crowd prefers Bob's idea (2) to Ana's (1), which has the early upvote
        await engine.act(person(f"Judge{n}"), cafe, codec.pack(Verb.JUDGE, 0, 0, 1, loved, "b"))
    await engine.ideas.vote(await engine.context(person("Fan"), cafe), 1, up=True)
    await add_teammate(engine, "lena", "viewer", clock)
    await sign_in(client, "lena")
    page = await client.get(f"/c/{community}/ideas")
    assert page.status_code == 200
    assert "<th>Votes</th>" in page.text and "<th>Pairs score</th><th>Judgements</th>" in page.text
    cells = {
        number: (votes, score, judged)
        for number, votes, score, judged in re.findall(
            r"<td>#(\d+)</td>.*?<td>(\d+)</td>.*?<td>(\d+)<br><small>[^<]*</small></td>\s*<td>(\d+)</td>",
            page.text,
            re.S,
        )
    }
    assert cells[str(loved)][0] == "0" and cells["1"][0] == "1"  # the upvote went to the early idea
    assert int(cells[str(loved)][1]) > int(cells["1"][1])  # the pairs prefer the later one
    assert cells[str(loved)][2] == cells["1"][2] == "8"
    assert "clearly ahead of the next" in page.text
    romanian = await client.get(f"/c/{community}/ideas", headers={"accept-language": "ro"})
    assert "Scor în perechi" in romanian.text
