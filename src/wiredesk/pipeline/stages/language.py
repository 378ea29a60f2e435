"""Language stage: which language an article is written in, as a BCP 47 primary subtag.

py3langid (its model ships in the wheel) restricted to the configured news languages: the
restriction is what keeps headlines and Chinese from drifting to rare neighbours (`wuu`, `yue`,
`arz`). The script decides first: only languages that write it compete (CLDR's likely script of
each language, through Babel), so kana is Japanese and hangul Korean however short the text. The
feed's declared language is only a hint: it wins when the text is too short or the detector is
unsure and the hint is a close runner-up. Without a hint, a short text with no clear winner is
undetermined (None) rather than a guess.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
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
# A text of fewer letters than this (a headline) whose best language is not at least CLEAR
# times as likely as the runner-up has no answer of its own: the hint decides, and without one
# it is undetermined. Chosen on half of the BBC headlines, checked on the other half and on the
# other labeled headline sets (docs/stages.md, "language").
SHORT_LETTERS = 100
CLEAR = 2.0
# Each letter of a text's alphabet that a language never writes (in its CLDR names) multiplies
# that language's probability by this: "ی" and "ک" are Persian and Urdu, "ي" "ك" "ة" Arabic,
# "ы" Russian, "ї" Ukrainian.
FOREIGN_LETTER = 0.01

# Letters by script (ISO 15924). Han is shared: Chinese, Japanese and Korean write it.
_SCRIPTS = {
    "Latn": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F),
             (0x1E00, 0x1EFF)),
    "Arab": ((0x620, 0x64A), (0x66E, 0x6D3), (0x6D5, 0x6D5), (0x6FA, 0x6FC), (0x750, 0x77F),
             (0x8A0, 0x8C9), (0xFB50, 0xFDFB), (0xFE70, 0xFEFC)),
    "Cyrl": ((0x400, 0x481), (0x48A, 0x52F)),
    "Grek": ((0x370, 0x373), (0x376, 0x3FF), (0x1F00, 0x1FFC)),
    "Hebr": ((0x5D0, 0x5EA),),
    "Deva": ((0x900, 0x963), (0x971, 0x97F)),
    "Thai": ((0xE01, 0xE4E),),
    "Hani": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    # Not ・ (U+30FB): Chinese uses it too ("吉姆・罗杰斯").
    "Kana": ((0x3041, 0x3096), (0x30A1, 0x30FA), (0x30FC, 0x30FC), (0x31F0, 0x31FF),
             (0xFF66, 0xFF9D)),
    "Hang": ((0x1100, 0x11FF), (0x3131, 0x318E), (0xAC00, 0xD7A3)),
}
_TAGS = "".join(chr(0xE000 + i) for i in range(len(_SCRIPTS)))  # one private-use tag each


class _ScriptTable(dict[int, str | None]):
    """str.translate table: a letter of a known script -> its script's tag, anything else ->
    dropped. Counting the tags of a translated text counts its letters by script at C speed."""

    def __missing__(self, codepoint: int) -> None:
        if len(self) < 200_000:  # remember spaces, digits, punctuation: C speed next time
            self[codepoint] = None


_SCRIPT_TABLE = _ScriptTable(
    (codepoint, tag)
    for tag, ranges in zip(_TAGS, _SCRIPTS.values(), strict=True)
    for low, high in ranges
    for codepoint in range(low, high + 1)
)
_SCRIPT_OF_TAG = dict(zip(_TAGS, _SCRIPTS, strict=True))
_TAG_OF_SCRIPT = dict(zip(_SCRIPTS, _TAGS, strict=True))
# Scripts whose every letter a language's CLDR names show (not Latin, whose texts quote names
# with foreign accents; not Han, thousands of characters).
_ALPHABETS = frozenset({"Arab", "Cyrl", "Grek", "Hebr", "Deva"})


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
def _script_of(language: str) -> str | None:
    """The script CLDR says a language is written in (Babel's likely subtags)."""
    from babel.core import get_global

    likely = get_global("likely_subtags").get(language)
    script = str(likely).split("_")[1] if likely and str(likely).count("_") >= 2 else None
    return {"Hans": "Hani", "Hant": "Hani"}.get(script or "", script)


def _scan(text: str) -> tuple[int, str | None]:
    """How many letters ``text`` has, and its script: the most frequent one other than Latin
    when it has at least a quarter of the letters (Arabic, Chinese and Russian copy quote brands
    and acronyms in Latin letters: "Amgen任命Peacock为首席财务官"), else Latin. Kana makes Han
    text Japanese ("Jpan"), hangul Korean ("Kore"). Letters of other scripts are counted, with
    no script."""
    counts = Counter(text.translate(_SCRIPT_TABLE))
    total = sum(counts.values())
    if not total:
        return _letters(text), None
    tag, most = max(((t, n) for t, n in counts.items() if _SCRIPT_OF_TAG[t] != "Latn"),
                    key=lambda tn: tn[1], default=("", 0))
    script = _SCRIPT_OF_TAG[tag] if most * 4 >= total else "Latn"
    if script in ("Hani", "Kana") and counts[_TAG_OF_SCRIPT["Kana"]]:
        script = "Jpan"
    elif script in ("Hani", "Hang") and counts[_TAG_OF_SCRIPT["Hang"]]:
        script = "Kore"
    return total, script


@lru_cache(maxsize=64)
def _writers(languages: tuple[str, ...], script: str | None) -> tuple[str, ...]:
    """The languages of ``languages`` that write ``script`` (all of them when none does)."""
    accepted = {"Hani": {"Hani", "Jpan", "Kore"}}.get(script or "", {script})
    found = tuple(lang for lang in languages if _script_of(lang) in accepted)
    return found or languages


@lru_cache(maxsize=64)
def _alphabet(language: str) -> frozenset[str]:
    """The letters of the language's CLDR names (Babel): what it writes."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return frozenset()
    names = [*locale.territories.values(), *locale.languages.values(),
             *locale.scripts.values(), *locale.currencies.values(),
             *locale.months["format"]["wide"].values(), *locale.days["format"]["wide"].values()]
    return frozenset(ch for ch in " ".join(names).lower() if ch.isalpha())


@lru_cache(maxsize=8)
def _keep(script: str) -> _ScriptTable:
    """str.translate table that keeps the letters of ``script`` and drops everything else."""
    return _ScriptTable((cp, chr(cp)) for low, high in _SCRIPTS[script] for cp in range(low, high + 1))


def _letter_evidence(
    text: str, script: str | None, ranked: list[tuple[str, float]]
) -> list[tuple[str, float]]:
    """Re-weight the ranking by the letters of ``script`` each language never writes."""
    if script not in _ALPHABETS or len(ranked) < 2:
        return ranked
    letters = Counter(text.lower().translate(_keep(script)))
    weighted = []
    for lang, p in ranked:
        alphabet = _alphabet(lang)
        foreign = sum(letters[ch] for ch in letters.keys() - alphabet) if alphabet else 0
        weighted.append((lang, p * FOREIGN_LETTER ** foreign))
    return _normalized(weighted)


def _normalized(weighted: list[tuple[str, float]]) -> list[tuple[str, float]]:
    total = sum(p for _lang, p in weighted) or 1.0
    return sorted(((lang, p / total) for lang, p in weighted), key=lambda lp: -lp[1])


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
    return _normalized([(lang, p * (1.0 - _accent_rate(lang)) ** letters) for lang, p in ranked])


def _readable(text: str) -> str:
    """The text as the model reads it best: a headline in capitals ("ARDE GUANAJUATO POR
    CHOQUE") in lower case, since the n-grams were learned from ordinary running text."""
    cased = [ch for ch in text if ch.isupper() or ch.islower()]
    upper = sum(1 for ch in cased if ch.isupper())
    return text.lower() if cased and upper > 0.7 * len(cased) else text


@lru_cache(maxsize=8)
def _primary_subtags(languages: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({primary_subtag(lang) or "" for lang in languages} - {""}))


def identify(text: str, languages: Sequence[str], hint: str | None = None) -> Guess:
    """Guess the language of ``text`` among ``languages``, using ``hint`` as a tie-breaker;
    None when there is no hint and a short text leaves the detector unsure."""
    langs = _primary_subtags(tuple(languages))
    hint = primary_subtag(hint)
    if hint not in langs:
        hint = None
    sample = text[:MAX_CHARS]
    letters, script = _scan(sample[:200])  # enough to tell "too short" from "long enough"
    if letters == 0:
        return Guess(hint, 0.0)
    candidates = _writers(langs, script)
    if len(candidates) == 1:  # Greek, Hebrew, hangul, kana: the script says it all
        return Guess(candidates[0], 1.0)
    identifier = _identifier(langs)
    if not hint and letters >= SHORT_LETTERS and not sample.isascii():
        best, confidence = identifier.classify(sample)  # the top answer alone is cheaper
        if best in candidates and confidence >= LOW_CONFIDENCE:  # the n-grams settle it
            return Guess(best, float(confidence))
    allowed = set(candidates)
    read = _readable(sample) if letters < SHORT_LETTERS else sample
    ranked = [lp for lp in identifier.rank(read) if lp[0] in allowed]  # best first already
    total = sum(p for _lang, p in ranked) or 1.0
    ranked = [(lang, p / total) for lang, p in ranked]
    ranked = _ascii_evidence(sample, _letter_evidence(sample, script, ranked))
    best, confidence = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    no_winner = letters < SHORT_LETTERS and confidence < CLEAR * runner_up
    if not hint:
        return Guess(None if no_winner else best, float(confidence))
    if hint != best:
        hint_score = dict(ranked).get(hint, 0.0)
        too_short = letters < MIN_LETTERS
        unsure = confidence < LOW_CONFIDENCE and confidence - hint_score < HINT_MARGIN
        if (too_short or unsure or no_winner) and hint_score >= HINT_FLOOR:
            return Guess(hint, float(hint_score))
    return Guess(best, float(confidence))


def article_text(article: Article) -> str:
    """The text the detector reads: title, then the body (or the summary when there is none)."""
    return f"{article.title}\n{article.body_text or article.summary}".strip()


def detect_language(article: Article, languages: Sequence[str]) -> Article:
    """Return ``article`` with ``language`` and ``language_confidence`` set."""
    guess = identify(article_text(article), languages, article.language_hint)
    return article.replace(language=guess.language, language_confidence=round(guess.confidence, 4))
