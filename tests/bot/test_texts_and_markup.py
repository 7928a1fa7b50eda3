"""Every sentence exists in English and Romanian alike, and rendered text never breaks the markup."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import ClassVar

import pytest

from bot.replies import escape, split_markup, to_markdown, to_plain, toast_choice
from bot.texts import Markup, keys, pick_language, plurals, t, template_fields


def test_romanian_translates_every_english_message_with_the_same_variables() -> None:
    assert keys("ro") == keys("en")
    for key in keys("en"):
        assert template_fields(key, "ro") == template_fields(key, "en"), key


def test_client_language_codes_map_to_our_translations() -> None:
    assert pick_language("ro-RO") == "ro"
    assert pick_language("de") == "en"
    assert pick_language(None) == "en"


def test_a_toast_names_a_long_choice_cut_short_and_keeps_its_points_within_telegrams_200() -> None:
    choice = ", ".join(["Oat milk", "Extra shot", "Vanilla syrup", "Whipped cream"] * 6)
    toast = to_plain(t("answer.toast", "ro", choice=toast_choice(choice), points=12))
    assert toast.startswith("✅ Oat milk, Extra shot") and toast.endswith("…, +12") and len(toast) <= 200
    assert to_plain(t("answer.toast", "en", choice=toast_choice("Tea"), points=5)) == "✅ Tea, +5"


def test_variables_are_escaped_so_names_cannot_inject_markup() -> None:
    text = t("start.greeting", "en", name="<b>Boss</b> & <a href='x'>")
    assert "<b>Boss" not in text and "&lt;b&gt;Boss&lt;/b&gt; &amp;" in text


def test_a_text_asked_again_is_the_same_and_a_markup_value_is_still_not_escaped() -> None:
    # Texts asked for recently are kept: the same words as plain text and as markup must not share one.
    for _ in range(2):
        assert "&lt;i&gt;Tea&lt;/i&gt;" in t("answer.recorded", "en", choice="<i>Tea</i>", points=5)
        assert "<i>Tea</i>" in t("answer.recorded", "en", choice=Markup("<i>Tea</i>"), points=5)
    assert "+1 point)" in t("answer.recorded", "en", choice="Tea", points=1)
    assert "+2 points)" in t("answer.recorded", "en", choice="Tea", points=2)


class _TagChecker(HTMLParser):
    allowed: ClassVar[set[str]] = {"b", "i", "code"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in self.allowed, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag


@pytest.mark.parametrize("language", ["en", "ro"])
def test_every_message_renders_as_valid_markup_even_with_hostile_variables(language: str) -> None:
    hostile = "<script>&amp;</b><b>"
    counted = plurals(language)
    for key in keys(language):
        variables = dict.fromkeys(template_fields(key, language), hostile)
        # a counted message is rendered in each of its forms (and with a count that is no number)
        counts = (hostile, 0, 1, 2, 20) if key in counted else (hostile,)
        for count in counts:
            if key in counted:
                variables[counted[key].by] = count
            rendered = t(key, language, **variables)
            checker = _TagChecker()
            checker.feed(rendered)
            checker.close()
            assert checker.stack == [], (key, count)
            assert "<script>" not in rendered, (key, count)


@pytest.mark.parametrize("limit", [20, 64, 200, 4096])
def test_splitting_keeps_every_character_and_every_tag_whole(limit: int) -> None:
    hostile = escape("<script>&amp; " * 40)
    markup = "\n".join([f"<b>Title {i}</b> {hostile}" for i in range(30)])
    chunks = split_markup(markup, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    for chunk in chunks:
        checker = _TagChecker()
        checker.feed(chunk)
        checker.close()
        assert checker.stack == []
    assert "".join(to_plain(chunk) for chunk in chunks).replace("\n", "").replace(" ", "") == to_plain(markup).replace(
        "\n", ""
    ).replace(" ", "")


def test_markdown_rendering_escapes_user_text() -> None:
    markup = f"<b>Idea</b> {escape('*bold* _it_ @everyone <@123> [x](http://evil)')}"
    rendered = to_markdown(markup)
    assert rendered.startswith("**Idea** ")
    assert "\\*bold\\*" in rendered and "\\[x\\]\\(http://evil\\)" in rendered
