"""Themes of typed answers in ``/results`` and the exports: two clear themes among twenty answers, counts
that agree between the chat and the files, the recompute schedule of the cache, and hostile names."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence

from bot.engine import Engine
from bot.features.rounds.themes import RoundThemes
from bot.identity import SpaceRef, UserRef
from bot.replies import to_plain
from tests.helpers import button, open_task, say

WIFI = (
    "The wifi is too slow",
    "Faster wifi please",
    "wifi keeps dropping",
    "Better wifi",
    "the wifi is slow",
    "fix the wifi",
    "wifi is too slow here",
    "faster wifi",
    "slow wifi",
    "wifi drops all the time",
)
MUSIC = (
    "The music is too loud",
    "Turn the music down",
    "music too loud",
    "music quieter",
    "the music is loud",
    "less loud music",
    "music is way too loud",
    "lower the music",
    "loud music",
    "turn down the music",
)
PROMPT = "change one thing"


async def type_answers(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef, texts: Sequence[str], prefix: str
) -> None:
    """Each text typed by a member of its own as the answer to the free-text question."""
    for number, text in enumerate(texts):
        member = person(f"{prefix}{number}")
        reply = await open_task(engine, member, cafe, PROMPT)
        assert reply.text_input is not None
        assert await engine.text_message(member, cafe, text) is not None


async def results_text(engine: Engine, mod: UserRef, cafe: SpaceRef) -> str:
    return to_plain((await say(engine, mod, cafe, "/results")).text)


async def test_results_and_exports_show_the_same_two_themes(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI + MUSIC, "M")
    text = await results_text(engine, mod, cafe)
    assert "🧩 Themes:" in text
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(lines) == 2, text
    shown = {}
    for line in lines:
        name, rest = line[len("• “") :].split("”: ", 1)
        shown[name] = int(rest.split(" ")[0])
    assert sorted(shown.values()) == [10, 10]
    wifi_name = next(name for name in shown if name in WIFI)
    music_name = next(name for name in shown if name in MUSIC)
    terms = {line[len("• “") :].split("”: ", 1)[0]: line.split(" · ")[-1] for line in lines}
    assert "wifi" in terms[wifi_name] and "music" in terms[music_name]  # each theme's top words

    round_id = await engine.services.store.fetchval("SELECT id FROM rounds")
    _, data = await engine.exports.export(round_id, "json")
    answers = json.loads(data)["answers"]
    typed = [answer for answer in answers if answer["task_id"] == "one-change"]
    assert Counter(answer["theme"] for answer in typed) == Counter(shown)
    for answer in typed:
        assert answer["theme"] == (wifi_name if answer["value"] in WIFI else music_name)
    assert all(answer["theme"] is None for answer in answers if answer["task_id"] != "one-change")

    _, data = await engine.exports.export(round_id, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0])[-3:] == ["item", "flags", "theme"]  # the new column comes last
    assert Counter(row["theme"] for row in rows if row["task_id"] == "one-change") == Counter(shown)
    assert {row["theme"] for row in rows if row["task_id"] != "one-change"} == {""}


async def test_themes_are_clustered_again_only_after_a_quarter_more_answers_or_the_close(
    engine: Engine, person, cafe
) -> None:
    mod = person("Mod")
    themes: RoundThemes = engine.themes
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI[:8] + MUSIC[:8], "A")
    await results_text(engine, mod, cafe)
    assert themes.full_runs == 1
    round_id = await engine.services.store.fetchval("SELECT id FROM rounds")
    await engine.exports.export(round_id, "json")
    await results_text(engine, mod, cafe)
    assert themes.full_runs == 1  # nothing new: the cache answers /results and the export alike
    await type_answers(engine, person, cafe, WIFI[8:] + MUSIC[8:9], "B")  # 19 answers: under 16 × 1.25
    text = await results_text(engine, mod, cafe)
    assert themes.full_runs == 1
    assert ": 10 answers" in text and ": 9 answers" in text  # the newer answers attached to the themes
    await type_answers(engine, person, cafe, MUSIC[9:], "C")  # 20 answers: a quarter more than 16
    await results_text(engine, mod, cafe)
    assert themes.full_runs == 2
    await say(engine, mod, cafe, "/round close")
    text = await results_text(engine, mod, cafe)
    assert themes.full_runs == 3  # the closed round's themes cover every answer
    assert text.count(": 10 answers") == 2
    await results_text(engine, mod, cafe)
    assert themes.full_runs == 3


async def test_a_hostile_other_answer_as_a_theme_name_is_escaped(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    hostile = '<script>alert("wifi")</script> & <b>bold</b>'
    for number in range(3):
        member = person(f"H{number}")
        asked = await engine.act(member, cafe, button(await open_task(engine, member, cafe, "work from"), "Other"))
        assert asked.text_input is not None
        await engine.act(member, cafe, asked.text_input.action, text=hostile)
    reply = await say(engine, mod, cafe, "/results")
    assert "🧩 Themes:" in reply.text and "<script>" not in reply.text and "<b>bold" not in reply.text
    assert "&lt;script&gt;" in reply.text
    assert f"• “{hostile}”: 3 answers" in to_plain(reply.text)


async def test_an_export_of_a_large_question_reads_the_background_theming_and_waits_for_the_first(
    engine: Engine, person, cafe, monkeypatch
) -> None:
    """Above ``THEMED_INLINE`` answers the export themes nothing itself: it waits for the background
    theming the round's page starts (none had run), and a second export reuses it (no new full run)."""
    monkeypatch.setattr("bot.features.rounds.export.THEMED_INLINE", 0)  # as if the question were huge
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI + MUSIC, "L")
    round_id = await engine.services.store.fetchval("SELECT id FROM rounds")
    themes = engine.results.themes
    for _ in range(2):
        _, data = await engine.exports.export(round_id, "csv")
        rows = [row for row in csv.DictReader(io.StringIO(data.decode())) if row["task_id"] == "one-change"]
        assert sorted(Counter(row["theme"] for row in rows).values()) == [10, 10]
    assert themes.full_runs == 1, "the second export read the cached theming"
