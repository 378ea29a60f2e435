"""Dedupe stage, pure part: MinHash/LSH fingerprints (tier 2) and same-story anchors (tier 3).

Nothing here touches Redis; ``wiredesk.pipeline.dedupe_index`` stores what this computes. Tier 1
(exact id, canonical link, content hash) is the database's job and is not repeated here.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from wiredesk.schemas import Article
from wiredesk.text.normalize import normalize, tokens

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
    numbers: frozenset[str]  # numbers written in the text, normalised digits
    place: str | None  # dateline place id or name
    date: str | None  # dateline ISO date
    agency: str | None
    published: float | None  # POSIX seconds
    terms: dict[str, float] = field(default_factory=dict, compare=False)  # term_vector()


@dataclass(frozen=True)
class StoryMatch:
    """The outcome of dedupe for one article."""

    story_id: str
    tier: str | None  # None: founded its own story; else one of schemas.DUPLICATE_TIERS
    score: float | None
    matched_article: str | None = None


def matching_body(article: Article) -> str:
    """The body text dedupe compares: body (else summary, else title) without the dateline."""
    text = article.body_text or article.summary or article.title
    dateline = article.dateline.text.strip() if article.dateline and article.dateline.text else ""
    if dateline:
        stripped = text.lstrip()
        if stripped.startswith(dateline):
            text = stripped[len(dateline):]
    return text


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

_NUMBER = re.compile(r"\d+")
# Numbers that say little about which event it is.
_WEAK_NUMBERS = {str(n) for n in range(0, 11)}
STORY_WINDOW_SECONDS = 72 * 3600
MIN_TERM_CHARS = 4  # shorter words are mostly function words in every language we carry

# Logistic model over story_features(), fitted on the tune half of the same-story eval
# (`python -m wiredesk.evaluation.dedupe --fit`); the threshold is the tune-half operating point.
STORY_FEATURES = ("entities", "numbers", "terms", "same_place", "other_place", "same_date")
STORY_WEIGHTS = (0.0, 4.228, 12.124, 3.937, -3.097, 0.0)
STORY_BIAS = -4.565
# The precision >= 0.95 operating point on the tune half (0.41 is the best-F1 point).
STORY_THRESHOLD = 0.80


def number_anchors(text: str) -> frozenset[str]:
    """Distinct numbers of the normalized text, minus the tiny ones every article has."""
    return _numbers(normalize(text))


def _numbers(normalized: str) -> frozenset[str]:
    found = {m.lstrip("0") or "0" for m in _NUMBER.findall(normalized)}
    return frozenset(found - _WEAK_NUMBERS)


def term_vector(words: Sequence[str]) -> dict[str, float]:
    """Unit-length log-tf vector of the content words (same-language evidence only)."""
    counts: dict[str, int] = {}
    for w in words:
        if len(w) >= MIN_TERM_CHARS and not w.isdigit():
            counts[w] = counts.get(w, 0) + 1
    vec = {w: 1.0 + math.log(n) for w, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def anchors(article: Article) -> Anchors:
    """The anchors of an article (entities come from the tag stage, dateline from its stage)."""
    d = article.dateline
    when = article.published_at or article.fetched_at
    words = tokens(f"{article.title}\n{matching_body(article)}")
    return Anchors(
        entities=frozenset(e.id for e in article.entities),
        numbers=_numbers(" ".join(words)),
        place=(d.place_id or (normalize(d.place) if d.place else None)) if d else None,
        date=d.date if d else None,
        agency=normalize(d.agency) if d and d.agency else None,
        published=when.timestamp() if isinstance(when, datetime) else None,
        terms=term_vector(words),
    )


def _overlap(a: frozenset[str], b: frozenset[str], smooth: float = 1.0) -> float:
    # Shared anchors over the smaller side, smoothed so one shared anchor of one is not 1.0.
    if not a or not b:
        return 0.0
    return len(a & b) / (min(len(a), len(b)) + smooth)


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


def story_features(a: Anchors, b: Anchors) -> tuple[float, ...]:
    """The evidence two articles report one event, in STORY_FEATURES order."""
    return (
        _overlap(a.entities, b.entities),
        _overlap(a.numbers, b.numbers, smooth=2.0),
        _cosine(a.terms, b.terms),
        1.0 if a.place and a.place == b.place else 0.0,
        1.0 if a.place and b.place and a.place != b.place else 0.0,
        1.0 if a.date and a.date == b.date else 0.0,
    )


def story_score(a: Anchors, b: Anchors, window_seconds: float = STORY_WINDOW_SECONDS) -> float:
    """Same-story probability in [0, 1]; 0 outside the publication window."""
    if a.published is not None and b.published is not None:
        if abs(a.published - b.published) > window_seconds:
            return 0.0
    z = STORY_BIAS + sum(w * x for w, x in zip(STORY_WEIGHTS, story_features(a, b), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def is_same_story(a: Anchors, b: Anchors, threshold: float = STORY_THRESHOLD) -> bool:
    """Tier 3 decision for two articles' anchors."""
    return story_score(a, b) >= threshold


def match_story(
    article: Article, candidates: Iterable[Article], threshold: float = STORY_THRESHOLD
) -> StoryMatch | None:
    """Tier 3: the story of the best-scoring candidate at or above threshold, else None.

    Candidates are recent articles with a story (e.g. sharing an entity id, from the database).
    Deterministic: highest score, then earliest candidate, then smallest story id.
    """
    own = anchors(article)
    best: tuple[float, float, str, str] | None = None
    for cand in candidates:
        if cand.id == article.id or not cand.story_id:
            continue
        score = story_score(own, anchors(cand))
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
