"""Dedupe stage, pure part: MinHash/LSH fingerprints (tier 2) and same-story anchors (tier 3).

Nothing here touches Redis; ``wiredesk.pipeline.dedupe_index`` stores what this computes. Tier 1
(exact id, canonical link, content hash) is the database's job and is not repeated here.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources

import numpy as np

from wiredesk.pipeline.stages.dateline import shingle_text
from wiredesk.schemas import Article
from wiredesk.text.languages import primary_subtag
from wiredesk.text.normalize import fold_arabic, normalize, tokens

# Bumped whenever shingling, hashing or banding changes: stored fingerprints are then stale and
# the index must be rebuilt (the index key layout carries this version).
FINGERPRINT_VERSION = 1

SHINGLE_SIZE = 3  # word 3-grams: chosen on the near-duplicate eval (see evaluation/dedupe.py)
NUM_PERM = 40  # permutations kept in the stored signature (40 bytes: fits a listpack entry)
SIGNATURE_BITS = 8  # b-bit MinHash: only the low byte of each minimum is stored
BANDS = 16
ROWS = 2  # the first BANDS * ROWS permutations are banded: candidate curve 1-(1-s^2)^16
# Estimated Jaccard a candidate must reach: the middle of the best-F1 plateau on the tune half
# of the near-duplicate eval (heavily trimmed copies sit near 0.2, same-outlet boilerplate
# negatives below 0.15). Raise it with WIREDESK_DEDUPE_NEAR_THRESHOLD if merges look wrong.
NEAR_THRESHOLD = 0.16
MIN_TOKENS = 8  # bodies shorter than this are left to tier 1 and tier 3


def _constants(name: str, n: int, odd: bool = True) -> np.ndarray:
    # Derived from SHA-256, not a numpy RNG, so the stream can never change under an upgrade.
    out = []
    for i in range(n):
        v = int.from_bytes(hashlib.sha256(f"wiredesk-dedupe:{name}:{i}".encode()).digest()[:8])
        out.append(v | 1 if odd else v)
    return np.array(out, dtype=np.uint64)


# Multiply-shift hashing (Dietzfelbinger): h(x) = (a*x + b) mod 2^64 >> 32, a odd.
_PERM_A = _constants("perm-a", NUM_PERM)
_PERM_B = _constants("perm-b", NUM_PERM, odd=False)
_SHINGLE_MIX = _constants("shingle", 8)
_BAND_MIX = _constants("band", ROWS)
_BAND_SALT = _constants("band-salt", BANDS, odd=False)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_B_MASK = (1 << SIGNATURE_BITS) - 1
_B_COLLIDE = 1.0 / (1 << SIGNATURE_BITS)


@dataclass(frozen=True)
class Fingerprint:
    """What tier 2 needs of an article: its LSH band keys and compact signature."""

    bands: tuple[int, ...]  # one 64-bit key per band, band index mixed in
    signature: bytes  # NUM_PERM bytes, b-bit MinHash
    tokens: int  # number of tokens shingled (0: too short to index)


@dataclass(frozen=True)
class Anchors:
    """Language-independent evidence that two articles report the same event."""

    entities: frozenset[str]  # entity ids (ISO 3166 codes, Wikidata QIDs)
    actors: frozenset[str]  # people and organisations (QIDs): strong, cross-language
    regions: frozenset[str]  # countries and places: weak
    numbers: frozenset[str]  # specific numbers as canonical values (number_values)
    place: str | None  # dateline place id or name
    date: str | None  # dateline ISO date
    agency: str | None
    published: float | None  # POSIX seconds
    language: str | None = None  # primary BCP 47 subtag
    terms: dict[str, float] = field(default_factory=dict, compare=False)  # term_vector()
    stems: dict[str, float] = field(default_factory=dict, compare=False)  # stem_vector()
    keys: frozenset[str] = frozenset()  # candidate_keys(): a pair is compared only if it shares one


@dataclass(frozen=True)
class StoryMatch:
    """The outcome of dedupe for one article."""

    story_id: str
    tier: str | None  # None: founded its own story; else one of schemas.DUPLICATE_TIERS
    score: float | None
    matched_article: str | None = None


# The dedupe text is the dateline stage's: body without its dateline.
matching_body = shingle_text


def _token_hashes(words: Sequence[str]) -> np.ndarray:
    # crc32 is stable across processes (unlike hash()) and fast from C.
    return np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), np.uint64, len(words))


def shingle_hashes(text: str, size: int = SHINGLE_SIZE) -> np.ndarray:
    """64-bit hashes of the distinct word ``size``-grams of the normalized text."""
    return _shingles(tokens(text), size)


def _shingles(words: Sequence[str], size: int = SHINGLE_SIZE) -> np.ndarray:
    if not words:
        return np.zeros(0, np.uint64)
    th = _token_hashes(words)
    size = min(size, len(words))
    n = len(words) - size + 1
    acc = np.zeros(n, np.uint64)
    for j in range(size):
        acc += th[j : j + n] * _SHINGLE_MIX[j]  # wraps mod 2^64 on purpose
    return np.unique(acc)


def minhash(shingles: np.ndarray) -> np.ndarray:
    """NUM_PERM 32-bit MinHash values of a shingle-hash set (all ones when empty)."""
    if shingles.size == 0:
        return np.full(NUM_PERM, 0xFFFFFFFF, np.uint64)
    with np.errstate(over="ignore"):
        hashed = (shingles[:, None] * _PERM_A[None, :] + _PERM_B[None, :]) >> _SHIFT32
    return hashed.min(axis=0)


def band_keys(mins: np.ndarray) -> tuple[int, ...]:
    """One 64-bit key per LSH band; two articles are candidates when any key is equal."""
    rows = mins[: BANDS * ROWS].reshape(BANDS, ROWS)
    with np.errstate(over="ignore"):
        keys = (rows * _BAND_MIX[None, :]).sum(axis=1, dtype=np.uint64) ^ _BAND_SALT
        keys = keys * np.uint64(0x9E3779B97F4A7C15)  # spread low bits for sharding
    return tuple(int(k) for k in keys)


def compact_signature(mins: np.ndarray) -> bytes:
    """The stored signature: the low SIGNATURE_BITS bits of each minimum (b-bit MinHash)."""
    return (mins & np.uint64(_B_MASK)).astype(np.uint8).tobytes()


def fingerprint_text(text: str) -> Fingerprint:
    """Fingerprint a matching body."""
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return Fingerprint(bands=(), signature=b"", tokens=0)
    mins = minhash(_shingles(words))
    return Fingerprint(bands=band_keys(mins), signature=compact_signature(mins), tokens=len(words))


def fingerprint(article: Article) -> Fingerprint:
    """Fingerprint an article for tier 2 (empty bands when the body is too short)."""
    return fingerprint_text(matching_body(article))


# --- a feed's boilerplate ----------------------------------------------------------------------
#
# Sentences a feed repeats in its articles ("Subscribe to read the full story.", a newsletter
# footer) say nothing about the story: two teasers sharing the footer scored 0.6 estimated
# Jaccard and two paywall stubs 1.0, so unrelated articles of one feed became one story (and
# tier 3, on the same words, agreed). Both tiers compare an article without them.

BOILERPLATE_ARTICLES = 10  # the feed's most recent other articles looked at
BOILERPLATE_MIN_ARTICLES = 2  # a sentence in this many of them is the feed's boilerplate
_SENTENCE_END = re.compile(r"\n+|(?<=[.!?\u061f])\s+|(?<=[\u3002\uff01\uff1f])")


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def _sentence_key(sentence: str) -> str:
    return " ".join(tokens(sentence))


def sentence_keys(body_text: str, summary: str = "") -> frozenset[str]:
    """The normalized sentences of an article's body and summary."""
    if len(body_text) + len(summary) > _CACHED_TEXT_MAX:
        return _sentence_keys(body_text, summary)
    return _cached_sentence_keys(body_text, summary)


def _sentence_keys(body_text: str, summary: str) -> frozenset[str]:
    text = f"{body_text}\n{summary}"
    return frozenset(key for sentence in _sentences(text) if (key := _sentence_key(sentence)))


# Each processed article reads its feed's ten most recent ones, nine of which the previous
# article of the feed read too: normalizing their sentences again cost ~3 ms per article,
# a tenth of processing one. Texts and their sentences stay in memory: only ordinary-length
# articles are kept (a body may hold a million characters): 2,048 texts of 20,000 at most.
_CACHED_TEXT_MAX = 20_000
_cached_sentence_keys = functools.lru_cache(maxsize=2048)(_sentence_keys)


def feed_boilerplate(recent: Iterable[frozenset[str]],
                     min_articles: int = BOILERPLATE_MIN_ARTICLES) -> frozenset[str]:
    """The sentences found in at least ``min_articles`` of a feed's recent articles (their
    ``sentence_keys``): one repost of an article is not its feed's boilerplate."""
    counts: dict[str, int] = {}
    for keys in recent:
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return frozenset(key for key, n in counts.items() if n >= min_articles)


def without_boilerplate(article: Article, boilerplate: frozenset[str]) -> Article:
    """The article as dedupe compares it: body and summary without the feed's boilerplate
    (the article itself when it has none, so its fingerprint is what it always was)."""
    if not boilerplate:
        return article

    def strip(text: str) -> str:
        sentences = _sentences(text)
        kept = [s for s in sentences if _sentence_key(s) not in boilerplate]
        return text if len(kept) == len(sentences) else "\n".join(kept)

    body, summary = strip(article.body_text), strip(article.summary)
    if body == article.body_text and summary == article.summary:
        return article
    return article.replace(body_text=body, summary=summary)


def estimate_jaccard(sig_a: bytes, sig_b: bytes) -> float:
    """Jaccard estimated from two b-bit signatures, corrected for chance byte collisions."""
    if not sig_a or len(sig_a) != len(sig_b):
        return 0.0
    a = np.frombuffer(sig_a, np.uint8)
    b = np.frombuffer(sig_b, np.uint8)
    equal = float(np.count_nonzero(a == b)) / len(a)
    return max(0.0, (equal - _B_COLLIDE) / (1.0 - _B_COLLIDE))


def is_near_duplicate(a: Fingerprint, b: Fingerprint, threshold: float = NEAR_THRESHOLD) -> bool:
    """Tier 2 decision for two fingerprints: an LSH band collides and the estimate passes."""
    if not a.bands or not b.bands:
        return False
    if not set(a.bands) & set(b.bands):
        return False
    return estimate_jaccard(a.signature, b.signature) >= threshold


# --- tier 3: same story from anchors ------------------------------------------------------------
#
# Evidence, strongest first. Shared *actors* (people and organisations by Wikidata QID) and shared
# *specific numbers* (values, written in any script or format) are the anchors that cross
# languages. Same-language term cosine is content evidence within a language. Countries and
# places (*regions*) are weak: every story from one capital shares them. The dateline (place,
# agency, day) is weaker still for wire copy: an agency files dozens of unrelated stories from one
# capital a day, so it may only add to a pair that already has content evidence (the gate).

STORY_WINDOW_SECONDS = 72 * 3600  # the default of WIREDESK_DEDUPE_WINDOW_SECONDS
MIN_TERM_CHARS = 4  # shorter words are mostly function words in every language we carry
ACTOR_TYPES = frozenset({"person", "organisation", "event"})  # agencies are bylines, not actors
REGION_TYPES = frozenset({"country", "place"})
ANCHOR_CAP = 3  # a fourth shared anchor adds nothing the third did not
# The gate: a pair is scored only with content evidence, i.e. this much same-language term
# cosine, or at least this many shared actors + specific numbers (whatever the languages).
MIN_TERMS = 0.2
MIN_SHARED_ANCHORS = 2

STEM_CHARS = 5  # a word's first characters stand for it: Turkish, Arabic and Romance inflection
# Logistic model over story_features(), fitted on the candidate, gated pairs of the tune halves of
# every same-story set (`python -m wiredesk.evaluation.dedupe --fit`). Signs are constrained:
# evidence only adds, a different dateline place only subtracts. Only numbers, the coefficients,
# are derived from the corpus.
STORY_FEATURES = ("terms", "stems", "actors", "numbers", "number_overlap", "regions",
                  "same_dateline", "other_place", "cross_language")
STORY_WEIGHTS = (3.05, 9.188, 0.0, 0.0, 6.425, 0.0, 0.0, -4.012, 5.071)
STORY_BIAS = -4.515
# The precision >= 0.95 operating point on the union of the tune halves (best F1 among the
# thresholds that reach it). Precision on each SemEval set alone stays below 0.95 at any threshold
# (docs/dedupe.md).
STORY_THRESHOLD = 0.85
# With the semantic signal (WIREDESK_DEDUPE_SEMANTIC, stages/semantic.py): the same features and
# the cosine of the two articles' multilingual-e5 embeddings, fitted the same way (the cosine's
# weight may only add). The bias is moved so that the precision >= 0.95 point of the union of
# the tune halves falls at STORY_THRESHOLD: one threshold, whichever model scored a pair.
SEMANTIC_STORY_FEATURES = (*STORY_FEATURES, "semantic")
SEMANTIC_STORY_WEIGHTS = (4.963, 0.0, 0.0, 0.0, 5.919, 0.146, 0.0, -3.441, 3.718, 42.65)
SEMANTIC_STORY_BIAS = -39.918

# Digits with thousands groups ("1,240", "1 240", "450.000") or a decimal part ("2,3", "71.40"),
# not hyphenated to a word: "COVID-19", "F-16" and "MH-17" are names, not figures.
_NUMBER = re.compile(
    r"(?<!\d)(?<!\d[.,])(?<![^\W\d_][-\u2010\u2011])"
    r"(\d{1,3}(?:[ \u00a0\u202f,.\u066c]\d{3})+(?!\d)|\d+)(?:[.,\u066b](\d+))?"
    r"\s*([^\W\d_]*)"
)
_GROUP_SEPARATORS = re.compile(r"[ \u00a0\u202f,.\u066c]")
# Scale words after a number, by prefix (after case and Arabic folding): ar, en, es, fr, ru, zh.
_SCALES = (
    (("billion", "milliard", "миллиард", "млрд", "مليار"), 10**9),
    (("million", "millón", "millones", "миллион", "млн", "مليون", "ملايين", "ملاين"), 10**6),
    (("thousand", "mille", "тысяч", "тыс", "الف", "الاف"), 10**3),
)
_CJK_SCALES = {"亿": 10**8, "万": 10**4, "千": 10**3}


def _scale(word: str) -> int:
    if not word:
        return 1
    if word[0] in _CJK_SCALES:
        return _CJK_SCALES[word[0]]
    for prefixes, factor in _SCALES:
        if word.startswith(prefixes):
            return factor
    return 1


def number_values(text: str) -> frozenset[str]:
    """Specific numbers of a text as canonical values ("1,240" = "1 240" = "١٢٤٠" -> "1240").

    Scale words count ("$600 million" = "600 مليون" = "6亿" -> "600000000"); small counts (<= 10)
    and years (1900-2100: every article in the window shares the current one) are left out.
    """
    folded = fold_arabic(unicodedata.normalize("NFKC", text).casefold())
    found = set()
    for whole, decimals, word in _NUMBER.findall(folded):
        factor = _scale(word)
        value = Decimal(_GROUP_SEPARATORS.sub("", whole) + (f".{decimals}" if decimals else ""))
        if factor == 1 and value == value.to_integral_value() and (
                value <= 10 or 1900 <= value <= 2100):
            continue
        value *= factor
        found.add(f"{value.normalize():f}")
    return frozenset(found)


def number_anchors(text: str) -> frozenset[str]:
    """Distinct specific numbers of a text (see number_values)."""
    return number_values(text)


def _unit_log_tf(terms: Iterable[str]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for term in terms:
        counts[term] = counts.get(term, 0) + 1
    vec = {term: 1.0 + math.log(n) for term, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {term: v / norm for term, v in vec.items()}


def term_vector(words: Sequence[str]) -> dict[str, float]:
    """Unit-length log-tf vector of the content words (same-language evidence only)."""
    return _unit_log_tf(w for w in words if len(w) >= MIN_TERM_CHARS and not w.isdigit())


@cache
def stopwords(language: str | None) -> frozenset[str]:
    """Function words of a language, normalized (the lists YAKE ships; empty when it has none)."""
    if not language or not language.isalpha():
        return frozenset()
    path = resources.files("yake") / "core" / "StopwordsList" / f"stopwords_{language}.txt"
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, OSError):
        return frozenset()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # a few of YAKE's lists are Latin-1
        text = raw.decode("latin-1")
    return frozenset(w for line in text.split() for w in tokens(line))


def stems(words: Iterable[str], language: str | None) -> list[str]:
    """Content words cut to STEM_CHARS characters (function words and digits left out)."""
    stop = stopwords(language)
    return [w[:STEM_CHARS] for w in words if len(w) >= 3 and not w.isdigit() and w not in stop]


def stem_vector(words: Sequence[str], language: str | None) -> dict[str, float]:
    """Unit-length log-tf vector of the stems of the content words (same language only)."""
    return _unit_log_tf(stems(words, language))


def candidate_keys(entity_ids: Iterable[str], keywords: Iterable[str],
                   language: str | None) -> frozenset[str]:
    """What tier-3 candidates must share: an entity id, or a stem of a keyword (tag stage).

    ``language`` is the article's BCP 47 tag (its function words are no keys).
    The database query (``store.articles.story_candidates``) and ``story_score`` use this one
    function, so the evaluation measures the recall the pipeline's candidate search allows.
    """
    return frozenset(entity_ids) | _keyword_keys(tuple(keywords), primary_subtag(language))


@lru_cache(maxsize=16384)
def _keyword_keys(keywords: tuple[str, ...], language: str | None) -> frozenset[str]:
    # Cached: story_candidates recomputes the keys of the same recent rows for every article.
    words = (w for phrase in keywords for w in tokens(phrase) if len(w) >= 4)
    return frozenset(f"k:{s}" for s in stems(words, language))


def anchors(article: Article) -> Anchors:
    """The anchors of an article (entities come from the tag stage, dateline from its stage)."""
    d = article.dateline
    when = article.published_at or article.fetched_at
    body = matching_body(article)
    language = primary_subtag(article.language)
    words = tokens(f"{article.title}\n{body}")
    # A few words are no content evidence: a feed's title-only items repeat their title
    # ("Photos of the day") every day. Such an article joins on shared actors and numbers only.
    few = len(tokens(f"{article.title}\n{article.body_text or article.summary}")) < MIN_TOKENS
    entity_ids = [e.id for e in article.entities]
    return Anchors(
        entities=frozenset(entity_ids),
        actors=frozenset(e.id for e in article.entities if e.type in ACTOR_TYPES),
        regions=frozenset(e.id for e in article.entities if e.type in REGION_TYPES),
        numbers=number_values(f"{article.title}\n{body}"),
        place=(d.place_id or (normalize(d.place) if d.place else None)) if d else None,
        date=d.date if d else None,
        agency=normalize(d.agency) if d and d.agency else None,
        published=when.timestamp() if isinstance(when, datetime) else None,
        language=language,
        terms={} if few else term_vector(words),
        stems={} if few else stem_vector(words, language),
        keys=candidate_keys(entity_ids, article.keywords, language),
    )


CANDIDATE_ANCHORS_CACHED = 8192
_candidate_anchors: dict[tuple[str, str], Anchors] = {}


def candidate_anchors(article: Article) -> Anchors:
    """``anchors`` of a stored candidate, kept by id and content hash: the same recent articles
    are candidates of every incoming one, and their anchors cost about 0.7 ms each."""
    key = (article.id, article.content_hash)
    found = _candidate_anchors.get(key)
    if found is None:
        if len(_candidate_anchors) >= CANDIDATE_ANCHORS_CACHED:
            _candidate_anchors.clear()  # crude but bounded; the window's articles refill it
        found = _candidate_anchors[key] = anchors(article)
    return found


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _cross_language(a: Anchors, b: Anchors) -> bool:
    return a.language is not None and b.language is not None and a.language != b.language


def story_features(a: Anchors, b: Anchors) -> tuple[float, ...]:
    """The evidence two articles report one event, in STORY_FEATURES order."""
    cross = _cross_language(a, b)
    same_day = a.date is not None and a.date == b.date
    numbers = min(len(a.numbers & b.numbers), ANCHOR_CAP) / ANCHOR_CAP
    return (
        # Across languages shared words are mostly names, already counted as actors.
        0.0 if cross else _cosine(a.terms, b.terms),
        0.0 if cross else _cosine(a.stems, b.stems),
        min(len(a.actors & b.actors), ANCHOR_CAP) / ANCHOR_CAP,
        numbers,
        # Many of a text's figures shared, not one: one shared figure is often a coincidence.
        _jaccard(a.numbers, b.numbers) * numbers,
        _jaccard(a.regions, b.regions),
        1.0 if a.place and a.place == b.place and (same_day or a.agency == b.agency) else 0.0,
        1.0 if a.place and b.place and a.place != b.place else 0.0,
        1.0 if cross else 0.0,
    )


def has_content_evidence(features: Sequence[float]) -> bool:
    """The gate: same-language term overlap, or >= MIN_SHARED_ANCHORS shared actors/numbers."""
    terms = features[STORY_FEATURES.index("terms")]
    actors = features[STORY_FEATURES.index("actors")]
    numbers = features[STORY_FEATURES.index("numbers")]
    shared = round((actors + numbers) * ANCHOR_CAP)
    return terms >= MIN_TERMS or shared >= MIN_SHARED_ANCHORS


def is_candidate(a: Anchors, b: Anchors) -> bool:
    """Whether the pipeline compares the pair at all: they share a candidate key."""
    return bool(a.keys & b.keys)


def inside_window(a: Anchors, b: Anchors, window_seconds: float = STORY_WINDOW_SECONDS) -> bool:
    """Whether the pair is close enough in time to be compared (either undated is)."""
    return (a.published is None or b.published is None
            or abs(a.published - b.published) <= window_seconds)


def story_score(a: Anchors, b: Anchors, window_seconds: float = STORY_WINDOW_SECONDS,
                cosine: float | None = None) -> float:
    """Same-story probability in [0, 1]; 0 outside the window, for a pair that is no candidate,
    or without content evidence. ``cosine``: the pair's embedding cosine (the semantic model
    scores it); None: the anchors' model."""
    features = gated_features(a, b, window_seconds)
    return 0.0 if features is None else _score(features, cosine)


def gated_features(a: Anchors, b: Anchors,
                   window_seconds: float = STORY_WINDOW_SECONDS) -> tuple[float, ...] | None:
    """The pair's features if it passes the gate (window, candidate key, content evidence);
    None for a pair that scores 0 whatever else is known of it."""
    if not inside_window(a, b, window_seconds) or not is_candidate(a, b):
        return None
    features = story_features(a, b)
    return features if has_content_evidence(features) else None


def _score(features: Sequence[float], cosine: float | None) -> float:
    """A gated pair's probability: by the semantic model given a cosine, else the anchors'."""
    if cosine is None:
        z = STORY_BIAS + sum(w * x for w, x in zip(STORY_WEIGHTS, features, strict=True))
    else:
        z = SEMANTIC_STORY_BIAS + sum(w * x for w, x in zip(
            SEMANTIC_STORY_WEIGHTS, (*features, cosine), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def explain_story(a: Anchors, b: Anchors, cosine: float | None = None) -> dict[str, object]:
    """Why two articles are (not) one story: shared anchors, features, gate and score."""
    features = story_features(a, b)
    return {
        "shared_actors": sorted(a.actors & b.actors),
        "shared_numbers": sorted(a.numbers & b.numbers),
        "shared_regions": sorted(a.regions & b.regions),
        "features": dict(zip(STORY_FEATURES, (round(f, 4) for f in features), strict=True)),
        "semantic": None if cosine is None else round(cosine, 4),
        "candidate": is_candidate(a, b),
        "content_evidence": has_content_evidence(features),
        "score": round(story_score(a, b, cosine=cosine), 4),
    }


def is_same_story(a: Anchors, b: Anchors, threshold: float = STORY_THRESHOLD) -> bool:
    """Tier 3 decision for two articles' anchors."""
    return story_score(a, b) >= threshold


def match_story(
    article: Article, candidates: Iterable[Article], threshold: float = STORY_THRESHOLD,
    window_seconds: float = STORY_WINDOW_SECONDS,
    embeddings: Mapping[str, np.ndarray] | None = None,
) -> StoryMatch | None:
    """Tier 3: the story of the best-scoring candidate at or above threshold, else None.

    Candidates are recent articles with a story (e.g. sharing an entity id, from the database).
    ``embeddings`` (article id -> unit vector, the semantic signal): a pair whose two articles
    have one is scored by the semantic model, any other by the anchors' model; a candidate's
    is looked up only if its pair passes the gate, so it may be computed on demand.
    Deterministic: highest score, then earliest candidate, then smallest story id.
    """
    own = anchors(article)
    own_vector = embeddings.get(article.id) if embeddings else None
    best: tuple[float, float, str, str] | None = None
    for cand in candidates:
        if cand.id == article.id or not cand.story_id:
            continue
        features = gated_features(own, candidate_anchors(cand), window_seconds)
        # Asked only past the gate: a candidate's embedding may have to be computed (~40 ms).
        theirs = (embeddings.get(cand.id) if features is not None and own_vector is not None
                  and embeddings else None)
        cosine = None if theirs is None or own_vector is None else float(own_vector @ theirs)
        score = 0.0 if features is None else _score(features, cosine)
        if score < threshold:
            continue
        when = cand.published_at or cand.fetched_at
        key = (-score, when.timestamp() if when else math.inf, cand.story_id, cand.id)
        if best is None or key < best:
            best = key
    if best is None:
        return None
    return StoryMatch(best[2], "story", round(-best[0], 4), best[3])


def apply_match(article: Article, match: StoryMatch) -> Article:
    """The article with its story id, duplicate tier and score set from a match."""
    return article.replace(
        story_id=match.story_id, duplicate_tier=match.tier, duplicate_score=match.score
    )


# --- stories -------------------------------------------------------------------------------------


def completeness(article: Article) -> int:
    """How complete an article is, for the canonical choice: body length, then summary, title."""
    return len(article.body_text) * 4 + len(article.summary) * 2 + len(article.title)


def canonical(members: Iterable[Article]) -> Article:
    """The story's canonical article: earliest, then most complete, then smallest id."""
    far = math.inf

    def key(a: Article) -> tuple[float, int, str]:
        when = a.published_at or a.fetched_at
        return (when.timestamp() if when else far, -completeness(a), a.id)

    return min(members, key=key)
