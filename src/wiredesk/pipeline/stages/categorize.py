"""Categorize stage: IPTC Media Topics with scores, in any language, as a pure function.

A multilingual lexicon (IPTC labels and definitions in every locale, plus our keywords) scores
every article; where a trained linear model has seen the article's language, its probabilities
are blended in. Without a trained artifact the lexicon alone answers.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wiredesk import config, metrics, taxonomy
from wiredesk.schemas import Article, Category
from wiredesk.text.languages import primary_subtag
from wiredesk.text.normalize import normalize
from wiredesk.topics.lexicon import LEXICON_VERSION, Evidence, Lexicon, default_lexicon
from wiredesk.topics.model import TopicModel

log = logging.getLogger(__name__)

# The artifact format; the file name carries it so an old worker never loads a new format.
# 2: blends the uncalibrated lexicon and carries a per-language calibration; a version-1 file
# would load without them, so it is refused (lexicon alone, with a warning) until retrained.
# 3: the per-source SVMs' share in the margins is a number per language (it was on/off, a mean).
MODEL_FORMAT_VERSION = 3
MODEL_FILENAME = f"categorizer-v{MODEL_FORMAT_VERSION}.joblib"

MAX_TEXT_CHARS = 6000  # the opening of a story carries its topic
MIN_SCORE = 0.2  # a top-level topic below this is not reported (the best one always is)
MAX_TOPICS = 3
MIN_SUBTOPIC_EVIDENCE = 2.0  # lexicon weight needed to report a level-2 topic
MIN_SUBTOPIC_SHARE = 0.4  # ... and its share of its top-level topic's evidence
# Lexicon score = sigmoid(a * topic's share of the evidence + b * log(1 + total evidence) + c),
# fitted on the labeled corpora's train splits by wiredesk.training.lexicon_calibration (refit
# when the lexicon changes): a lexicon score then estimates how often the topic is right, as a
# model score does, so the routing rules' confidence threshold means the same with or without
# a trained model.
LEXICON_CALIBRATION = (5.125, 0.378, -3.785)  # lexicon v2
# In the blend the lexicon enters as its plain evidence share, damped when the evidence is thin
# (certainty 1 - exp(-total / saturation)): blended with the model, this form scored better on
# the inner validation splits than the calibrated one, whose floor lifts every topic with any
# evidence. The blend is then calibrated as a whole (``Categorizer.calibration``).
LEXICON_SATURATION = 3.0


@dataclass
class Categorizer:
    """Everything categorize() needs: the lexicon and, when trained, the per-language model."""

    lexicon: Lexicon
    model: TopicModel | None = None
    model_weight: float = 0.7  # the model's share in the blend ...
    model_weights: dict[str, float] = field(default_factory=dict)  # ... or per language
    # language -> training source a text resembles -> model share (where sources differ)
    source_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    # language -> (a, b, c): blended score -> probability the topic is right (``calibrate``),
    # fitted on the inner validation split, so a score means the same with or without a model.
    calibration: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """What answers: the lexicon version, and the model's when there is one."""
        base = f"lexicon-{LEXICON_VERSION}"
        if self.model is None:
            return base
        return f"{base}+model-{self.metadata.get('model_version', MODEL_FORMAT_VERSION)}"

    @property
    def languages(self) -> dict[str, int]:
        """Training examples per language of the model (empty without one)."""
        return dict(self.model.languages) if self.model is not None else {}

    def speaks(self, language: str | None) -> bool:
        """Whether the model has a classifier for ``language`` (else the lexicon answers alone)."""
        return self.model is not None and self.model.speaks(primary_subtag(language) or "")

    def lexicon_scores(self, normalized: str, language: str | None) -> dict[str, float]:
        """Top-level scores in [0, 1] from the lexicon alone."""
        evidence = self.lexicon.evidence(normalized, language)
        return _lexicon_probabilities(evidence.topics)

    def model_scores(self, text: str, language: str | None) -> dict[str, float]:
        """Top-level scores in [0, 1] from the language's model (empty without one)."""
        if self.model is None:
            return {}
        return self.model.scores(text[:MAX_TEXT_CHARS], primary_subtag(language) or "")

    def analyse(self, text: str, language: str | None) -> tuple[dict[str, float], Evidence]:
        """Blended top-level scores for a raw text, and the lexicon evidence behind them."""
        text = text[:MAX_TEXT_CHARS]
        evidence = self.lexicon.evidence(normalize(text), language)
        primary = primary_subtag(language) or ""
        if self.model is None or not self.model.speaks(primary):
            return _lexicon_probabilities(evidence.topics), evidence
        learned, source = self.model.scores_and_source(text, primary)
        w = self.source_weights.get(primary, {}).get(
            source or "", self.model_weights.get(primary, self.model_weight))
        blended = blend(learned, _lexicon_shares(evidence.topics), w)
        platt = self.calibration.get(primary)
        if platt is not None:
            blended = calibrate(blended, platt)
        return blended, evidence

    def scores(self, text: str, language: str | None) -> dict[str, float]:
        """Top-level topic scores in [0, 1] for a raw text in ``language``."""
        return self.analyse(text, language)[0]


def blend(learned: dict[str, float], lexical: dict[str, float], w: float) -> dict[str, float]:
    """``w`` x model + (1 - ``w``) x lexicon share, per topic either one scores."""
    return {
        qcode: w * learned.get(qcode, 0.0) + (1 - w) * lexical.get(qcode, 0.0)
        for qcode in set(lexical) | set(learned)
    }


def calibration_features(scores: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Per topic: its blended score, and its lead over the best other topic (negative if behind).

    The lead matters: a top topic at 0.5 far ahead of the rest is right more often than one at
    0.5 beside a close second, and a score alone cannot tell them apart.
    """
    ranked = sorted(scores.values(), reverse=True) + [0.0, 0.0]
    return {
        qcode: (s, s - (ranked[1] if s >= ranked[0] else ranked[0]))
        for qcode, s in scores.items()
    }


def calibrate(
    scores: dict[str, float], platt: tuple[float, float, float]
) -> dict[str, float]:
    """Blended scores as probabilities: sigmoid(a x score + b x lead + c), a + b > 0, b >= 0.

    With those signs the ranking is kept: the top topic stays on top.
    """
    a, b, c = platt
    return {
        qcode: 1.0 / (1.0 + math.exp(-(a * s + b * lead + c)))
        for qcode, (s, lead) in calibration_features(scores).items()
    }


def _lexicon_shares(raw: dict[str, float]) -> dict[str, float]:
    """The lexicon's share of the evidence per topic, damped when there is little of it."""
    total = sum(raw.values())
    if total <= 0:
        return {}
    certainty = 1.0 - math.exp(-total / LEXICON_SATURATION)
    return {qcode: certainty * weight / total for qcode, weight in raw.items() if weight > 0}


def _lexicon_probabilities(raw: dict[str, float]) -> dict[str, float]:
    """Calibrated scores from raw lexicon evidence (monotone in evidence: same ranking)."""
    total = sum(raw.values())
    if total <= 0:
        return {}
    a, b, c = LEXICON_CALIBRATION
    strength = math.log1p(total)
    return {
        qcode: 1.0 / (1.0 + math.exp(-(a * weight / total + b * strength + c)))
        for qcode, weight in raw.items() if weight > 0
    }


def article_text(article: Article) -> str:
    """The text categorize() reads: title, summary and body."""
    parts = [article.title, article.summary, article.body_text]
    return "\n".join(p for p in parts if p)[:MAX_TEXT_CHARS]


def categorize(article: Article, model: Categorizer) -> Article:
    """Return ``article`` with ``categories`` set: IPTC top-level topics (and strong level-2)."""
    scores, evidence = model.analyse(article_text(article), article.language)
    ranked = sorted(
        ((q, s) for q, s in scores.items() if q in taxonomy.TOP_LEVEL and s > 0),
        key=lambda qs: (-qs[1], qs[0]),
    )
    chosen = [qs for i, qs in enumerate(ranked[:MAX_TOPICS]) if i == 0 or qs[1] >= MIN_SCORE]
    topics = taxonomy.topics()
    categories = [
        Category(qcode=q, label=topics[q].label(article.language), score=_clip(s))
        for q, s in chosen
    ]
    categories += _subtopics(evidence, article.language, dict(chosen))
    return article.replace(categories=categories)


def _subtopics(
    evidence: Evidence, language: str | None, chosen: dict[str, float]
) -> list[Category]:
    """Level-2 topics whose IPTC labels the text names often enough, under a chosen topic."""
    topics = taxonomy.topics()
    out = []
    for qcode, weight in sorted(evidence.subtopics.items(), key=lambda kv: -kv[1]):
        top = taxonomy.top_level_of(qcode)
        top_weight = evidence.topics.get(top, 0.0)
        if top not in chosen or weight < MIN_SUBTOPIC_EVIDENCE or top_weight <= 0:
            continue
        share = min(1.0, weight / top_weight)
        if share >= MIN_SUBTOPIC_SHARE:
            out.append(Category(
                qcode=qcode, label=topics[qcode].label(language),
                score=_clip(chosen[top] * share),
            ))
    return out[:MAX_TOPICS]


def _clip(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)


def default_model_path(settings: config.Config | None = None) -> Path:
    """Where the trained artifact is looked for: the setting, or the data dir's models/."""
    settings = settings or config.load()
    if settings.categorizer_model:
        return Path(settings.categorizer_model)
    return settings.data_dir / "models" / MODEL_FILENAME


_cache: dict[str, tuple[float, Categorizer]] = {}  # path -> (artifact mtime, categorizer)
_cache_lock = threading.Lock()


def load_categorizer(path: str | Path | None = None) -> Categorizer:
    """Load the categorizer once per process: the trained artifact if present, else the lexicon.

    Cheap to call per article: it reloads only when the artifact file changed (a retrain).
    """
    model_path = Path(path) if path is not None else default_model_path()
    mtime = model_path.stat().st_mtime if model_path.is_file() else 0.0
    key = str(model_path.resolve())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None or cached[0] != mtime:
            cached = _cache[key] = (mtime, _load(model_path))
            metrics.CATEGORIZER_LANGUAGES.set(len(cached[1].languages))
        return cached[1]


def _load(model_path: Path) -> Categorizer:
    lexicon = default_lexicon()
    if not model_path.is_file():
        log.warning("no categorizer model at %s: using the lexicon alone", model_path)
        return Categorizer(lexicon=lexicon)
    import joblib  # scikit-learn's own persistence; the artifact is ours, written by training

    artifact = joblib.load(model_path)
    if artifact.get("format") != MODEL_FORMAT_VERSION:
        log.warning("categorizer model %s has format %s, expected %s: using the lexicon alone",
                    model_path, artifact.get("format"), MODEL_FORMAT_VERSION)
        return Categorizer(lexicon=lexicon)
    return from_artifact(artifact)


def from_artifact(artifact: dict[str, Any]) -> Categorizer:
    """A Categorizer from an artifact dict (as written by ``wiredesk.training.categorizer``)."""
    return Categorizer(
        lexicon=default_lexicon(), model=artifact["model"],
        model_weight=float(artifact["model_weight"]),
        model_weights=dict(artifact.get("model_weights", {})),
        source_weights={k: dict(v) for k, v in artifact.get("source_weights", {}).items()},
        calibration={k: (float(a), float(b), float(c))
                     for k, (a, b, c) in artifact.get("calibration", {}).items()},
        metadata=dict(artifact["metadata"]),
    )
