"""Train the categorizer's linear model and write the versioned artifact.

``python -m wiredesk.training.categorizer --out PATH`` trains on the *train* splits of the
labeled corpora (never their test splits), on IPTC's labels and definitions as short seed
examples for all 17 topics, and on any extra labeled examples (editors' corrections).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wiredesk import corpus, taxonomy
from wiredesk.pipeline.stages.categorize import (
    MAX_TEXT_CHARS,
    MODEL_FORMAT_VERSION,
    Categorizer,
    default_model_path,
)
from wiredesk.text.normalize import normalize
from wiredesk.topics.lexicon import LEXICON_VERSION, default_lexicon

log = logging.getLogger(__name__)

MODEL_WEIGHT = 0.7  # share of the model in the blend where it speaks the language

# (text, language, qcodes): what an editor's correction becomes.
LabeledText = tuple[str, str, Sequence[str]]


def seed_examples() -> list[LabeledText]:
    """One short example per IPTC concept and language: its label and definition."""
    out: list[LabeledText] = []
    for topic in taxonomy.topics().values():
        top = taxonomy.top_level_of(topic.qcode)
        for language, labels in topic.labels.items():
            definition = " ".join(topic.definitions.get(language, []))
            out.append((f"{' '.join(labels)}. {definition}", language, [top]))
    return out


def corpus_examples(
    datasets: Iterable[str] = corpus.DATASETS, holdout_language: str | None = None
) -> list[LabeledText]:
    """The train splits of the labeled corpora, minus a held-out language if asked."""
    out: list[LabeledText] = []
    for dataset in datasets:
        for example in corpus.load(dataset, "train"):
            if example.language != holdout_language:
                out.append((example.text, example.language, list(example.qcodes)))
    return out


def build_pipeline() -> Any:
    """Word and character n-grams over normalized text, one linear classifier per topic."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(
            analyzer="word", token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
            min_df=2, max_features=200_000, sublinear_tf=True, dtype=np.float32,
        )),
        ("chars", TfidfVectorizer(
            analyzer="char_wb", lowercase=False, ngram_range=(2, 4), min_df=2,
            max_features=200_000, sublinear_tf=True, dtype=np.float32,
        )),
    ])
    # modified_huber: a linear SVM's margin with per-topic probabilities, fitted in seconds.
    classifier = OneVsRestClassifier(SGDClassifier(
        loss="modified_huber", alpha=2e-5, max_iter=30, tol=1e-4, random_state=0,
    ))
    return Pipeline([("features", features), ("classifier", classifier)])


def train(
    examples: Iterable[LabeledText],
    extra: Iterable[LabeledText] = (),
    *,
    seeds: bool = True,
    model_weight: float = MODEL_WEIGHT,
) -> dict[str, Any]:
    """Fit the model on ``examples`` + ``extra`` (+ IPTC seeds) and return the artifact dict."""
    from sklearn import __version__ as sklearn_version
    from sklearn.preprocessing import MultiLabelBinarizer

    labeled = list(examples) + list(extra)
    rows = labeled + (seed_examples() if seeds else [])
    texts = [normalize(text[:MAX_TEXT_CHARS]) for text, _, _ in rows]
    targets = [sorted({taxonomy.top_level_of(q) for q in qcodes}) for _, _, qcodes in rows]
    binarizer = MultiLabelBinarizer(classes=list(taxonomy.TOP_LEVEL))
    y = binarizer.fit_transform(targets)
    started = time.monotonic()
    pipeline = build_pipeline().fit(texts, y)
    seconds = time.monotonic() - started
    languages = Counter(language.split("-")[0].lower() for _, language, _ in labeled)
    return {
        "format": MODEL_FORMAT_VERSION,
        "model": pipeline,
        "labels": list(binarizer.classes_),
        "languages": dict(languages),
        "model_weight": model_weight,
        "metadata": {
            "model_version": MODEL_FORMAT_VERSION,
            "lexicon_version": LEXICON_VERSION,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sklearn": sklearn_version,
            "python": platform.python_version(),
            "examples": len(labeled),
            "seed_examples": len(rows) - len(labeled),
            "split_seed": corpus.SPLIT_SEED,
            "fit_seconds": round(seconds, 1),
        },
    }


def as_categorizer(artifact: dict[str, Any]) -> Categorizer:
    """A Categorizer from an in-memory artifact (what load_categorizer builds from a file)."""
    return Categorizer(
        lexicon=default_lexicon(), model=artifact["model"], labels=tuple(artifact["labels"]),
        languages=dict(artifact["languages"]), model_weight=float(artifact["model_weight"]),
        metadata=dict(artifact["metadata"]),
    )


def save(artifact: dict[str, Any], out: Path) -> None:
    """Write the artifact atomically, so a worker never loads half a file."""
    import joblib

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    joblib.dump(artifact, partial, compress=3)
    partial.replace(out)


def read_extra(path: Path) -> list[LabeledText]:
    """Extra examples from JSON Lines: {"text": ..., "language": ..., "qcodes": [...]}."""
    out: list[LabeledText] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                out.append((row["text"], row["language"], list(row["qcodes"])))
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: train on the corpora's train splits and write the artifact."""
    parser = argparse.ArgumentParser(description="Train the Wiredesk categorizer.")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"artifact path (default: {default_model_path()})")
    parser.add_argument("--holdout-language", default=None,
                        help="leave every training text in this language out")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="JSON Lines of extra labeled examples (repeatable)")
    parser.add_argument("--no-corpus", action="store_true",
                        help="train on seeds and --extra only (no shared corpus needed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or default_model_path()
    examples = [] if args.no_corpus else corpus_examples(holdout_language=args.holdout_language)
    extra = [row for path in args.extra for row in read_extra(path)]
    artifact = train(examples, extra)
    artifact["metadata"]["holdout_language"] = args.holdout_language
    save(artifact, out)
    meta = artifact["metadata"]
    print(f"trained on {meta['examples']} examples (+{meta['seed_examples']} IPTC seeds) "
          f"in {meta['fit_seconds']} s; languages {artifact['languages']} -> {out}")


if __name__ == "__main__":
    main()
