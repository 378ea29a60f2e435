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
SIGMOID_SLOPE = 3.0  # maps SVM margins (about -1..1) to scores that blend with the lexicon's


def word_form(text: str) -> str:
    """The matching form (wiredesk.text.normalize), Chinese characters spaced into words."""
    return _HAN.sub(r" \1 ", normalize(text))


def char_form(text: str) -> str:
    """A lighter form for character n-grams: folded and casefolded, punctuation kept.

    Punctuation carries signal the matching form drops (Chinese 《》 around film and game
    titles, score lines such as 2:1).
    """
    return " ".join(fold_arabic(unicodedata.normalize("NFKC", text).casefold()).split())


def _word_forms(texts: Sequence[str]) -> list[str]:
    return [word_form(t) for t in texts]


def _char_forms(texts: Sequence[str]) -> list[str]:
    return [char_form(t) for t in texts]


def _features(language: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    # Unsegmented scripts: character 1-3 grams carry the words; elsewhere 2-5 grams.
    chars = (1, 3) if language in _UNSEGMENTED else (2, 5)
    return FeatureUnion([
        ("words", make_pipeline(
            FunctionTransformer(_word_forms),
            TfidfVectorizer(
                token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
                max_features=300_000, sublinear_tf=True, dtype=np.float32,
            ),
        )),
        ("chars", make_pipeline(
            FunctionTransformer(_char_forms),
            TfidfVectorizer(
                analyzer="char", lowercase=False, ngram_range=chars, min_df=2,
                max_features=300_000, sublinear_tf=True, dtype=np.float32,
            ),
        )),
    ])


class TopicModel:
    """Per-language, per-topic linear SVMs; scores in [0, 1] through a fixed sigmoid."""

    def __init__(self, c: float = 1.0, min_examples: int = 100) -> None:
        self.c = c
        self.min_examples = min_examples
        self.languages: dict[str, int] = {}
        # language -> (features, topics, weights [topics x features], intercepts)
        self._models: dict[str, tuple[Any, tuple[str, ...], Any, Any]] = {}

    def fit(
        self, texts: Sequence[str], languages: Sequence[str], topics: Sequence[Sequence[str]]
    ) -> TopicModel:
        """Fit on raw ``texts`` with their languages and top-level qcodes."""
        from sklearn.svm import LinearSVC

        self.languages = dict(Counter(languages))
        for language, count in sorted(self.languages.items()):
            if count < self.min_examples:
                continue
            rows = [i for i, lang in enumerate(languages) if lang == language]
            features = _features(language)
            x = features.fit_transform([texts[i] for i in rows])
            fitted: dict[str, Any] = {}
            for topic in sorted({t for i in rows for t in topics[i]}):
                y = np.array([topic in topics[i] for i in rows], dtype=np.int8)
                if 0 < y.sum() < len(rows):
                    fitted[topic] = LinearSVC(C=self.c).fit(x, y)
            # One weight matrix per language: a single sparse product scores every topic.
            weights = np.vstack([clf.coef_[0] for clf in fitted.values()]).astype(np.float32)
            intercepts = np.array([clf.intercept_[0] for clf in fitted.values()], np.float32)
            self._models[language] = (features, tuple(fitted), weights, intercepts)
        return self

    def speaks(self, language: str) -> bool:
        """Whether there is a model for ``language``."""
        return language in self._models

    def scores(self, text: str, language: str) -> dict[str, float]:
        """Topic scores in [0, 1] for one raw text (empty for a language without a model)."""
        if language not in self._models:
            return {}
        features, topics, weights, intercepts = self._models[language]
        x = features.transform([text])
        margins = np.asarray(x @ weights.T).ravel() + intercepts
        probabilities = 1.0 / (1.0 + np.exp(-SIGMOID_SLOPE * margins))
        return {topic: float(p) for topic, p in zip(topics, probabilities, strict=True)}
