"""Language stage: which language an article is written in, as a BCP 47 primary subtag.

py3langid (its model ships in the wheel) restricted to the configured news languages: the
restriction is what keeps headlines and Chinese from drifting to rare neighbours (`wuu`, `yue`,
`arz`). The feed's declared language is only a hint: it wins when the text is too short or the
detector is unsure and the hint is a close runner-up.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wiredesk.schemas import Article
from wiredesk.text.languages import primary_subtag

# Enough text to decide (articles score the same as with 600 or all characters); more only
# costs time.
MAX_CHARS = 400
# Below this many letters the text says too little and the hint (if any) is preferred.
MIN_LETTERS = 12
# Under this confidence a hint that scores within HINT_MARGIN of the winner takes over.
LOW_CONFIDENCE = 0.90
HINT_MARGIN = 0.25
# A hint scored below this is no close call: the text is in a script its language does not
# write (an Arabic headline in a feed that says "en" scores English at about 1e-5).
HINT_FLOOR = 0.01


@dataclass(frozen=True)
class Guess:
    language: str | None
    confidence: float


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]) -> Any:
    """One py3langid identifier per language set per process (loading costs about a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    known = set(identifier.nb_classes)
    identifier.set_languages([lang for lang in languages if lang in known])
    return identifier


def _letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch).startswith("L"))


@lru_cache(maxsize=64)
def _accent_rate(language: str) -> float:
    """Share of letters outside ASCII in the language's CLDR names (Babel): how often its text
    carries accents. Character n-grams reward accents that are there, but barely count their
    absence; a headline of thirty plain ASCII letters is itself evidence against French."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return 0.0
    names = [*locale.territories.values(), *locale.languages.values(),
             *locale.months["format"]["wide"].values(), *locale.days["format"]["wide"].values()]
    letters = [ch for ch in " ".join(names) if ch.isalpha()]
    return sum(1 for ch in letters if not ch.isascii()) / len(letters) if letters else 0.0


def _ascii_evidence(text: str, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Re-weight the ranking of an all-ASCII text by each language's chance of having no
    accent in that many letters, (1 - rate) ** letters; other texts are left as they are."""
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters or not text.isascii():
        return ranked
    weighted = [(lang, p * (1.0 - _accent_rate(lang)) ** letters) for lang, p in ranked]
    total = sum(p for _lang, p in weighted) or 1.0
    return sorted(((lang, p / total) for lang, p in weighted), key=lambda lp: -lp[1])


def identify(text: str, languages: Sequence[str], hint: str | None = None) -> Guess:
    """Guess the language of ``text`` among ``languages``, using ``hint`` as a tie-breaker."""
    langs = tuple(sorted({primary_subtag(lang) or "" for lang in languages} - {""}))
    hint = primary_subtag(hint)
    if hint not in langs:
        hint = None
    sample = text[:MAX_CHARS]
    letters = _letters(sample[:200])  # enough to tell "too short" from "long enough"
    if letters == 0:
        return Guess(hint, 0.0)
    identifier = _identifier(langs)
    if not hint and not sample.isascii():
        best, confidence = identifier.classify(sample)  # the top answer alone is cheaper
        return Guess(best, float(confidence))
    ranked = _ascii_evidence(sample, identifier.rank(sample))
    best, confidence = ranked[0]
    if not hint:
        return Guess(best, float(confidence))
    if hint != best:
        hint_score = dict(ranked).get(hint, 0.0)
        too_short = letters < MIN_LETTERS
        unsure = confidence < LOW_CONFIDENCE and confidence - hint_score < HINT_MARGIN
        if (too_short or unsure) and hint_score >= HINT_FLOOR:
            return Guess(hint, float(hint_score))
    return Guess(best, float(confidence))


def article_text(article: Article) -> str:
    """The text the detector reads: title, then the body (or the summary when there is none)."""
    return f"{article.title}\n{article.body_text or article.summary}".strip()


def detect_language(article: Article, languages: Sequence[str]) -> Article:
    """Return ``article`` with ``language`` and ``language_confidence`` set."""
    guess = identify(article_text(article), languages, article.language_hint)
    return article.replace(language=guess.language, language_confidence=round(guess.confidence, 4))
