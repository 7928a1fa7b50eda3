"""Moderators shape themes: ``/themes`` lists them with ids; rename, merge (across English and Romanian),
split and promote hold while answers keep arriving and the clustering runs again; forged and stale ids,
members, bad names and hostile answers are refused politely; a promoted theme is an option of the
campaign's next round, added once however many moderators promote it at once."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Sequence

from adapters.cli import main
from bot.engine import Engine
from bot.features.themes.clustering import cluster
from bot.features.themes.edits import SplitRuns, apply_edits, group_of
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.store.records import EditAction, ThemeEdit
from tests.bot.conftest import open_winter_menu, submit
from tests.bot.test_round_themes import MUSIC, PROMPT, WIFI, type_answers
from tests.conftest import REPO
from tests.helpers import button, open_task, say

MUZICA = (
    "Muzica e prea tare",
    "muzica prea tare dimineata",
    "dati muzica mai incet",
    "muzica mai incet va rog",
    "muzica este prea tare",
)
_LINE = re.compile(r"^#(\d+) “(.+)”: (\d+) answers?")


def listed(reply: Reply, pattern: re.Pattern[str] = _LINE) -> dict[str, tuple[int, int]]:
    """The themes a ``/themes`` reply lists (lines matching ``pattern``: id, name, count): name → (id, count)."""
    found = {}
    for line in to_plain(reply.text).splitlines():
        match = pattern.match(line)
        if match:
            found[match[2]] = (int(match[1]), int(match[3]))
    return found


def theme_of(themes: dict[str, tuple[int, int]], words: Sequence[str]) -> tuple[str, int, int]:
    """The listed theme whose name is one of ``words``: (name, id, count)."""
    name = next(name for name in themes if name in words)
    return name, *themes[name]


async def themes_now(engine: Engine, mod: UserRef, cafe: SpaceRef) -> dict[str, tuple[int, int]]:
    reply = await say(engine, mod, cafe, "/themes")
    assert reply.private and reply.outcome is not Outcome.REFUSED, to_plain(reply.text)
    return listed(reply)


async def a_round_with_two_themes(engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef) -> UserRef:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI[:8] + MUSIC[:8], "A")
    return mod


async def test_themes_lists_each_theme_with_an_id_a_count_and_its_words(engine: Engine, person, cafe) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    reply = await say(engine, mod, cafe, "/themes")
    text = to_plain(reply.text)
    assert "Themes of round #1" in text and "(one-change)" in text and "(wifi)" in text
    themes = listed(reply)
    assert sorted(count for _, count in themes.values()) == [8, 8]
    answer_ids = await engine.services.store.fetchall("SELECT id FROM answers WHERE task_id = 'one-change'")
    assert {theme_id for theme_id, _ in themes.values()} <= {row[0] for row in answer_ids}  # ids are answers'
    assert listed(await say(engine, mod, cafe, "/themes 1 one-change")) == themes
    refused = await say(engine, mod, cafe, "/themes 1 drink")
    assert refused.outcome is Outcome.REFUSED and "one-change" in to_plain(refused.text)


async def test_a_renamed_theme_keeps_its_name_and_id_when_answers_arrive_and_themes_are_recomputed(
    engine: Engine, person, cafe
) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    _, wifi_id, _ = theme_of(await themes_now(engine, mod, cafe), WIFI)
    reply = await say(engine, mod, cafe, f"/theme rename {wifi_id} Wi-Fi speed")
    assert reply.outcome is Outcome.DONE and reply.private
    assert listed(reply)["Wi-Fi speed"] == (wifi_id, 8)
    runs = engine.themes.full_runs
    await type_answers(engine, person, cafe, WIFI[8:] + MUSIC[8:], "B")  # a quarter more: clustered again
    themes = await themes_now(engine, mod, cafe)
    assert engine.themes.full_runs > runs
    assert themes["Wi-Fi speed"] == (wifi_id, 10)
    results = to_plain((await say(engine, mod, cafe, "/results")).text)
    assert "• “Wi-Fi speed”: 10 answers" in results
    await say(engine, mod, cafe, "/round close")
    summary = to_plain((await engine.summaries.render(1, "en")).text)  # what each member gets privately
    assert "→ most common: Wi-Fi speed (10 of 20)" in summary
    audit = to_plain((await say(engine, mod, cafe, "/audit")).text)
    assert "theme_rename" in audit or "renamed a theme" in audit


async def test_an_english_and_a_romanian_theme_merged_while_answers_arrive_stay_merged(
    engine: Engine, person, cafe
) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, MUSIC[:6] + MUZICA[:3] + WIFI[:6], "A")
    themes = await themes_now(engine, mod, cafe)
    _, music_id, _ = theme_of(themes, MUSIC)
    _, muzica_id, _ = theme_of(themes, MUZICA)
    assert music_id != muzica_id  # the clustering never puts two languages together

    merging = say(engine, mod, cafe, f"/theme merge {music_id} {muzica_id}")
    arriving = type_answers(engine, person, cafe, MUSIC[6:] + MUZICA[3:], "B")
    merged, _ = await asyncio.gather(merging, arriving)
    assert merged.outcome is Outcome.DONE, to_plain(merged.text)
    await say(engine, mod, cafe, "/round close")  # the close clusters every answer again
    themes = await themes_now(engine, mod, cafe)
    _, theme_id, count = theme_of(themes, MUSIC)
    assert theme_id == music_id and count == len(MUSIC) + len(MUZICA)
    assert not any(name in MUZICA for name in themes)
    stale = await say(engine, mod, cafe, f"/theme rename {muzica_id} Muzica")
    assert stale.outcome is Outcome.STALE and f"#{music_id}" in to_plain(stale.text)


async def test_a_theme_splits_tighter_or_by_the_answers_named(engine: Engine, person, cafe) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    _, wifi_id, _ = theme_of(await themes_now(engine, mod, cafe), WIFI)
    wifi_answers = await engine.services.store.fetchall(
        "SELECT id, value FROM answers WHERE task_id = 'one-change' ORDER BY id"
    )
    slow = [answer_id for answer_id, value in wifi_answers if "slow" in value]
    assert len(slow) >= 2
    moved = await say(engine, mod, cafe, f"/theme split {wifi_id} {' '.join(map(str, slow))}")
    assert moved.outcome is Outcome.DONE
    counts = sorted(count for _, count in listed(moved).values())
    assert counts == sorted([8, 8 - len(slow), len(slow)])

    _, music_id, _ = theme_of(await themes_now(engine, mod, cafe), MUSIC)
    split = await say(engine, mod, cafe, f"/theme split {music_id}")
    assert split.outcome is Outcome.DONE
    assert "split into" in to_plain(split.text) or "too alike" in to_plain(split.text)
    parts = [count for name, (_, count) in listed(split).items() if name in MUSIC]
    assert sum(parts) == 8  # no answer lost, however many parts

    music_answer = next(answer_id for answer_id, value in wifi_answers if "music" in value)
    _, wifi_id, _ = theme_of(await themes_now(engine, mod, cafe), [text for text in WIFI if "slow" not in text])
    refused = await say(engine, mod, cafe, f"/theme split {wifi_id} {music_answer}")
    assert refused.outcome is Outcome.REFUSED and "not in theme" in to_plain(refused.text)


async def test_forged_stale_and_foreign_theme_ids_and_members_are_refused(engine: Engine, person, cafe) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    themes = await themes_now(engine, mod, cafe)
    _, wifi_id, _ = theme_of(themes, WIFI)
    rating = await engine.services.store.fetchval("SELECT id FROM answers WHERE task_id <> 'one-change'")
    for forged in ("999999", "9" * 40, "0", str(rating or 999998)):
        reply = await say(engine, mod, cafe, f"/theme rename {forged} Anything")
        assert reply.outcome is Outcome.REFUSED and "no theme" in to_plain(reply.text), forged
    for typed in ("/theme", "/theme rename", "/theme merge 12", "/theme promote x", "/theme explode 12", "/themes x"):
        reply = await say(engine, mod, cafe, typed)
        assert reply.outcome is Outcome.REFUSED and "Usage" in to_plain(reply.text), typed
    elsewhere = SpaceRef("console", "other-cafe", "Other Café")
    foreign = await say(engine, mod, elsewhere, f"/theme rename {wifi_id} Stolen")
    assert foreign.outcome is Outcome.REFUSED and "no theme" in to_plain(foreign.text)
    member = await say(engine, person("Ana"), cafe, f"/theme rename {wifi_id} Mine")
    assert member.outcome is Outcome.REFUSED and "Usage" not in to_plain(member.text)
    assert (await say(engine, person("Ana"), cafe, "/themes")).outcome is Outcome.REFUSED
    for name in ("   ", "🙂", "x" * 81):
        reply = await say(engine, mod, cafe, f"/theme rename {wifi_id} {name}")
        expected = Outcome.DONE if name == "🙂" else Outcome.REFUSED  # an emoji is a name; blanks, 81 chars not
        assert reply.outcome is expected, name
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM theme_edits") == 1


async def test_a_promoted_theme_is_an_option_of_the_next_round_only(engine: Engine, person, cafe) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    _, wifi_id, _ = theme_of(await themes_now(engine, mod, cafe), WIFI)
    assert (await say(engine, mod, cafe, f"/theme rename {wifi_id} Faster Wi-Fi")).outcome is Outcome.DONE
    promoted = await say(engine, mod, cafe, f"/theme promote {wifi_id}")
    assert promoted.outcome is Outcome.DONE and "Faster Wi-Fi" in to_plain(promoted.text)
    again = await say(engine, mod, cafe, f"/theme promote {wifi_id}")
    assert again.outcome is Outcome.ALREADY_DONE

    same_round = await open_task(engine, person("Late"), cafe, PROMPT)
    assert not any("Faster Wi-Fi" in b.label for row in same_round.buttons for b in row)  # not under its feet
    await say(engine, mod, cafe, "/round close")
    await say(engine, mod, cafe, "/round open coffee")
    member = person("Next")
    asked = await open_task(engine, member, cafe, PROMPT)
    assert asked.text_input is not None  # typing stays possible beside the new option
    answered = await engine.act(member, cafe, button(asked, "Faster Wi-Fi"))
    assert answered.outcome is Outcome.DONE, to_plain(answered.text)
    value = await engine.services.store.fetchval(
        "SELECT value FROM answers WHERE task_id = 'one-change' ORDER BY id DESC LIMIT 1"
    )
    assert value == '"Faster Wi-Fi"'
    forged = await engine.act(member, cafe, asked.buttons[0][0].action.replace("p0", "p9"))
    assert forged.outcome in (Outcome.STALE, Outcome.REFUSED)
    elsewhere = SpaceRef("console", "other-cafe", "Other Café")  # another community: its questions stay as they are
    other = await open_task(engine, person("Stranger"), elsewhere, PROMPT)
    assert not any("Faster Wi-Fi" in b.label for row in other.buttons for b in row)


async def test_two_moderators_promoting_the_same_theme_at_once_add_one_option(engine: Engine, person, cafe) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    _, music_id, _ = theme_of(await themes_now(engine, mod, cafe), MUSIC)
    other_mod = person("Mod2")

    async def second_moderator(user: UserRef, space: SpaceRef) -> bool:
        return user.platform_user_id == "mod2"

    engine.moderation.register_check("console", second_moderator)  # two processes: the store contract's part
    replies = await asyncio.gather(*(say(engine, m, cafe, f"/theme promote {music_id}") for m in (mod, other_mod) * 3))
    assert sorted(reply.outcome for reply in replies).count(Outcome.DONE) == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM promoted_options") == 1


async def test_a_long_theme_name_must_be_renamed_before_it_becomes_a_button(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    long_answer = "The wifi " + "is really very slow " * 12
    await type_answers(engine, person, cafe, [long_answer] * 3, "L")
    (name, (theme_id, count)), *_ = (await themes_now(engine, mod, cafe)).items()
    assert count == 3 and len(name) > 60
    refused = await say(engine, mod, cafe, f"/theme promote {theme_id}")
    assert refused.outcome is Outcome.REFUSED and "rename it first" in to_plain(refused.text)


def test_hostile_answers_cluster_without_error() -> None:
    """Empty, one-word, emoji-only, 10,000-character texts and languages the detector does not know."""
    texts = ["", "wifi", "🙂🙂", "🎉", "x" * 10_000, "wifi " * 2000, "無線LANが遅い", "Das WLAN ist zu langsam", "wifi"]
    found = cluster(texts)
    assert sorted(member for theme in found.themes for member in theme.members) == list(range(len(texts)))
    wifi = next(theme for theme in found.themes if 1 in theme.members)
    assert 8 in wifi.members  # the one-word answers "wifi" share a theme


async def test_bad_typed_answers_are_refused_and_themes_still_list(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for number, text in enumerate(("   ", "🙂", "wifi", "x" * 10_000, "Das WLAN ist zu langsam", "無線LANが遅い")):
        member = person(f"B{number}")
        await open_task(engine, member, cafe, PROMPT)
        reply = await engine.text_message(member, cafe, text)
        assert reply is not None
        refused = text.strip() == "" or len(text) > 280
        assert (reply.outcome is Outcome.REFUSED) == refused, text[:20]
    themes = await themes_now(engine, mod, cafe)
    assert sum(count for _, count in themes.values()) == 4


async def test_an_ideas_round_shows_its_themes_in_results_themes_and_the_export(engine: Engine, person, cafe) -> None:
    round_id = await open_winter_menu(engine, person, cafe)
    music = (
        "The music is too loud",
        "Turn the music down please",
        "the music is way too loud",
        "less loud music please",
    )
    wifi = ("The wifi is too slow", "wifi keeps dropping all day", "wifi drops all the time")
    texts = (*music, *wifi, "A loyalty card that works in the app")
    for number, text in enumerate(texts):
        await submit(engine, person(f"I{number}"), cafe, text)
    mod = person("Mod")
    results = to_plain((await say(engine, mod, cafe, f"/results {round_id}")).text)
    assert ": 4 ideas" in results and ": 3 ideas" in results, results
    listing = to_plain((await say(engine, mod, cafe, f"/themes {round_id}")).text)
    assert len(re.findall(r"^#i\d+ “", listing, re.M)) == 3 and "/theme promote" not in listing  # i ids, no promote
    _, data = await engine.exports.export(round_id, "json")
    ideas = json.loads(data)["ideas"]
    assert len(ideas) == len(texts)
    music_themes = {idea["theme"] for idea in ideas if idea["text"] in music}
    assert len(music_themes) == 1 and music_themes != {None}


async def test_catalog_check_lists_the_promoted_options_for_the_operator(
    engine: Engine, person, cafe, settings, monkeypatch, capsys
) -> None:
    mod = await a_round_with_two_themes(engine, person, cafe)
    _, wifi_id, _ = theme_of(await themes_now(engine, mod, cafe), WIFI)
    await say(engine, mod, cafe, f"/theme rename {wifi_id} Faster Wi-Fi")
    assert (await say(engine, mod, cafe, f"/theme promote {wifi_id}")).outcome is Outcome.DONE
    monkeypatch.setenv("CROWDPULSE_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", str(settings.storage.path))
    assert await asyncio.to_thread(main, ["catalog", "check", str(REPO / "tasks_catalog")]) == 0
    out = capsys.readouterr().out
    assert (
        "1 promoted option" in out
        and "coffee/one-change: “Faster Wi-Fi” (served after round 1 in Corner Café; by Mod" in out
    )


async def test_a_promoted_other_theme_is_a_fourth_choice_recorded_as_that_other_answer(
    engine: Engine, person, cafe
) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for number, typed in enumerate(("only on weekends", "Only on weekends!", "weekends only")):
        member = person(f"W{number}")
        asked = await engine.act(member, cafe, button(await open_task(engine, member, cafe, "work from"), "Other"))
        assert asked.text_input is not None
        await engine.act(member, cafe, asked.text_input.action, text=typed)
    listing = await say(engine, mod, cafe, "/themes 1 wifi")
    ((name, (theme_id, count)),) = listed(listing).items()
    assert count == 3
    assert (await say(engine, mod, cafe, f"/theme promote {theme_id}")).outcome is Outcome.DONE
    await say(engine, mod, cafe, "/round close")
    await say(engine, mod, cafe, "/round open coffee")
    member = person("Next")
    question = await open_task(engine, member, cafe, "work from")
    assert [b.label for b in question.buttons[0]] == ["Yes", "No", "Other…"] and question.buttons[1][0].label == name
    assert (await engine.act(member, cafe, button(question, name))).outcome is Outcome.DONE
    stored = await engine.services.store.fetchval("SELECT value FROM answers WHERE round_id = 2 AND task_id = 'wifi'")
    assert json.loads(stored) == {"other": name}


def test_a_split_theme_is_clustered_again_only_when_it_grew_by_a_quarter() -> None:
    texts = dict(enumerate((*WIFI, *MUSIC), start=1))
    whole = [group_of(list(texts), "everything", (), texts)]
    split = [ThemeEdit(1, EditAction.SPLIT, (whole[0].key,))]
    runs = SplitRuns()
    parts = apply_edits(whole, split, texts, runs)
    assert runs.clusterings == 1 and len(parts) >= 2 and sum(part.size for part in parts) == 20
    texts[21] = "the wifi is so slow"
    grown = [group_of(list(texts), "everything", (), texts)]
    again = apply_edits(grown, split, texts, runs)
    assert runs.clusterings == 1  # one more answer: attached to the nearest part, nothing clustered
    assert any(21 in part.members and 1 in part.members for part in again)
    for number in range(22, 27):
        texts[number] = f"music way too loud {number}"
    apply_edits([group_of(list(texts), "everything", (), texts)], split, texts, runs)
    assert runs.clusterings == 2  # 26 answers: a quarter more than the 20 the run covered
