"""Accent and case folding of typed words: pure Python, no numpy.

Its own module so that the bot process can compare labels and theme names (:mod:`promotions`,
:mod:`moderating`) without importing :mod:`bot.features.themes.clustering`, whose numpy, scikit-learn and
language model live in the theme worker only (:mod:`bot.features.themes.worker`).
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Casefold, strip accents (NFKD, then drop combining marks) and collapse whitespace.

    "Dați muzica  mai ÎNCET" and "dati muzica mai incet" fold to the same string: the same answer typed
    with or without diacritics must give the same n-grams.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped).strip()
