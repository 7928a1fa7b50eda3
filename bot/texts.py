"""Every sentence a user reads, looked up by key in ``bot/locales/<language>/*.toml``.

Each feature keeps its sentences in its own file (``core.toml``, ``ideas.toml``, …); the files of a
language are merged, and a key defined twice is an error.

English is complete and is the fallback; a translation may cover any subset. Variables are escaped
for the reply markup unless they are :class:`Markup` (already-safe markup built by the engine), so a
display name or an idea can never inject a tag.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

from bot.replies import escape

LOCALES_DIR = Path(__file__).parent / "locales"
FALLBACK = "en"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Markup(str):
    """A string that is already valid reply markup; inserted into a text without escaping."""

    __slots__ = ()


@cache
def _messages(language: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.toml")):
        found = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        clashes = merged.keys() & found.keys()
        if clashes:
            raise ValueError(f"{path}: keys defined twice: {sorted(clashes)}")
        merged.update(found)
    return merged


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def available_languages() -> list[str]:
    return sorted(path.name for path in LOCALES_DIR.iterdir() if path.is_dir())


def pick_language(requested: str | None, default: str = FALLBACK) -> str:
    """The best language we have for a client's language code (``ro-RO`` → ``ro``)."""
    if requested:
        base = requested.split("-")[0].split("_")[0].lower()
        if _messages(base):
            return base
    return default if _messages(default) else FALLBACK


def t(key: str, language: str, **variables: object) -> Markup:
    """The message ``key`` in ``language`` (falling back to English) with ``variables`` filled in.

    Raises:
        KeyError: the key is missing from the English catalog: a programming error, caught by tests.
    """
    template = _messages(language).get(key) or _messages(FALLBACK)[key]
    safe = {name: value if isinstance(value, Markup) else escape(str(value)) for name, value in variables.items()}
    return Markup(template.format_map(safe))


def template_fields(key: str, language: str = FALLBACK) -> set[str]:
    """The variable names a message uses; tests check translations use the same ones."""
    template = _messages(language).get(key, "")
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def keys(language: str) -> set[str]:
    return set(_messages(language))


def clean_text(text: str) -> str:
    """Normalise what a member typed: NFC, no control or bidi-override characters, trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()
