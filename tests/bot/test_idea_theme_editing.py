"""Moderators shape an ideas round's themes like those of typed answers, with ``i`` ids (``i12``) that
cannot be taken for answer themes' ids: rename, merge (English with Romanian) and split hold while new
ideas arrive and the ideas are clustered again; promote, members, forged, stale and mixed ids are refused
politely; every edit is audited."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from tests.bot.conftest import open_winter_menu, submit
from tests.bot.test_theme_editing import listed as answer_themes
from tests.helpers import say

MUSIC = (
    "The music is too loud",
    "Turn the music down please",
    "the music is way too loud",
    "less loud music please",
    "music too loud in the evening",
    "please lower the music",
    "the music is so loud",
    "music is much too loud",
)
MUZICA = ("Muzica e prea tare", "muzica prea tare dimineata", "dati muzica mai incet", "muzica este prea tare")
WIFI = (
    "wifi keeps dropping all day",
    "wifi drops all the time",
    "the wifi drops again",
    "wifi dropping during calls",
    "wifi connection drops all day",
    "wifi drops every hour",
)
_LINE = re.compile(r"^#i(\d+) “(.+)”: (\d+) ideas?")


def listed(reply: Reply) -> dict[str, tuple[int, int]]:
    """The ideas themes a reply lists: name → (idea id behind ``i``, count)."""
    return answer_themes(reply, _LINE)


def theme_of(themes: dict[str, tuple[int, int]], words: Sequence[str]) -> tuple[int, int]:
    """(id, count) of the listed theme whose name is one of ``words``."""
    return themes[next(name for name in themes if name in words)]


async def ideas_round(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef, texts: Sequence[str]
) -> tuple[int, UserRef]:
    round_id = await open_winter_menu(engine, person, cafe)
    await submit_all(engine, person, cafe, texts, "A")
    return round_id, person("Mod")


async def submit_all(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef, texts: Sequence[str], tag: str
) -> None:
    for number, text in enumerate(texts):
        await submit(engine, person(f"{tag}{number}"), cafe, text)


async def themes_now(engine: Engine, mod: UserRef, cafe: SpaceRef, round_id: int) -> dict[str, tuple[int, int]]:
    reply = await say(engine, mod, cafe, f"/themes {round_id}")
    assert reply.private and reply.outcome is not Outcome.REFUSED, to_plain(reply.text)
    return listed(reply)


async def test_ideas_themes_are_listed_with_i_ids_of_their_central_ideas(engine: Engine, person, cafe) -> None:
    round_id, mod = await ideas_round(engine, person, cafe, MUSIC[:4] + WIFI[:3])
    reply = await say(engine, mod, cafe, f"/themes {round_id}")
    text = to_plain(reply.text)
    themes = listed(reply)
    assert sorted(count for _, count in themes.values()) == [3, 4], text
    idea_ids = await engine.services.store.fetchall("SELECT id FROM ideas")
    assert {theme_id for theme_id, _ in themes.values()} <= {row[0] for row in idea_ids}
    assert "/theme rename iID" in text and "/theme promote" not in text


async def test_a_renamed_ideas_theme_keeps_its_name_and_id_when_new_ideas_are_clustered_again(
    engine: Engine, person, cafe
) -> None:
    round_id, mod = await ideas_round(engine, person, cafe, MUSIC[:4] + WIFI[:4])
    music_id, _ = theme_of(await themes_now(engine, mod, cafe, round_id), MUSIC)
    reply = await say(engine, mod, cafe, f"/theme rename i{music_id} Quieter music")
    assert reply.outcome is Outcome.DONE and reply.private, to_plain(reply.text)
    assert listed(reply)["Quieter music"] == (music_id, 4)
    runs = engine.themes.full_runs
    await submit_all(engine, person, cafe, MUSIC[4:] + WIFI[4:], "B")  # half as many again: clustered again
    themes = await themes_now(engine, mod, cafe, round_id)
    assert engine.themes.full_runs > runs
    assert themes["Quieter music"] == (music_id, len(MUSIC))
    results = to_plain((await say(engine, mod, cafe, f"/results {round_id}")).text)
    assert f"“Quieter music”: {len(MUSIC)} ideas" in results, results
    audit = to_plain((await say(engine, mod, cafe, "/audit")).text)
    assert "renamed a theme" in audit and f"round {round_id} ideas" in audit


async def test_an_english_and_a_romanian_ideas_theme_merged_stay_merged_as_ideas_arrive(
    engine: Engine, person, cafe
) -> None:
    round_id, mod = await ideas_round(engine, person, cafe, MUSIC[:4] + MUZICA[:3] + WIFI[:3])
    themes = await themes_now(engine, mod, cafe, round_id)
    music_id, _ = theme_of(themes, MUSIC)
    muzica_id, _ = theme_of(themes, MUZICA)
    assert music_id != muzica_id  # the clustering never puts two languages together
    merged = await say(engine, mod, cafe, f"/theme merge i{music_id} #i{muzica_id}")
    assert merged.outcome is Outcome.DONE, to_plain(merged.text)
    await submit_all(engine, person, cafe, MUSIC[4:] + MUZICA[3:], "B")
    themes = await themes_now(engine, mod, cafe, round_id)
    assert theme_of(themes, MUSIC) == (music_id, len(MUSIC) + len(MUZICA))
    assert not any(name in MUZICA for name in themes)
    stale = await say(engine, mod, cafe, f"/theme rename i{muzica_id} Muzică")  # merged meanwhile
    assert stale.outcome is Outcome.STALE and f"#i{music_id}" in to_plain(stale.text)


async def test_ideas_moved_out_of_a_theme_stay_apart_as_ideas_arrive(engine: Engine, person, cafe) -> None:
    round_id, mod = await ideas_round(engine, person, cafe, MUSIC[:6] + WIFI[:3])
    music_id, _ = theme_of(await themes_now(engine, mod, cafe, round_id), MUSIC)
    rows = await engine.services.store.fetchall("SELECT id, text FROM ideas ORDER BY id")
    ids = {text: idea_id for idea_id, text in rows}
    moving = sorted(ids[text] for text in MUSIC[4:6] if ids[text] != music_id)[:1]
    reply = await say(engine, mod, cafe, f"/theme split i{music_id} {moving[0]}")
    assert reply.outcome is Outcome.DONE and "1 idea moved out of theme #i" in to_plain(reply.text)
    await submit_all(engine, person, cafe, MUSIC[6:] + WIFI[3:], "B")
    themes = await themes_now(engine, mod, cafe, round_id)
    assert theme_of(themes, MUSIC) == (music_id, len(MUSIC) - 1)
    apart = next(theme for theme in themes.values() if theme[0] == moving[0])
    assert apart == (moving[0], 1)
    stranger = ids[WIFI[0]]
    refused = await say(engine, mod, cafe, f"/theme split i{music_id} {stranger}")
    assert refused.outcome is Outcome.REFUSED
    assert f"Ideas #{stranger} are not in theme #i{music_id}" in to_plain(refused.text)


async def test_ideas_themes_refuse_promotion_members_forged_and_mixed_ids(engine: Engine, person, cafe) -> None:
    round_id, mod = await ideas_round(engine, person, cafe, MUSIC[:4] + WIFI[:3])
    music_id, _ = theme_of(await themes_now(engine, mod, cafe, round_id), MUSIC)
    edits = "SELECT COUNT(*) FROM theme_edits"
    promoted = await say(engine, mod, cafe, f"/theme promote i{music_id}")
    assert promoted.outcome is Outcome.REFUSED and "cannot become options" in to_plain(promoted.text)
    member = await say(engine, person("A1"), cafe, f"/theme rename i{music_id} Mine")
    assert member.outcome is Outcome.REFUSED
    for forged in ("i999999", f"{music_id}", "i0", "i99999999999999999999"):  # a bare number is an answer's id
        reply = await say(engine, mod, cafe, f"/theme rename {forged} Anything")
        assert reply.outcome is Outcome.REFUSED and "no theme" in to_plain(reply.text), forged
    wifi_id, _ = theme_of(await themes_now(engine, mod, cafe, round_id), WIFI)
    mixed = await say(engine, mod, cafe, f"/theme merge i{music_id} {wifi_id}")  # an ideas id without its i
    assert mixed.outcome is Outcome.REFUSED
    assert (await say(engine, mod, cafe, "/theme rename ix Name")).outcome is Outcome.REFUSED  # usage
    assert await engine.services.store.fetchval(edits) == 0
