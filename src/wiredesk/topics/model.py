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
DEFAULT_DOMAIN_SHARE = 0.5  # per-source SVMs' share in the margins until training picks one


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
    """Per-language, per-topic linear SVMs; scores in [0, 1] through a fixed sigmoid.

    Where a language's training text comes from several sources (news articles, headlines,
    sentences), it also keeps one set of topic SVMs per source and a classifier that tells
    which source a text resembles: with a share ``domains[language]`` above 0, a text's margins
    mix the language-wide SVMs' with that share of those of the source it resembles.
    """

    def __init__(self, c: float = 1.0, min_examples: int = 100) -> None:
        self.c = c
        self.min_examples = min_examples
        self.languages: dict[str, int] = {}
        # language -> (word vectorizer, char vectorizer, topics, weights [features x topics],
        # intercepts)
        self._models: dict[str, tuple[Any, Any, tuple[str, ...], Any, Any]] = {}
        # language -> (sources, source weights [features x sources], source intercepts,
        # per-source topic weights [sources x features x topics], per-source intercepts)
        self._domains: dict[str, tuple[tuple[str, ...], Any, Any, Any, Any]] = {}
        # language -> share of the per-source SVMs in the margins (0: language-wide SVMs only)
        self.domains: dict[str, float] = {}

    def fit(
        self, texts: Sequence[str], languages: Sequence[str], topics: Sequence[Sequence[str]],
        sources: Sequence[str] | None = None,
    ) -> TopicModel:
        """Fit on raw ``texts`` with their languages, top-level qcodes and (optional) sources."""
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
            if sources is not None:
                self._fit_domains(language, x, [sources[i] for i in rows],
                                  [topics[i] for i in rows], tuple(fitted))
        return self

    def _fit_domains(
        self, language: str, x: Any, sources: list[str], topics: list[Sequence[str]],
        names: tuple[str, ...],
    ) -> None:
        from sklearn.svm import LinearSVC

        counts = Counter(sources)
        kept = tuple(sorted(s for s, n in counts.items() if n >= self.min_examples))
        if len(kept) < 2:
            return
        mask = np.array([s in kept for s in sources])
        xs = x[mask]
        which = LinearSVC(C=self.c).fit(xs, np.array(sources)[mask])
        coef = which.coef_ if len(kept) > 2 else np.vstack([-which.coef_[0], which.coef_[0]])
        bias = which.intercept_ if len(kept) > 2 else np.array(
            [-which.intercept_[0], which.intercept_[0]])
        per_w, per_b = [], []
        for source in kept:
            rows = [i for i, s in enumerate(sources) if s == source]
            xr = x[rows]
            w = np.zeros((x.shape[1], len(names)), np.float32)
            b = np.full(len(names), -1.0, np.float32)  # a topic this source never has: "no"
            for k, topic in enumerate(names):
                y = np.array([topic in topics[i] for i in rows], dtype=np.int8)
                if 0 < y.sum() < len(rows):
                    clf = LinearSVC(C=self.c).fit(xr, y)
                    w[:, k], b[k] = clf.coef_[0], clf.intercept_[0]
            per_w.append(w)
            per_b.append(b)
        self._domains[language] = (
            kept, np.ascontiguousarray(coef.T, dtype=np.float32), bias.astype(np.float32),
            np.stack(per_w), np.stack(per_b),
        )
        self.domains.setdefault(language, DEFAULT_DOMAIN_SHARE)

    def source_of(self, text: str, language: str) -> str | None:
        """Which training source ``text`` resembles (None without per-source SVMs)."""
        if language not in self._domains:
            return None
        x_words, x_chars, _ = self._features(text, language)
        return self._domains[language][0][self._source_index(x_words, x_chars, language)]

    def _features(self, text: str, language: str) -> tuple[Any, Any, int]:
        words, characters = self._models[language][:2]
        return (words.transform([word_form(text)]), characters.transform([char_form(text)]),
                len(words.vocabulary_))

    @staticmethod
    def _dot(x_words: Any, x_chars: Any, offset: int, weights: Any) -> Any:
        return x_words.data @ weights[x_words.indices] + x_chars.data @ weights[
            x_chars.indices + offset]

    def _source_index(self, x_words: Any, x_chars: Any, language: str) -> int:
        offset = x_words.shape[1]
        _, coef, bias, _, _ = self._domains[language]
        return int(np.argmax(self._dot(x_words, x_chars, offset, coef) + bias))

    def speaks(self, language: str) -> bool:
        """Whether there is a model for ``language``."""
        return language in self._models

    def scores(self, text: str, language: str) -> dict[str, float]:
        """Topic scores in [0, 1] for one raw text (empty for a language without a model)."""
        return self.scores_and_source(text, language)[0]

    def scores_and_source(self, text: str, language: str) -> tuple[dict[str, float], str | None]:
        """Topic scores for one raw text, and the training source it resembles (if known)."""
        if language not in self._models:
            return {}, None
        _, _, topics, weights, intercepts = self._models[language]
        # The vectorizers directly, not a FeatureUnion: its per-call overhead dominated.
        x_words, x_chars, offset = self._features(text, language)
        margins = self._dot(x_words, x_chars, offset, weights) + intercepts
        domains = getattr(self, "_domains", {}).get(language)
        source = None
        if domains is not None:
            k = self._source_index(x_words, x_chars, language)
            source = domains[0][k]
            share = float(self.domains.get(language, 0.0))
            if share:
                own = self._dot(x_words, x_chars, offset, domains[3][k]) + domains[4][k]
                margins = (1 - share) * margins + share * own
        probabilities = 1.0 / (1.0 + np.exp(-SIGMOID_SLOPE * margins))
        scores = {topic: float(p) for topic, p in zip(topics, probabilities, strict=True)}
        return scores, source
