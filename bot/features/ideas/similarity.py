"""Which ideas say the same thing, and which are trending.

**Similar ideas.** Before an idea is stored, it is compared with the listed ideas of its space, and the
member is offered to upvote a close one instead, or to submit anyway. Both texts are normalised (case and
accents folded, punctuation dropped, English and Romanian filler and request words such as "please",
"add", "more", "bring back", "vă rog", "mai" dropped, a plural -s trimmed), then scored with rapidfuzz as
the mean of ``token_set_ratio``, which forgives extra words (a longer rewording of the same idea), and
``token_sort_ratio``, which penalises an overlap that is only a small part of the texts (where
``token_set_ratio`` alone gives 100). Ideas scoring at least ``settings.ideas.similarity_threshold``
(0–100, default 62) are similar. On a hand-made set of café ideas, reworded duplicates scored 77–100 and
unrelated ideas sharing the topic's words ("… on the winter menu") at most 59; the tests keep two of each.
The scan is linear in the space's listed ideas (a few milliseconds per thousand).

**Trending** ranks by ``votes / (age_hours + 2) ** 1.5``, Hacker News' formula with gravity 1.5: a vote
weighs most while the idea is new, so a day-old idea needs about twelve times the votes of a three-hour-old
one to rank level. Ties go to the newer idea.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from rapidfuzz import fuzz

from bot.store.records import IdeaRecord

SIMILAR_SHOWN = 3
_WORD = re.compile(r"\w+")
_FILLER = frozenset(
    """
    a an the and or of to for in on at by with from as is are be it its this that these those there their we i
    you our your us me my so very really just also all any some please would could should can will let lets
    need want like get have make add bring back put offer sell serve allow start stop more less better new
    idea ideas option options thing things
    si sa la de din pe cu un o ca mai pentru ar ne va vrem este e fie noi eu voi niste rog te
    """.split()  # noqa: SIM905 - a word list reads best as words
)


def normalise(text: str) -> str:
    """The words that say what an idea is about (see the module docstring), for fuzzy comparison."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return " ".join(_singular(word) for word in _WORD.findall(folded) if word not in _FILLER)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def similarity(normalised: str, other: str) -> float:
    """0–100: how alike two normalised idea texts are."""
    return (fuzz.token_set_ratio(normalised, other) + fuzz.token_sort_ratio(normalised, other)) / 2


def similar_ideas(
    text: str, candidates: Sequence[IdeaRecord], threshold: float, *, exclude: int | None = None
) -> list[IdeaRecord]:
    """The candidates at least ``threshold`` similar to ``text``, closest (then most voted) first."""
    wanted = normalise(text)
    scored = [(similarity(wanted, normalise(idea.text)), idea) for idea in candidates if idea.id != exclude]
    close = sorted((pair for pair in scored if pair[0] >= threshold), key=lambda pair: (-pair[0], -pair[1].votes))
    return [idea for _, idea in close[:SIMILAR_SHOWN]]


def trending_score(votes: int, age_hours: float) -> float:
    """Hacker News' ranking with gravity 1.5 (see the module docstring)."""
    return votes / math.pow(max(age_hours, 0.0) + 2, 1.5)


def trending(ideas: Sequence[IdeaRecord], now: datetime) -> list[IdeaRecord]:
    def rank(idea: IdeaRecord) -> tuple[float, datetime, int]:
        age_hours = (now - idea.created_at).total_seconds() / 3600
        return trending_score(idea.votes, age_hours), idea.created_at, idea.id

    return sorted(ideas, key=rank, reverse=True)


def snippet(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis when it was longer."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"
