"""The multilingual topic lexicon: IPTC labels and definitions in every locale plus our keywords.

Terms match normalized words. Latin and Cyrillic terms act as stems (a term also matches words
it begins, within a bounded suffix), Arabic terms also match behind clitics (و ف ب ل ك ال),
Chinese terms match as substrings. Each term carries weights toward top-level topics and, for
IPTC labels, the level-2 topic it sits under (the evidence for a lower-level category).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from wiredesk import taxonomy
from wiredesk.text.languages import primary_subtag
from wiredesk.text.normalize import normalize

# Bumped whenever lexicon construction or scoring changes; recorded in trained artifacts.
LEXICON_VERSION = 2
KEYWORDS_PATH = Path(__file__).resolve().parents[1] / "data" / "categorize" / "lexicon.yaml"

_LABEL_WEIGHT = 1.0
_KEYWORD_WEIGHT = 1.0
_DEFINITION_WEIGHT = 0.4
_SINGLE_HAN_WEIGHT = 0.3
_MAX_HAN_TERM = 8
_TOKEN_CACHE_SIZE = 200_000
_ARABIC_CLITICS = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
# Words that join the parts of an IPTC label ("arts, culture and media").
_LABEL_JOINERS = re.compile(
    r"\s*(?:[,،、;/]|\band\b|\bet\b|\bund\b|\by\b|\be\b|\bog\b|\boch\b|和|与|及)\s*"
)
_WORD = re.compile(r"\w+")
# Function words that never count as evidence on their own (definitions are full sentences).
_STOP = set(
    "the and for with from that this which such their other about into also including used "
    "related those these them they have has been being were when where while within without "
    "between over under more most some any all each every person people its not new "
    "les des une pour avec dans sur par qui que aux est sont leur ainsi comme autres "
    "der die das und mit von für auf den dem des ein eine einer eines oder sowie durch "
    "los las una con para por del que sus como otros otras entre sobre "
    "och med för som den det att eller samt inom andra med "
    "dos das uma com para por que seus suas como outros outras entre sobre "
    "og med til som den det at eller andre".split()
)


def _script(ch: str) -> str:
    if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f":
        return "arab"
    if "\u0400" <= ch <= "\u04ff":
        return "cyrl"
    if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
        return "han"
    return "latn"


def _is_han(word: str) -> bool:
    return any(_script(ch) == "han" for ch in word)


@dataclass
class _Term:
    words: tuple[str, ...]
    exact: bool
    topics: dict[str, float] = field(default_factory=dict)  # top-level qcode -> weight
    subtopics: dict[str, float] = field(default_factory=dict)  # level-2 qcode -> weight


def _max_suffix(word: str, exact: bool) -> int:
    """How many letters may follow a term word inside a text word."""
    script = _script(word[0])
    if exact:
        return 2 if script == "latn" else 0  # plural -s/-es only
    if script == "cyrl":
        return 4 if len(word) <= 4 else 7
    if script == "arab":
        return 3 if len(word) >= 3 else 0
    return 4 if len(word) >= 5 else 2


@dataclass
class Evidence:
    """What the lexicon found in one text: weights per top-level and level-2 topic."""

    topics: dict[str, float]
    subtopics: dict[str, float]
    matches: int


class Lexicon:
    """Per-language term tables and a scorer over normalized text."""

    def __init__(self) -> None:
        # language -> first word -> terms starting with it
        self._words: dict[str, dict[str, list[_Term]]] = defaultdict(lambda: defaultdict(list))
        self._han: dict[str, dict[str, _Term]] = defaultdict(dict)
        self._terms: dict[tuple[str, tuple[str, ...], bool], _Term] = {}
        self._token_cache: dict[tuple[str, str], tuple[_Term, ...]] = {}

    @property
    def languages(self) -> list[str]:
        """Languages that have terms."""
        return sorted(set(self._words) | set(self._han))

    def add(
        self, language: str, phrase: str, topic: str, weight: float,
        subtopic: str | None = None, exact: bool = False,
    ) -> None:
        """Add one term (a word or phrase in ``language``) as evidence for ``topic``."""
        words = tuple(normalize(phrase).split())
        if not words:
            return
        if len(words) == 1 and not _is_han(words[0]):
            word = words[0]
            if len(word) < 2 or (len(word) < 3 and _script(word[0]) == "latn") or word in _STOP:
                return
        self._token_cache.clear()
        key = (language, words, exact)
        term = self._terms.get(key)
        if term is None:
            term = self._terms[key] = _Term(words, exact)
            if len(words) == 1 and _is_han(words[0]):
                if len(words[0]) > _MAX_HAN_TERM:
                    return
                self._han[language][words[0]] = term
            else:
                self._words[language][words[0]].append(term)
        if len(words) == 1 and _is_han(words[0]) and len(words[0]) == 1:
            weight = min(weight, _SINGLE_HAN_WEIGHT)
        term.topics[topic] = max(term.topics.get(topic, 0.0), weight)
        if subtopic:
            term.subtopics[subtopic] = max(term.subtopics.get(subtopic, 0.0), weight)

    def _candidates(self, token: str) -> Iterable[str]:
        yield token
        if _script(token[0]) == "arab":
            for clitic in _ARABIC_CLITICS:
                if token.startswith(clitic) and len(token) - len(clitic) >= 2:
                    yield token[len(clitic):]

    @staticmethod
    def _word_matches(word: str, token: str, exact: bool) -> bool:
        if not token.startswith(word):
            return False
        extra = len(token) - len(word)
        if exact and _script(word[0]) == "latn":
            return extra == 0 or token[len(word):] in ("s", "es")
        return extra <= _max_suffix(word, exact)

    def evidence(self, text: str, language: str | None = None) -> Evidence:
        """Find the lexicon terms in ``text`` (already normalized) for ``language``."""
        primary = primary_subtag(language) or ""
        languages = [primary] if primary in self.languages else self.languages
        counts: dict[int, tuple[_Term, int]] = {}
        tokens = text.split()
        for lang in languages:
            han = self._han.get(lang, {})
            for i, token in enumerate(tokens):
                if han and _is_han(token):
                    self._match_han(token, han, counts)
                    continue
                for term in self._first_word_terms(lang, token):
                    if len(term.words) == 1 or self._rest_at(term, tokens, i):
                        seen = counts.get(id(term))
                        counts[id(term)] = (term, (seen[1] if seen else 0) + 1)
        topics: dict[str, float] = defaultdict(float)
        subtopics: dict[str, float] = defaultdict(float)
        for term, count in counts.values():
            boost = 1.0 + math.log(count)  # repetition counts, but less and less
            for topic, weight in term.topics.items():
                topics[topic] += weight * boost / len(term.topics)
            for topic, weight in term.subtopics.items():
                subtopics[topic] += weight * boost / len(term.subtopics)
        return Evidence(dict(topics), dict(subtopics), sum(c for _, c in counts.values()))

    def _first_word_terms(self, language: str, token: str) -> tuple[_Term, ...]:
        """Terms whose first word matches ``token`` (memoized: news vocabulary repeats)."""
        key = (language, token)
        found = self._token_cache.get(key)
        if found is None:
            table = self._words.get(language, {})
            hits: dict[int, _Term] = {}
            for candidate in self._candidates(token):
                for end in range(2, len(candidate) + 1):
                    for term in table.get(candidate[:end], ()):
                        if self._word_matches(term.words[0], candidate, term.exact):
                            hits[id(term)] = term
            found = tuple(hits.values())
            if len(self._token_cache) >= _TOKEN_CACHE_SIZE:
                self._token_cache.clear()
            self._token_cache[key] = found
        return found

    def _rest_at(self, term: _Term, tokens: list[str], i: int) -> bool:
        if i + len(term.words) > len(tokens):
            return False
        return all(
            self._word_matches(word, tokens[i + k], term.exact)
            for k, word in enumerate(term.words[1:], start=1)
        )

    @staticmethod
    def _match_han(token: str, han: dict[str, _Term], counts: dict[int, tuple[_Term, int]]) -> None:
        # Chinese has no spaces: look up every substring up to the longest term.
        for start in range(len(token)):
            for end in range(start + 1, min(len(token), start + _MAX_HAN_TERM) + 1):
                term = han.get(token[start:end])
                if term is not None:
                    seen = counts.get(id(term))
                    counts[id(term)] = (term, (seen[1] if seen else 0) + 1)


def _label_parts(label: str) -> list[str]:
    label = unicodedata.normalize("NFKC", label)
    label = re.sub(r"\(.*?\)", " ", label)
    return [part for part in _LABEL_JOINERS.split(label) if part and part.strip()]


def _level2_of(qcode: str) -> str | None:
    chain = taxonomy.ancestors(qcode)
    return chain[-2] if len(chain) >= 2 else None


def _definition_terms(lexicon: Lexicon) -> None:
    """Words of IPTC definitions that are distinctive of one top-level topic, per language."""
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for topic in taxonomy.topics().values():
        top = taxonomy.top_level_of(topic.qcode)
        for language, texts in topic.definitions.items():
            for text in texts:
                normalized = normalize(text)
                words = set(_WORD.findall(normalized))
                if language == "zh":
                    # Chinese definitions: distinctive two-character words.
                    words = {normalized[i:i + 2] for i in range(len(normalized) - 1)}
                    words = {w for w in words if all(_script(ch) == "han" for ch in w)}
                for word in words:
                    counts[language][word][top] += 1
    for language, words in counts.items():
        for word, per_topic in words.items():
            if word in _STOP or (len(word) < 4 and language != "zh") or word.isdigit():
                continue
            total = sum(per_topic.values())
            top, best = max(per_topic.items(), key=lambda kv: kv[1])
            if best >= 2 and best / total >= 0.8:
                lexicon.add(language, word, top, _DEFINITION_WEIGHT)


def build_lexicon(keywords_path: Path = KEYWORDS_PATH) -> Lexicon:
    """Build the lexicon from the shipped IPTC extract and our keyword file."""
    lexicon = Lexicon()
    for topic in taxonomy.topics().values():
        top = taxonomy.top_level_of(topic.qcode)
        level2 = _level2_of(topic.qcode)
        for language, labels in topic.labels.items():
            for label in labels:
                for part in _label_parts(label):
                    lexicon.add(language, part, top, _LABEL_WEIGHT, subtopic=level2)
    _definition_terms(lexicon)
    keywords = yaml.safe_load(keywords_path.read_text(encoding="utf-8"))
    for top, per_language in keywords.items():
        for language, terms in per_language.items():
            for term in terms:
                term = str(term)
                exact = term.startswith("=")
                lexicon.add(language, term.lstrip("="), top, _KEYWORD_WEIGHT, exact=exact)
    return lexicon


@cache
def default_lexicon() -> Lexicon:
    """The lexicon built from the package data, built once per process."""
    return build_lexicon()
