"""The held-out goal on real data: the lexicon alone, in a language it was never trained on.

The lexicon uses no corpus text at all, so every SIB-200 test file is held out for it.
Skipped when the shared corpus is not next to the repository.
"""

from __future__ import annotations

import pytest

from wiredesk import corpus
from wiredesk.evaluation.categorize import report
from wiredesk.pipeline.stages.categorize import Categorizer
from wiredesk.text.normalize import normalize
from wiredesk.topics.lexicon import default_lexicon

needs_corpus = pytest.mark.skipif(
    not corpus.available(), reason=f"labeled corpora not found at {corpus.labeled_dir()}"
)


@needs_corpus
@pytest.mark.parametrize("language", sorted(corpus.SIB_LANGUAGES.values()))
def test_lexicon_alone_reaches_half_macro_f1_on_sib200(language: str) -> None:
    model = Categorizer(lexicon=default_lexicon())
    test = corpus.load(f"sib200-{language}", "test")
    labels = sorted({e.qcodes[0] for e in test})
    predicted = []
    for example in test:
        scores = model.lexicon_scores(normalize(example.text), language)
        predicted.append(max(labels, key=lambda q: (scores.get(q, 0.0), q)))
    result = report([e.qcodes[0] for e in test], predicted, labels)
    assert result["macro_f1"] >= 0.5, result["per_topic"]


@needs_corpus
def test_splits_are_disjoint_and_seeded() -> None:
    for dataset in ("bbc-news-en", "ant-corpus-ar", "thucnews-zh", "sib200-en"):
        train = {e.id for e in corpus.load(dataset, "train")}
        test = {e.id for e in corpus.load(dataset, "test")}
        assert train and test and not train & test
        assert test == {e.id for e in corpus.load(dataset, "test")}


def test_paired_bootstrap_interval_brackets_the_difference() -> None:
    from wiredesk.evaluation.categorize import paired_bootstrap

    gold = ["a", "b"] * 50
    same = paired_bootstrap(gold, gold, gold, ["a", "b"])
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0}
    mostly_wrong = ["a"] * 100
    better = paired_bootstrap(gold, gold, mostly_wrong, ["a", "b"])
    assert better["difference"] > 0.5
    assert 0 < better["low"] <= better["difference"] <= better["high"]
