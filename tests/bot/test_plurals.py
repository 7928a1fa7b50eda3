"""Counts read right: every counted message carries the plural forms its language's CLDR rules need,
and says 1 participant, 2 participanți, 20 de participanți rather than "1 participants"."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from string import Formatter

import pytest

from bot import texts
from bot.replies import to_plain
from bot.texts import Plural, plural_categories, plural_category, plurals, t, template_fields

LANGUAGES = ("en", "ro")
SAMPLES = (0, 1, 2, 5, 20, 101)
# CLDR's answers written out by hand rather than asked of Babel, so a wrong rule or lookup shows up
EXPECTED = {
    "en": {0: "other", 1: "one", 2: "other", 5: "other", 20: "other", 101: "other"},
    "ro": {0: "few", 1: "one", 2: "few", 5: "few", 20: "other", 101: "few"},
}
# English words these counts as an adjective ("a 5-day streak") or with no noun ("3 left"): one form
SAME_IN_ENGLISH = {"answer.streak", "reason.streak", "rewards.stock_left"}
# a count (37 in the test) followed by one of these nouns must come from a plural table
COUNTED_NOUN = re.compile(
    r"\b37\s+(de\s+)?(points?|puncte?|answers?|răspuns\w*|votes?|vot|voturi|days?|zi|zile|participan\w*|"
    r"characters?|caracter\w*|ideas?|idee|idei|options?|opțiun\w*|codes?|cod|coduri|times?|ori|members?|membr\w*|"
    r"problems?|problem\w|campaigns?|campani\w|tasks?|topics?|tem\w|migrations?|migr\w+|bytes?|octe\w+)\b"
)


def _render(key: str, language: str, count: object) -> str:
    """``key`` with ``count`` in its count variable and ``x`` in every other one."""
    plural = plurals(language)[key]
    variables: dict[str, object] = dict.fromkeys(template_fields(key, language), "x")
    variables[plural.by] = count
    return t(key, language, **variables)


def test_english_and_romanian_tell_apart_the_categories_the_catalog_was_written_for() -> None:
    assert plural_categories("en") == {"one", "other"}
    assert plural_categories("ro") == {"one", "few", "other"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_plural_table_has_exactly_the_categories_its_language_needs(language: str) -> None:
    tables = plurals(language)
    assert len(tables) >= 40  # every count the bot and the operator tools show
    wrong = {key: sorted(p.forms) for key, p in tables.items() if set(p.forms) != plural_categories(language)}
    assert wrong == {}


def test_both_languages_count_the_same_messages_by_the_same_variable() -> None:
    assert {key: p.by for key, p in plurals("ro").items()} == {key: p.by for key, p in plurals("en").items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_form_shows_the_count_and_uses_the_same_variables(language: str) -> None:
    for key, plural in plurals(language).items():
        fields = template_fields(key, language)
        assert plural.by in fields, key
        for category, form in plural.forms.items():
            assert {name for _, name, _, _ in Formatter().parse(form) if name} == fields, (key, category)


@pytest.mark.parametrize("count", SAMPLES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_counted_message_takes_the_form_cldr_gives_the_count(language: str, count: int) -> None:
    category = EXPECTED[language][count]
    for key, plural in plurals(language).items():
        variables = dict.fromkeys(template_fields(key, language), "x") | {plural.by: str(count)}
        rendered = _render(key, language, count)
        assert rendered == plural.forms[category].format_map(variables), (key, count)
        assert str(count) in to_plain(rendered), key


def test_english_has_a_singular_wording_for_every_count_with_a_noun() -> None:
    alike = {key for key, p in plurals("en").items() if p.forms["one"] == p.forms["other"]}
    assert alike == SAME_IN_ENGLISH


def test_romanian_words_one_few_and_other_apart_and_says_de_from_20() -> None:
    for key, plural in plurals("ro").items():
        assert len(set(plural.forms.values())) == 3, key
        assert "20 de " in to_plain(_render(key, "ro", 20)), key
        for count in (0, 2, 5, 101):
            assert f"{count} de " not in to_plain(_render(key, "ro", count)), (key, count)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_plain_message_puts_a_count_before_a_counted_noun(language: str) -> None:
    counted = plurals(language)
    offenders = [
        key
        for key in texts.keys(language)
        if key not in counted
        and COUNTED_NOUN.search(to_plain(t(key, language, **dict.fromkeys(template_fields(key, language), 37))))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("key", "language", "variables", "expected"),
    [
        ("results.participants", "en", {"count": 1}, "1 participant"),
        ("results.participants", "en", {"count": 2}, "2 participants"),
        ("results.participants", "ro", {"count": 1}, "1 participant"),
        ("results.participants", "ro", {"count": 2}, "2 participanți"),
        ("results.participants", "ro", {"count": 20}, "20 de participanți"),
        ("results.participants", "ro", {"count": 101}, "101 participanți"),
        ("results.task", "en", {"prompt": "Tea?", "count": 1}, "\nTea? (1 answer)"),
        ("results.task", "ro", {"prompt": "Ceai?", "count": 40}, "\nCeai? (40 de răspunsuri)"),
        ("me.streak", "en", {"days": 1, "best": 3}, "🔥 Streak: 1 day (best 3)"),
        ("me.streak", "ro", {"days": 1, "best": 3}, "🔥 Serie: 1 zi la rând (record 3)"),
        ("reason.streak", "ro", {"detail": "20"}, "bonus pentru 20 de zile la rând"),  # the ledger stores text
        ("rewards.stock_left", "ro", {"count": 1}, "a mai rămas 1 bucată"),
        ("operator.redeemed_times", "en", {"count": 1}, "redeemed 1 time"),
    ],
)
def test_the_counts_of_the_issue_read_right(
    key: str, language: str, variables: dict[str, object], expected: str
) -> None:
    assert to_plain(t(key, language, **variables)) == expected


def test_sentences_with_several_counts_word_each_by_its_own() -> None:
    bonus = t("answer.streak_bonus", "ro", points=1)
    assert t("answer.streak", "ro", days=20, bonus=bonus) == "🔥 20 de zile la rând! +1 punct bonus."
    counts = {
        name: t(f"results.nps_{name}", "en", count=n)
        for name, n in [("promoters", 1), ("passives", 0), ("detractors", 2)]
    }
    assert t("results.nps", "en", score="+0", **counts) == "NPS <b>+0</b>: 1 promoter, 0 passives, 2 detractors"


def test_a_category_missing_from_a_table_falls_back_to_other(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Plural("count", {"other": "{count} x"}).form("ro", 1) == "{count} x"
    partial = Plural("count", {"one": "{count} participant", "other": "{count} de participanți"})
    monkeypatch.setitem(texts._messages("ro"), "results.participants", partial)
    assert t("results.participants", "ro", count=2) == "2 de participanți"
    assert t("results.participants", "ro", count=1) == "1 participant"


def test_a_message_missing_from_a_translation_is_worded_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(texts._messages("ro"), "results.participants")
    assert [t("results.participants", "ro", count=n) for n in (1, 2)] == ["1 participant", "2 participants"]


def test_a_message_without_its_count_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="count"):
        t("results.participants", "en")


@pytest.mark.parametrize(
    ("count", "category"),
    [
        ("5", "few"),
        (" 20 ", "other"),
        (Decimal("1.5"), "few"),
        (-1, "one"),
        ("abc", "other"),
        (True, "other"),
        (float("nan"), "other"),
        (None, "other"),
    ],
)
def test_counts_stored_as_text_are_read_and_what_is_no_number_reads_as_other(count: object, category: str) -> None:
    assert plural_category("ro", count) == category


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('n.plural_by = "count"\nn.one = "{count} x"', "needs an 'other' form"),
        ('n.plural_by = "count"\nn.single = "x"\nn.other = "{count} x"', "not CLDR plural categories"),
        ('n.plural_by = 3\nn.other = "{count} x"', "must name the variable"),
        ('n.plural_by = "count"\nn.other = 3', "must be a string"),
    ],
)
def test_a_malformed_plural_table_stops_the_catalog_from_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, problem: str
) -> None:
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "bad.toml").write_text(f"[s]\n{table}\n", encoding="utf-8")
    monkeypatch.setattr(texts, "LOCALES_DIR", tmp_path)
    with pytest.raises(ValueError, match=rf"bad\.toml: s\.n: .*{problem}"):
        texts._messages("zz")
