"""Fit the lexicon's score calibration: raw lexicon evidence -> probability the topic is right.

Without a trained model the lexicon answers alone, and the routing rules read its scores
(``max_confidence: 0.35`` sends low-confidence copy to review). So a lexicon score must mean
what a model score means: about how often that topic is right. This fits a logistic curve on
the *train* splits of the labeled corpora (never their test splits), one row per (text, topic
with evidence), over the topic's share of the evidence and the log of the total evidence. The
three coefficients are pasted into ``wiredesk.pipeline.stages.categorize`` (they are numbers,
not corpus text); rerun after changing the lexicon:

    python -m wiredesk.training.lexicon_calibration
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from wiredesk import corpus, taxonomy
from wiredesk.text.normalize import normalize
from wiredesk.topics.lexicon import LEXICON_VERSION, default_lexicon


def features(raw: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Per topic with evidence: (its share of the evidence, log(1 + total evidence))."""
    total = sum(raw.values())
    if total <= 0:
        return {}
    strength = math.log1p(total)
    return {qcode: (weight / total, strength) for qcode, weight in raw.items()}


def fit(datasets: Sequence[str] = corpus.DATASETS) -> tuple[float, float, float]:
    """(share coefficient, strength coefficient, intercept), fitted on the train splits."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    lexicon = default_lexicon()
    rows: list[tuple[float, float]] = []
    labels: list[int] = []
    weights: list[float] = []
    for dataset in datasets:
        examples = corpus.load(dataset, "train")
        start = len(rows)
        for example in examples:
            raw = lexicon.evidence(normalize(example.text), example.language).topics
            gold = {taxonomy.top_level_of(q) for q in example.qcodes}
            for qcode, row in features(raw).items():
                rows.append(row)
                labels.append(int(qcode in gold))
        # Each data set counts the same: THUCNews' 4,000 headlines would otherwise decide.
        weights += [1.0 / max(1, len(rows) - start)] * (len(rows) - start)
    x = np.array(rows)
    model = LogisticRegression(C=10.0).fit(x, labels, sample_weight=np.array(weights) * len(x))
    share, strength = (float(c) for c in model.coef_[0])
    return round(share, 3), round(strength, 3), round(float(model.intercept_[0]), 3)


def main(argv: list[str] | None = None) -> None:
    """Command line: fit and print the constants to paste into the categorize stage."""
    parser = argparse.ArgumentParser(description="Fit the lexicon score calibration.")
    parser.add_argument("--datasets", nargs="*", default=list(corpus.DATASETS))
    args = parser.parse_args(argv)
    share, strength, intercept = fit(args.datasets)
    print(f"# lexicon v{LEXICON_VERSION}, train splits of {', '.join(args.datasets)}")
    print(f"LEXICON_CALIBRATION = ({share}, {strength}, {intercept})")


if __name__ == "__main__":
    main()
