"""Grouping short free-text answers into themes, per language. Pure functions, no storage, no clock.

It runs in the theme worker process (:mod:`bot.features.themes.worker`), never in the bot process: numpy,
scikit-learn, scipy and py3langid's model are about 155 MB of resident memory a bot or dashboard
process does not carry.

The pipeline, and why each step:

1. ``detect_language``: py3langid (it ships its model in the wheel, no download) restricted to the
   languages the bot ships (``LANGUAGES``). Character n-grams of two languages share little, so a theme
   never mixes them; restricting the model keeps a short Romanian answer without diacritics from being
   called Italian or Latin. Text without letters falls back to ``FALLBACK_LANGUAGE``.
2. ``fold`` (:mod:`bot.features.themes.folding`): casefold and strip accents, so "dimineața",
   "dimineata" and "DIMINEAȚA" are the same n-grams (members type Romanian without diacritics as often
   as with them).
3. TF-IDF on character n-grams (3–5, inside word boundaries, sublinear counts): robust to typos
   ("musik", "wify") and inflections ("prize", "prizele") where whole words would not match at all.
4. Agglomerative clustering, average linkage on cosine distances, cut at ``DEFAULT_THRESHOLD``: the
   number of themes is not known in advance, and average linkage does not chain unrelated answers
   through one ambiguous answer the way single linkage does. 0.9 was measured on the labelled set
   (``tests/data/themes_en_ro.tsv``): adjusted Rand index 0.66 in English and 0.65 in Romanian; 0.8
   gives 0.46/0.52 (too many small themes), 0.95 0.54/0.47 (themes merge).

Bounded cost. Exact average linkage needs every pairwise distance: n² floats, 800 MB for 10,000 answers
in one language. So:

- exact duplicates (after folding and collapsing whitespace) are clustered once;
- up to ``DIRECT_LIMIT`` distinct texts per language are clustered exactly, on a precomputed distance
  matrix (``DIRECT_LIMIT``² × 8 bytes = 18 MB; the TF-IDF matrix stays sparse);
- above it, the texts are first pre-grouped into ``DIRECT_LIMIT`` micro-clusters by k-means (mini
  batches, on a 100-dimensional LSA projection of the TF-IDF, so centres are small and dense), and the
  agglomerative clustering runs on the micro-clusters' TF-IDF centroids; every text goes with its
  micro-cluster. Micro-clusters are much tighter than the threshold (tens of near-identical answers),
  so this changes which texts share a theme little, and the cost stays linear in n: 10,000 answers
  take about 2.5 s on 2 cores and ~120 MB over the baseline (``python -m bench --only insight``).

Updates (``assign``): a theme list is recomputed in full on a schedule, and answers arriving in between
are attached to the nearest existing theme centroid within the threshold (or left unassigned until the
next full run). A full run is a few seconds at most, so recomputing on every answer would cost a core
in a busy round; attaching costs one sparse dot product per answer. Recomputing when the number of
answers has grown by a quarter since the last run (and when a round closes) bounds the total cost to
a constant factor of one full run, and a theme list is never more than a quarter out of date.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.features.themes.folding import fold

LANGUAGES = ("en", "ro")
"""The languages the bot ships (``bot/locales/``); language detection chooses among these only."""

FALLBACK_LANGUAGE = "en"
"""Answers without letters (emoji, numbers) or empty: the bot's default language."""

DEFAULT_THRESHOLD = 0.9
"""Cosine distance (average linkage) above which two groups are not merged; see the module's docstring."""

DIRECT_LIMIT = 1500
"""Distinct texts per language clustered exactly; above this, micro-clusters first (bounded memory)."""

LSA_DIMENSIONS = 100
"""Dimensions of the projection the micro-clustering k-means runs in."""

TERMS = 5
"""Top terms reported per theme."""

SEED = 21  # issue 21: every randomised step (LSA, k-means) is seeded, so themes are reproducible

_WORD = re.compile(r"[^\W\d_]{3,}")

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Theme:
    """A group of answers saying the same thing in one language."""

    language: str
    members: tuple[int, ...]  # indices of the input texts, ascending
    name: str  # the most central member's text (highest cosine similarity to the theme's centroid)
    terms: tuple[str, ...]  # top words (folded), most characteristic first

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Clustering:
    """Themes and what ``assign`` needs to attach later answers to them without clustering again."""

    themes: list[Theme]
    threshold: float
    vectorizers: dict[str, Any] = field(repr=False)  # language -> fitted TfidfVectorizer
    centroids: dict[str, Floats] = field(repr=False)  # language -> (themes of the language, features), L2-normalised
    theme_index: dict[str, list[int]] = field(repr=False)  # language -> index in ``themes`` of each centroid row


@cache
def _identifier() -> Any:
    """py3langid's model restricted to ``LANGUAGES``, loaded once (about 0.5 s, ~40 MB)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect_language(text: str) -> str:
    """The text's language among ``LANGUAGES``; ``FALLBACK_LANGUAGE`` when it has no letters."""
    if not any(char.isalpha() for char in text):
        return FALLBACK_LANGUAGE
    language, _ = _identifier().classify(text)
    return str(language) if language in LANGUAGES else FALLBACK_LANGUAGE


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=fold, sublinear_tf=True)


def _average_linkage(distances: Floats, threshold: float) -> NDArray[np.int64]:
    """Cluster labels from a precomputed square distance matrix (average linkage, cut at ``threshold``)."""
    if len(distances) == 1:
        return np.zeros(1, dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="precomputed", linkage="average"
    )
    return np.asarray(model.fit_predict(distances), dtype=np.int64)


def _cosine_distances(rows: Any) -> Floats:
    """``1 - cosine`` between the L2-normalised rows of a sparse or dense matrix, clipped at 0."""
    similarity = rows @ rows.T
    dense = similarity.toarray() if hasattr(similarity, "toarray") else np.asarray(similarity)
    distances = np.clip(1.0 - dense, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    return np.asarray(distances, dtype=np.float64)


def _normalised(rows: Any) -> Any:
    from sklearn.preprocessing import normalize

    return normalize(rows)


def _cluster_rows(matrix: Any, threshold: float) -> NDArray[np.int64]:
    """Theme label of each (distinct) row of a TF-IDF matrix: exact up to ``DIRECT_LIMIT`` rows, else
    k-means micro-clusters first and average linkage on their centroids (see the module's docstring)."""
    rows = matrix.shape[0]
    if rows <= DIRECT_LIMIT:
        return _average_linkage(_cosine_distances(matrix), threshold)
    from scipy import sparse
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD

    dimensions = min(LSA_DIMENSIONS, matrix.shape[1] - 1)
    projected = _normalised(TruncatedSVD(dimensions, n_iter=2, random_state=SEED).fit_transform(matrix))
    micro = MiniBatchKMeans(DIRECT_LIMIT, init="random", random_state=SEED, batch_size=4096, n_init=1, max_iter=20)
    micro_of_row = np.asarray(micro.fit_predict(projected), dtype=np.int64)
    used, micro_of_row = np.unique(micro_of_row, return_inverse=True)
    membership = sparse.csr_matrix(
        (np.ones(rows), (micro_of_row, np.arange(rows))), shape=(len(used), rows), dtype=np.float64
    )
    centroids = _normalised(membership @ matrix)  # each micro-cluster's mean TF-IDF row, L2-normalised
    theme_of_micro = _average_linkage(_cosine_distances(centroids), threshold)
    return theme_of_micro[micro_of_row]


def _terms(
    folded: Sequence[str], members: Sequence[int], document_frequency: Counter[str], total: int
) -> tuple[str, ...]:
    """The theme's most characteristic words: frequency in the theme times inverse frequency in the language.

    Words, not the character n-grams the clustering uses: "outlets", not "tlet".
    """
    counts = Counter(word for member in members for word in set(_WORD.findall(folded[member])))
    scored = sorted(
        counts.items(), key=lambda item: (-item[1] * math.log((1 + total) / (1 + document_frequency[item[0]])), item[0])
    )
    return tuple(word for word, count in scored[:TERMS] if count > 1 or len(members) == 1)


def cluster(texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> Clustering:
    """Themes of ``texts`` and the fitted vectorizers and centroids ``assign`` attaches later answers with.

    Themes are sorted by size, largest first (ties: the language, then the first member); a text unlike
    any other is a theme of its own (size 1), never dropped.
    """
    if not 0 < threshold <= 2:
        raise ValueError(f"the threshold is a cosine distance in (0, 2], got {threshold}")
    by_language: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        by_language.setdefault(detect_language(text), []).append(index)
    themes: list[tuple[Theme, str, Floats]] = []
    vectorizers: dict[str, Any] = {}
    for language, indices in sorted(by_language.items()):
        folded_all = [fold(texts[index]) for index in indices]
        distinct: dict[str, int] = {}
        row_of = [distinct.setdefault(folded, len(distinct)) for folded in folded_all]
        vectorizer = _vectorizer()
        try:
            matrix = vectorizer.fit_transform(list(distinct))
        except ValueError:  # no n-gram at all (every text is empty): one theme of its own each
            matrix = None
        if matrix is None or matrix.shape[1] < 2:
            labels = np.arange(len(distinct), dtype=np.int64)
            matrix = None
        else:
            vectorizers[language] = vectorizer
            labels = _cluster_rows(matrix, threshold)
        document_frequency = Counter(word for folded in distinct for word in set(_WORD.findall(folded)))
        groups: dict[int, list[int]] = {}
        for position, row in enumerate(row_of):
            groups.setdefault(int(labels[row]), []).append(position)
        for positions in groups.values():
            rows = sorted({row_of[position] for position in positions})
            members = tuple(indices[position] for position in positions)
            if matrix is None:
                centre, name = np.zeros(0), texts[members[0]]
            else:
                weights = np.bincount([row_of[position] for position in positions], minlength=matrix.shape[0])[rows]
                block = matrix[rows]
                centre = np.asarray(block.T @ weights, dtype=np.float64).ravel()
                centre /= np.linalg.norm(centre) or 1.0
                central_row = rows[int(np.argmax(block @ centre))]
                name = texts[next(indices[p] for p in positions if row_of[p] == central_row)]
            terms = _terms(folded_all, positions, document_frequency, len(distinct))
            themes.append((Theme(language, members, name, terms), language, centre))
    themes.sort(key=lambda entry: (-entry[0].size, entry[0].language, entry[0].members[0]))
    centroids: dict[str, list[Floats]] = {}
    theme_index: dict[str, list[int]] = {}
    for position, (_, language, centre) in enumerate(themes):
        if language in vectorizers:
            centroids.setdefault(language, []).append(centre)
            theme_index.setdefault(language, []).append(position)
    return Clustering(
        [theme for theme, _, _ in themes],
        threshold,
        vectorizers,
        {language: np.vstack(rows) for language, rows in centroids.items()},
        theme_index,
    )


def themes(texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> list[Theme]:
    """The themes of ``texts``, largest first (see ``cluster``)."""
    return cluster(texts, threshold).themes


def assign(clustering: Clustering, new_texts: Sequence[str]) -> list[int | None]:
    """For each new text, the index in ``clustering.themes`` of the nearest theme of its language whose
    centroid is within the clustering's threshold, or ``None`` (a new theme, seen at the next full run).

    Between two full runs (see the module's docstring) answers are attached this way: one sparse row
    and one dot product with the language's centroids each, instead of clustering everything again.
    Average linkage compares a text with a theme's members on average, which is what the distance to
    the members' mean direction approximates.
    """
    found: list[int | None] = []
    for text in new_texts:
        language = detect_language(text)
        vectorizer = clustering.vectorizers.get(language)
        if vectorizer is None:
            found.append(None)
            continue
        row = vectorizer.transform([text])
        similarity = np.asarray(row @ clustering.centroids[language].T, dtype=np.float64).ravel()
        best = int(np.argmax(similarity))
        close = 1.0 - similarity[best] <= clustering.threshold and similarity[best] > 0
        found.append(clustering.theme_index[language][best] if close else None)
    return found
