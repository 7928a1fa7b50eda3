"""Every sentence a user reads, looked up by key in ``bot/locales/<language>/*.toml``.

Each feature keeps its sentences in its own file (``core.toml``, ``ideas.toml``, …); the files of a
language are merged, and a key defined twice is an error.

English is complete and is the fallback; a translation may cover any subset. Variables are escaped
for the reply markup unless they are :class:`Markup` (already-safe markup built by the engine), so a
display name or an idea can never inject a tag.

A sentence that shows a count is a *plural table* rather than a string: ``plural_by`` names the
variable holding the count, and each CLDR plural category the language distinguishes gets its own
wording, so a translator sees every form side by side::

    participants.plural_by = "count"
    participants.one = "{count} participant"
    participants.few = "{count} participanți"
    participants.other = "{count} de participanți"

The category comes from the language's CLDR rules (Babel's ``Locale.plural_form``): English has
``one`` and ``other``, Romanian ``one``, ``few`` and ``other`` (1 participant, 2 participanți, 20 de
participanți). The callers do not change: ``t(key, language, count=n)`` picks the form.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

from babel import Locale
from babel.plural import PluralRule

from bot.replies import escape, to_plain

LOCALES_DIR = Path(__file__).parent / "locales"
FALLBACK = "en"
OPERATOR_LANGUAGE = FALLBACK
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PLURAL_BY = "plural_by"
CATEGORIES = ("zero", "one", "two", "few", "many", "other")  # every CLDR plural category, in CLDR's order


class Markup(str):
    """A string that is already valid reply markup; inserted into a text without escaping."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Plural:
    """A message worded by a count: one template per CLDR plural category of its language.

    ``by`` names the variable whose value picks the category. Every table has ``other``, and a
    category the table lacks falls back to it, so a catalog behind a newer CLDR release still reads.
    """

    by: str
    forms: Mapping[str, str]

    def form(self, language: str, count: object) -> str:
        """The template for ``count`` under ``language``'s plural rules."""
        return self.forms.get(plural_category(language, count), self.forms["other"])


Message = str | Plural


@cache
def _messages(language: str) -> dict[str, Message]:
    merged: dict[str, Message] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.toml")):
        try:
            found = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        clashes = merged.keys() & found.keys()
        if clashes:
            raise ValueError(f"{path}: keys defined twice: {sorted(clashes)}")
        merged.update(found)
    return merged


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Message]:
    flat: dict[str, Message] = {}
    for key, value in table.items():
        if isinstance(value, dict) and PLURAL_BY in value:
            flat[f"{prefix}{key}"] = _plural(f"{prefix}{key}", value)
        elif isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _plural(key: str, table: dict[str, Any]) -> Plural:
    """A plural table checked as it loads, so a translator's typo fails at start-up, not mid-chat."""
    by = table[PLURAL_BY]
    forms = {category: text for category, text in table.items() if category != PLURAL_BY}
    unknown = sorted(forms.keys() - set(CATEGORIES))
    if not isinstance(by, str) or not by:
        raise ValueError(f"{key}: {PLURAL_BY} must name the variable that holds the count")
    if unknown:
        raise ValueError(f"{key}: {unknown} are not CLDR plural categories (use {', '.join(CATEGORIES)})")
    if "other" not in forms:
        raise ValueError(f"{key}: a plural table needs an 'other' form, the one every language has")
    if not all(isinstance(text, str) for text in forms.values()):
        raise ValueError(f"{key}: every plural form must be a string")
    return Plural(by, {category: forms[category] for category in CATEGORIES if category in forms})


@cache
def _plural_rule(language: str) -> PluralRule:
    return Locale.parse(language).plural_form


def plural_categories(language: str) -> frozenset[str]:
    """The CLDR plural categories ``language`` tells apart (``other`` included): what its tables need."""
    return _plural_rule(language).tags | {"other"}


@lru_cache(maxsize=4096)
def _integer_category(language: str, count: int) -> str:
    """Most counts are small integers shown again and again: Babel's rule is asked once for each."""
    return _plural_rule(language)(count)


def plural_category(language: str, count: object) -> str:
    """The CLDR plural category of ``count`` in ``language`` (``ro``: 1 → one, 2 → few, 20 → other).

    A count stored as text (a ledger entry's detail) is read as a number; anything that is not a
    number reads as ``other``, so a malformed stored value words a sentence plainly instead of failing.
    """
    if type(count) is int:
        return _integer_category(language, count)
    number: Decimal
    if isinstance(count, bool) or not isinstance(count, int | float | Decimal | str):
        return "other"
    try:
        number = Decimal(str(count).strip())
    except InvalidOperation:
        return "other"
    if isinstance(number, Decimal) and not number.is_finite():
        return "other"
    return _plural_rule(language)(number)


def available_languages() -> list[str]:
    return sorted(path.name for path in LOCALES_DIR.iterdir() if path.is_dir())


def warm() -> None:
    """Load every language's catalog and CLDR plural rules now, at start-up (some 40 ms in all).

    Loaded on first use instead, Babel's locale data (about 20 ms for English) was paid by the first
    member whose reply shows a count (an answer's "+5 points"), in the middle of everyone's taps.
    """
    for language in available_languages():
        _messages(language)
        _plural_rule(language)


def pick_language(requested: str | None, default: str = FALLBACK) -> str:
    """The best language we have for a client's language code (``ro-RO`` → ``ro``)."""
    if requested:
        base = requested.split("-")[0].split("_")[0].lower()
        if _messages(base):
            return base
    return default if _messages(default) else FALLBACK


def t(key: str, language: str, **variables: object) -> Markup:
    """The message ``key`` in ``language`` (falling back to English) with ``variables`` filled in.

    A plural message takes its form from the rules of the language it comes from: an English
    fallback is worded by English rules even when the member reads Romanian.

    Raises:
        KeyError: the key is missing from the English catalog, or a plural message's count variable
            was not given: programming errors, caught by tests.
    """
    message = _messages(language).get(key)
    if not message:
        language, message = FALLBACK, _messages(FALLBACK)[key]
    template = message if isinstance(message, str) else message.form(language, variables[message.by])
    recent = (template, *[(name, value.__class__, value) for name, value in variables.items()])
    try:
        return _recent[recent]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key (never a catalog's usual str or number): not kept
        return _filled(template, variables)
    text = _filled(template, variables)
    if len(_recent) >= _RECENT_TEXTS:
        _recent.clear()
    _recent[recent] = text
    return text


# Every answer's reply and toast repeat one of a question's few options with its points: the texts
# filled in recently (by template and values, the values' types included, since a Markup value is not
# escaped) are kept, bounded, instead of escaped and filled in again. Keyed by the template itself, a
# catalog corrected in place is read at once.
_RECENT_TEXTS = 4096
_recent: dict[tuple[object, ...], Markup] = {}


def _filled(template: str, variables: Mapping[str, object]) -> Markup:
    safe = {name: value if isinstance(value, Markup) else escape(str(value)) for name, value in variables.items()}
    return Markup(template.format_map(safe))


def operator_text(key: str, **variables: object) -> str:
    """The ``operator.<key>`` message as plain text for a terminal (the CLI, the doctor, a copy report).

    The operator's tools speak English, like their ``--help``; their counted phrases still come from
    the catalog so "1 code" and "2 codes" follow the same plural rules as the chat.
    """
    return to_plain(t(f"operator.{key}", OPERATOR_LANGUAGE, **variables))


def template_fields(key: str, language: str = FALLBACK) -> set[str]:
    """The variable names a message uses (in any of its plural forms); tests check translations agree."""
    message = _messages(language).get(key, "")
    templates = [message] if isinstance(message, str) else list(message.forms.values())
    return {name for template in templates for _, name, _, _ in Formatter().parse(template) if name}


def plurals(language: str) -> dict[str, Plural]:
    """The plural tables of ``language``'s own catalog, by key (no English fallback)."""
    return {key: message for key, message in _messages(language).items() if isinstance(message, Plural)}


def keys(language: str) -> set[str]:
    return set(_messages(language))


def clean_text(text: str) -> str:
    """Normalise what a member typed: NFC, no control or bidi-override characters, trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()
