"""The categorizer's learned half: one linear model per language over word and char n-grams.

Per language, because n-gram features do not carry across languages (a model trained on
English scores chance on Arabic); a language without enough training text has no model and the
lexicon answers alone. Pickled inside the versioned artifact, so keep this class importable.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from wiredesk.text.normalize import fold_arabic, normalize

_HAN = re.compile(r"([\u3400-\u9fff\uf900-\ufaff])")
_UNSEGMENTED = {"zh", "ja", "th", "lo", "km", "my"}
CHAR_TEXT_CHARS = 3000  # character n-grams read the opening only: they cost per character
SIGMOID_SLOPE = 3.0  # maps SVM margins (about -1..1) to scores that blend with the lexicon's


def word_form(text: str) -> str:
    """The matching form (wiredesk.text.normalize), Chinese characters spaced into words."""
    return _HAN.sub(r" \1 ", normalize(text))


def char_form(text: str) -> str:
    """A lighter form of the opening for character n-grams: folded, punctuation kept.

    Punctuation carries signal the matching form drops (Chinese 《》 around film and game
    titles, score lines such as 2:1).
    """
    text = text[:CHAR_TEXT_CHARS]
    return " ".join(fold_arabic(unicodedata.normalize("NFKC", text).casefold()).split())


def _vectorizers(language: str) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Unsegmented scripts: character 1-3 grams carry the words; elsewhere 2-5 grams.
    chars = (1, 3) if language in _UNSEGMENTED else (2, 5)
    words = TfidfVectorizer(
        token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), max_features=300_000,
        sublinear_tf=True, dtype=np.float32,
    )
    characters = TfidfVectorizer(
        analyzer="char", lowercase=False, ngram_range=chars, min_df=2, max_features=300_000,
        sublinear_tf=True, dtype=np.float32,
    )
    return words, characters


class TopicModel:
    """Per-language, per-topic linear SVMs; scores in [0, 1] through a fixed sigmoid."""

    def __init__(self, c: float = 1.0, min_examples: int = 100) -> None:
        self.c = c
        self.min_examples = min_examples
        self.languages: dict[str, int] = {}
        # language -> (word vectorizer, char vectorizer, topics, weights [features x topics],
        # intercepts)
        self._models: dict[str, tuple[Any, Any, tuple[str, ...], Any, Any]] = {}

    def fit(
        self, texts: Sequence[str], languages: Sequence[str], topics: Sequence[Sequence[str]]
    ) -> TopicModel:
        """Fit on raw ``texts`` with their languages and top-level qcodes."""
        from scipy import sparse
        from sklearn.svm import LinearSVC

        self.languages = dict(Counter(languages))
        for language, count in sorted(self.languages.items()):
            if count < self.min_examples:
                continue
            rows = [i for i, lang in enumerate(languages) if lang == language]
            words, characters = _vectorizers(language)
            x = sparse.hstack([
                words.fit_transform([word_form(texts[i]) for i in rows]),
                characters.fit_transform([char_form(texts[i]) for i in rows]),
            ]).tocsr()
            for vectorizer in (words, characters):
                # Every n-gram cut by min_df/max_features: megabytes nobody reads again.
                if hasattr(vectorizer, "stop_words_"):
                    del vectorizer.stop_words_
            fitted: dict[str, Any] = {}
            for topic in sorted({t for i in rows for t in topics[i]}):
                y = np.array([topic in topics[i] for i in rows], dtype=np.int8)
                if 0 < y.sum() < len(rows):
                    fitted[topic] = LinearSVC(C=self.c).fit(x, y)
            # One weight matrix per language, a row per feature: scoring a text reads only the
            # rows of its few hundred features.
            weights = np.ascontiguousarray(
                np.vstack([clf.coef_[0] for clf in fitted.values()]).T, dtype=np.float32
            )
            intercepts = np.array([clf.intercept_[0] for clf in fitted.values()], np.float32)
            self._models[language] = (words, characters, tuple(fitted), weights, intercepts)
        return self

    def speaks(self, language: str) -> bool:
        """Whether there is a model for ``language``."""
        return language in self._models

    def scores(self, text: str, language: str) -> dict[str, float]:
        """Topic scores in [0, 1] for one raw text (empty for a language without a model)."""
        if language not in self._models:
            return {}
        words, characters, topics, weights, intercepts = self._models[language]
        # The vectorizers directly, not a FeatureUnion: its per-call overhead dominated.
        x_words = words.transform([word_form(text)])
        x_chars = characters.transform([char_form(text)])
        offset = len(words.vocabulary_)
        margins = (
            x_words.data @ weights[x_words.indices]
            + x_chars.data @ weights[x_chars.indices + offset]
            + intercepts
        )
        probabilities = 1.0 / (1.0 + np.exp(-SIGMOID_SLOPE * margins))
        return {topic: float(p) for topic, p in zip(topics, probabilities, strict=True)}
