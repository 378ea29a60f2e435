"""Evaluate the categorizer on the held-out splits of the labeled corpora, beside a baseline.

``python -m wiredesk.evaluation.categorize`` trains the model on the train splits only (or uses
``--model PATH``), then on every test split prints per-topic precision/recall/F1, macro-F1 and
a confusion matrix for: a plain TF-IDF + LinearSVC baseline trained per data set on the same
split, the lexicon alone, the model alone and the blend that categorize() ships. It also
scores an English-trained baseline on Arabic, a model trained without one language on that
language, and throughput of categorize() in a plain loop. JSON goes to eval-results/.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wiredesk import corpus, taxonomy
from wiredesk.pipeline.stages.categorize import (
    Categorizer,
    article_text,
    categorize,
    load_categorizer,
)
from wiredesk.schemas import Article
from wiredesk.text.normalize import normalize
from wiredesk.topics.lexicon import default_lexicon
from wiredesk.training import categorizer as training

Scorer = Callable[[corpus.Example], dict[str, float]]


def _short(qcode: str) -> str:
    return taxonomy.topics()[qcode].label("en").split(",")[0][:14]


def baseline(train: Sequence[corpus.Example]) -> Callable[[corpus.Example], str]:
    """Plain TF-IDF + LinearSVC on one data set (character n-grams for unsegmented Chinese)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    chinese = all(e.language == "zh" for e in train)
    vectorizer = (
        TfidfVectorizer(analyzer="char", ngram_range=(1, 2)) if chinese else TfidfVectorizer()
    )
    pipeline = make_pipeline(vectorizer, LinearSVC())
    pipeline.fit([e.text for e in train], [e.qcodes[0] for e in train])
    return lambda example: str(pipeline.predict([example.text])[0])


def report(gold: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    """Per-topic P/R/F1, macro-F1, accuracy and confusion matrix (rows gold, columns predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    p, r, f, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    return {
        "macro_f1": round(float(f.mean()), 4),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "per_topic": {
            q: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(support[i])}
            for i, q in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


BOOTSTRAP_SAMPLES = 1000


def paired_bootstrap(
    gold: list[str], ours: list[str], theirs: list[str], labels: list[str]
) -> dict[str, float]:
    """Macro-F1 of ``ours`` minus ``theirs``, with a 95% interval from resampling the test rows.

    A gap of one or two articles on a few hundred is noise; the interval says which gaps are.
    """
    import numpy as np
    from sklearn.metrics import f1_score

    def f1(rows: Any, predicted: list[str]) -> float:
        return float(f1_score([gold[k] for k in rows], [predicted[k] for k in rows],
                              labels=labels, average="macro", zero_division=0))

    rng = np.random.default_rng(corpus.SPLIT_SEED)
    everything = range(len(gold))
    samples = sorted(
        f1(rows, ours) - f1(rows, theirs)
        for rows in (rng.integers(0, len(gold), len(gold)) for _ in range(BOOTSTRAP_SAMPLES))
    )
    return {"difference": round(f1(everything, ours) - f1(everything, theirs), 4),
            "low": round(samples[int(0.025 * BOOTSTRAP_SAMPLES)], 4),
            "high": round(samples[int(0.975 * BOOTSTRAP_SAMPLES) - 1], 4)}


def _argmax(scores: dict[str, float], labels: list[str]) -> str:
    best = max(labels, key=lambda q: (scores.get(q, 0.0), q))
    return best if scores.get(best, 0.0) > 0 else "none"


def _print_report(name: str, rep: dict[str, Any], detail: bool) -> None:
    print(f"  {name:<22} macro-F1 {rep['macro_f1']:.3f}  accuracy {rep['accuracy']:.3f}")
    if not detail:
        return
    print(f"    {'topic':<16}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}   confusion (gold rows)")
    labels = rep["labels"]
    for i, q in enumerate(labels):
        m = rep["per_topic"][q]
        row = " ".join(f"{c:>4}" for c in rep["confusion"][i])
        print(f"    {_short(q):<16}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
              f"{m['support']:>6}   {row}")


CONFIDENCE_THRESHOLD = 0.35  # the default routing rule: top score below this -> review
RELIABILITY_BINS = (0.0, 0.35, 0.6, 0.8)


def confidence(outputs: Sequence[Article], test: Sequence[corpus.Example]) -> dict[str, float]:
    """How the routing threshold splits categorize()'s top-1: right ones above it, wrong ones.

    The threshold should mean the same with the lexicon alone as with the trained model: most
    right answers above it, few wrong ones.
    """
    right = wrong = right_above = wrong_above = 0
    bins: dict[str, list[float]] = {}  # score bin -> [count, right, sum of scores]
    for article, example in zip(outputs, test, strict=True):
        top = article.categories[0] if article.categories else None
        above = top is not None and top.score >= CONFIDENCE_THRESHOLD
        ok = top is not None and top.qcode == example.qcodes[0]
        if ok:
            right, right_above = right + 1, right_above + above
        else:
            wrong, wrong_above = wrong + 1, wrong_above + above
        score = top.score if top is not None else 0.0
        edge = max(e for e in RELIABILITY_BINS if e <= score)
        cell = bins.setdefault(f"{edge:.2f}", [0, 0, 0.0])
        cell[0], cell[1], cell[2] = cell[0] + 1, cell[1] + ok, cell[2] + score
    return {
        # Calibration of the top-1 score: per bin, how often it was right vs its mean score.
        "reliability": {
            edge: {"n": int(n), "right": round(r / n, 3), "mean_score": round(total / n, 3)}
            for edge, (n, r, total) in sorted(bins.items())
        },
        "top1_accuracy": round(right / max(1, len(test)), 4),
        "right_above": round(right_above / max(1, right), 4),
        "wrong_above": round(wrong_above / max(1, wrong), 4),
        "precision_above": round(right_above / max(1, right_above + wrong_above), 4),
    }


def _article(example: corpus.Example) -> Article:
    return Article(id=example.id[:64], feed_id=0, guid=None, url=None, title="",
                   content_hash="eval", body_text=example.text, language=example.language)


def evaluate(
    model: Categorizer, datasets: Sequence[str], holdout: str | None, detail: bool
) -> dict[str, Any]:
    """Run every system on every data set's test split; return the results."""
    lexicon_only = Categorizer(lexicon=model.lexicon)
    results: dict[str, Any] = {}
    for dataset in datasets:
        train, test = corpus.load(dataset, "train"), corpus.load(dataset, "test")
        labels = sorted({e.qcodes[0] for e in train + test})
        gold = [e.qcodes[0] for e in test]
        base = baseline(train)
        systems: dict[str, Callable[[corpus.Example], str]] = {
            "baseline tfidf+svc": base,
            "lexicon": lambda e, labels=labels: _argmax(
                lexicon_only.lexicon_scores(normalize(e.text), e.language), labels),
            "model": lambda e, labels=labels: _argmax(
                model.model_scores(e.text, e.language), labels),
            "combined (shipped)": lambda e, labels=labels: _argmax(
                model.scores(e.text, e.language), labels),
        }
        print(f"\n{dataset}: train {len(train)}, test {len(test)}, topics {len(labels)}")
        entry: dict[str, Any] = {"train": len(train), "test": len(test)}
        predictions: dict[str, list[str]] = {}
        for name, system in systems.items():
            if name == "model" and model.model is None:
                continue
            predictions[name] = [system(e) for e in test]
            rep = report(gold, predictions[name], labels)
            entry[name] = rep
            _print_report(name, rep, detail and name in ("baseline tfidf+svc",
                                                         "combined (shipped)"))
        entry["shipped minus baseline"] = margin = paired_bootstrap(
            gold, predictions["combined (shipped)"], predictions["baseline tfidf+svc"], labels)
        print(f"  shipped - baseline macro-F1 {margin['difference']:+.3f}, 95% interval "
              f"[{margin['low']:+.3f}, {margin['high']:+.3f}] (paired bootstrap)")
        # What the product outputs: its top category over all 17 topics, and the loop speed.
        started = time.perf_counter()
        outputs = [categorize(_article(e), model) for e in test]
        seconds = time.perf_counter() - started
        top1 = sum(
            1 for a, e in zip(outputs, test, strict=True)
            if a.categories and a.categories[0].qcode == e.qcodes[0]
        )
        entry["top1_over_17_accuracy"] = round(top1 / len(test), 4)
        entry["articles_per_second"] = round(len(test) / seconds, 1)
        print(f"  categorize(): top-1 over all 17 topics {top1 / len(test):.3f}, "
              f"{len(test) / seconds:.0f} articles/s "
              f"(mean {sum(len(article_text(a)) for a in outputs) / len(test):.0f} chars)")
        entry["confidence"] = {"shipped": confidence(outputs, test), "lexicon only": confidence(
            [categorize(_article(e), lexicon_only) for e in test], test)}
        for name, c in entry["confidence"].items():
            print(f"  top-1 score >= {CONFIDENCE_THRESHOLD} ({name}): right {c['right_above']:.2f}"
                  f", wrong {c['wrong_above']:.2f}, precision {c['precision_above']:.2f}; "
                  "right/mean score per bin " + "  ".join(
                      f"{edge}+: {b['right']:.2f}/{b['mean_score']:.2f} (n {b['n']})"
                      for edge, b in c["reliability"].items()))
        results[dataset] = entry
    results["transfer en->ar"] = {"baseline tfidf+svc": _transfer()}
    if holdout:
        results[f"holdout {holdout}"] = _holdout(holdout)
    return results


def _transfer() -> dict[str, Any]:
    """An English-trained baseline applied to Arabic, on the topics both sets share."""
    train = corpus.load("bbc-news-en", "train")
    shared = {e.qcodes[0] for e in train}
    test = [e for e in corpus.load("ant-corpus-ar", "test") if e.qcodes[0] in shared]
    labels = sorted(shared & {e.qcodes[0] for e in test})
    base = baseline(train)
    rep = report([e.qcodes[0] for e in test], [base(e) for e in test], labels)
    print("\ntransfer: baseline trained on bbc-news-en, tested on ant-corpus-ar (shared topics)")
    _print_report("baseline en->ar", rep, False)
    return rep


def _holdout(language: str) -> dict[str, Any]:
    """Train without ``language`` at all, then score SIB-200 in that language."""
    artifact = training.train(
        training.corpus_examples(holdout_language=language), tune_weights=False
    )
    held = training.as_categorizer(artifact)
    dataset = f"sib200-{language}"
    test = corpus.load(dataset, "test")
    labels = sorted({e.qcodes[0] for e in test})
    gold = [e.qcodes[0] for e in test]
    print(f"\nheld-out language {language}: model trained with no {language} text, {dataset}")
    out = {}
    for name, scorer in {
        "transferred model (en)": lambda e: held.model_scores(e.text, "en"),
        "shipped (lexicon)": lambda e: held.scores(e.text, e.language),
    }.items():
        rep = report(gold, [_argmax(scorer(e), labels) for e in test], labels)
        _print_report(name, rep, False)
        out[name] = rep
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: evaluate, print tables, write JSON to eval-results/."""
    parser = argparse.ArgumentParser(description="Evaluate the Wiredesk categorizer.")
    parser.add_argument("--model", type=Path, default=None,
                        help="use this trained artifact instead of training on the train splits")
    parser.add_argument("--lexicon-only", action="store_true", help="evaluate no model")
    parser.add_argument("--datasets", nargs="*", default=list(corpus.DATASETS))
    parser.add_argument("--holdout", default="ru",
                        help="SIB-200 language to hold out entirely ('' to skip)")
    parser.add_argument("--brief", action="store_true", help="macro-F1 only, no tables")
    parser.add_argument("--out", type=Path, default=Path("eval-results") / "categorize.json")
    args = parser.parse_args(argv)
    if not corpus.available():
        raise SystemExit(f"labeled corpora not found under {corpus.labeled_dir()}")
    if args.lexicon_only:
        model = Categorizer(lexicon=default_lexicon())
    elif args.model:
        model = load_categorizer(args.model)
    else:
        started = time.monotonic()
        examples, sources = training.corpus_examples_and_sources()
        model = training.as_categorizer(training.train(examples, sources=sources))
        print(f"trained on the train splits in {time.monotonic() - started:.0f} s; "
              f"blend weights per language {model.model_weights}")
    results = evaluate(model, args.datasets, args.holdout or None, not args.brief)
    summary = {
        name: {k: v["macro_f1"] for k, v in entry.items() if isinstance(v, dict) and "macro_f1" in v}
        for name, entry in results.items() if isinstance(entry, dict)
    }
    print("\nmacro-F1 summary")
    for name, row in summary.items():
        if name.startswith("transfer"):
            continue
        print(f"  {name:<26} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "categorizer": model.version,
        "model_metadata": model.metadata,
        "split_seed": corpus.SPLIT_SEED,
        "test_fraction": corpus.TEST_FRACTION,
        "results": results,
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
