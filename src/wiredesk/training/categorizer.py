"""Train the categorizer's linear model and write the versioned artifact.

``python -m wiredesk.training.categorizer --out PATH`` trains on the *train* splits of the
labeled corpora (never their test splits) and on any extra labeled examples (editors'
corrections), one linear model per language that has enough of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wiredesk import corpus, taxonomy
from wiredesk.pipeline.stages.categorize import (
    MAX_TEXT_CHARS,
    MODEL_FORMAT_VERSION,
    Categorizer,
    default_model_path,
    from_artifact,
)
from wiredesk.topics.lexicon import LEXICON_VERSION
from wiredesk.topics.model import TopicModel

log = logging.getLogger(__name__)

MODEL_WEIGHT = 0.7  # share of the model in the blend where it speaks the language
MIN_LANGUAGE_EXAMPLES = 100  # fewer labeled texts in a language: no model, the lexicon answers

# (text, language, qcodes): what an editor's correction becomes.
LabeledText = tuple[str, str, Sequence[str]]


def corpus_examples(
    datasets: Iterable[str] = corpus.DATASETS, holdout_language: str | None = None
) -> list[LabeledText]:
    """The train splits of the labeled corpora, minus a held-out language if asked."""
    return corpus_examples_and_sources(datasets, holdout_language)[0]


def corpus_examples_and_sources(
    datasets: Iterable[str] = corpus.DATASETS, holdout_language: str | None = None
) -> tuple[list[LabeledText], list[str]]:
    """``corpus_examples``, and the data set of each of its rows (one read of the corpora)."""
    rows = _corpus_rows(datasets, holdout_language)
    return [row for row, _ in rows], [source for _, source in rows]


def _corpus_rows(
    datasets: Iterable[str], holdout_language: str | None
) -> list[tuple[LabeledText, str]]:
    out: list[tuple[LabeledText, str]] = []
    for dataset in datasets:
        for example in corpus.load(dataset, "train"):
            if example.language != holdout_language:
                out.append(((example.text, example.language, list(example.qcodes)), dataset))
    return out


BLEND_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# Shares of the per-source SVMs in the margins tried where a language has several sources
# (0: the language-wide SVMs alone). A small source beside a big one (SIB-200 sentences beside
# THUCNews headlines) can need its own SVMs more than the mean gives them.
DOMAIN_SHARES = (0.0, 0.5, 0.75, 1.0)
VALIDATION_FOLDS = 5


@dataclass
class Validation:
    """One language's inner validation split: scores of a model fitted without those rows."""

    labels: list[str]  # the language's top-level topics, column order of the matrices
    gold: list[str]  # first topic of each validation row
    gold_sets: list[set[str]]  # all topics of each validation row
    sources: list[str]  # source of each validation row
    lexical: Any  # rows x labels: lexicon evidence shares (the blend's form)
    learned: dict[float, Any]  # per-source SVMs' share -> rows x labels model scores
    resembles: list[str]  # the source the model's source classifier sees in each row ("" none)

    def groups(self) -> list[list[int]]:
        """Validation row indexes per source."""
        return [[k for k, s in enumerate(self.sources) if s == source]
                for source in sorted(set(self.sources))]

    def blended(self, domain_share: float, w: float | dict[str, float]) -> Any:
        """The blend before calibration, rows x labels; ``w`` per resembled source or one."""
        import numpy as np

        share = (np.array([[w[s]] for s in self.resembles]) if isinstance(w, dict)
                 else np.full((len(self.gold), 1), w))
        return share * self.learned[domain_share] + (1 - share) * self.lexical

    def macro_f1(self, domain_share: float, w: float | dict[str, float],
                 rows: Sequence[int] | None = None) -> float:
        """Mean over sources of macro-F1 of the blend's top topic (on ``rows`` if given)."""
        import numpy as np
        from sklearn.metrics import f1_score

        predicted = self.blended(domain_share, w).argmax(axis=1)
        # On a subset (the rows the source classifier assigns to one source) the rows count as
        # one group: the few it misassigns would otherwise weigh as much as all the rest.
        groups = self.groups() if rows is None else [list(rows)]
        return float(np.mean([f1_score(
            [self.gold[k] for k in g], [self.labels[predicted[k]] for k in g],
            labels=sorted({self.gold[k] for k in g}), average="macro",
        ) for g in groups if g]))


def validations(
    texts: Sequence[str], languages: Sequence[str], topics: Sequence[Sequence[str]],
    min_examples: int, sources: Sequence[str] | None = None,
) -> dict[str, Validation]:
    """Per language with a model, out-of-fold scores of every *training* row.

    The rows are cut into VALIDATION_FOLDS folds (seeded, stratified by source); each fold is
    scored by a model fitted on the others, so the blend weight, the per-source share and the
    calibration are chosen on every training row without any test text. One held-out fifth
    was too few rows for a small source (150 SIB-200 sentences): its choices followed noise.
    """
    import numpy as np

    from wiredesk.pipeline.stages.categorize import _lexicon_shares
    from wiredesk.text.normalize import normalize
    from wiredesk.topics.lexicon import default_lexicon

    rng = np.random.default_rng(corpus.SPLIT_SEED)
    lexicon = default_lexicon()
    source_of = list(sources) if sources is not None else [""] * len(texts)
    out: dict[str, Validation] = {}
    for language in sorted(set(languages)):
        rows = [i for i, lang in enumerate(languages) if lang == language]
        fold_of: dict[int, int] = {}
        for source in sorted({source_of[i] for i in rows}):
            part = [i for i in rows if source_of[i] == source]
            fold_of.update({int(i): k % VALIDATION_FOLDS
                            for k, i in enumerate(rng.permutation(part).tolist())})
        if len(rows) * (VALIDATION_FOLDS - 1) // VALIDATION_FOLDS < min_examples:
            continue
        labels = sorted({t for i in rows for t in topics[i]})
        lexical = np.array([
            [lx.get(q, 0.0) for q in labels] for lx in (
                _lexicon_shares(lexicon.evidence(normalize(texts[i]), language).topics)
                for i in rows)
        ])
        learned: dict[float, Any] = {}
        resembles = [""] * len(rows)
        tried: list[set[float]] = []
        for fold in range(VALIDATION_FOLDS):
            fit_rows = [i for i in rows if fold_of[i] != fold]
            held = [k for k, i in enumerate(rows) if fold_of[i] == fold]
            model = TopicModel(min_examples=min_examples).fit(
                [texts[i] for i in fit_rows], [language] * len(fit_rows),
                [topics[i] for i in fit_rows],
                [source_of[i] for i in fit_rows] if sources is not None else None,
            )
            shares = DOMAIN_SHARES if language in model.domains else (0.0,)
            tried.append(set(shares))
            for domain_share in shares:
                model.domains[language] = domain_share
                matrix = learned.setdefault(domain_share, np.zeros((len(rows), len(labels))))
                for k in held:
                    scores, source = model.scores_and_source(texts[rows[k]], language)
                    matrix[k] = [scores.get(q, 0.0) for q in labels]
                    resembles[k] = source or ""
        # A share some fold could not try (a source too small there) is not a choice.
        common = set.intersection(*tried)
        learned = {share: m for share, m in learned.items() if share in common}
        out[language] = Validation(
            labels=labels, gold=[topics[i][0] for i in rows],
            gold_sets=[set(topics[i]) for i in rows],
            sources=[source_of[i] for i in rows], lexical=lexical, learned=learned,
            resembles=resembles,
        )
    return out


def fit_calibration(
    validation: Validation, domain_share: float, w: float | dict[str, float]
) -> tuple[float, float, float]:
    """Platt scaling of the blend over (score, lead over the best other topic): (a, b, c).

    One row per (validation text, topic); each source counts the same, as in the lexicon's
    calibration, so headlines do not outweigh articles. Falls back to the score alone (b = 0)
    if the fit would not keep the ranking.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from wiredesk.pipeline.stages.categorize import calibration_features

    scores = validation.blended(domain_share, w)
    x = np.array([
        [f for _, f in sorted(calibration_features(dict(enumerate(row))).items())]
        for row in scores.tolist()
    ]).reshape(-1, 2)
    y = np.array([[q in gold for q in validation.labels] for gold in validation.gold_sets])
    weights = np.zeros(scores.shape)
    for group in validation.groups():
        weights[group] = 1.0 / len(group)
    sample_weight = weights.reshape(-1) * scores.shape[0]
    fitted = LogisticRegression(C=100.0).fit(x, y.reshape(-1).astype(int),
                                             sample_weight=sample_weight)
    a, b = (float(v) for v in fitted.coef_[0])
    if b < 0 or a + b <= 0:
        fitted = LogisticRegression(C=100.0).fit(x[:, :1], y.reshape(-1).astype(int),
                                                 sample_weight=sample_weight)
        a, b = float(fitted.coef_[0][0]), 0.0
    return round(a, 4), round(b, 4), round(float(fitted.intercept_[0]), 4)


def choose_model_weights(
    texts: Sequence[str], languages: Sequence[str], topics: Sequence[Sequence[str]],
    min_examples: int, sources: Sequence[str] | None = None,
) -> tuple[
    dict[str, float], dict[str, float], dict[str, dict[str, float]],
    dict[str, tuple[float, float, float]],
]:
    """Per language: model share in the blend (also per resembled source), the per-source SVMs'
    share in the margins, and the calibration.

    Chosen by the mean over sources of macro-F1 on out-of-fold scores of the *training* rows
    (``validations``: seeded folds, stratified by source), so no test text is ever seen. Where the
    model tells sources apart (headlines vs sentences), each source the classifier sees gets
    its own share, chosen on the validation rows it assigns to that source.
    """
    chosen: dict[str, float] = {}
    domains: dict[str, float] = {}
    per_source: dict[str, dict[str, float]] = {}
    calibration: dict[str, tuple[float, float, float]] = {}
    for language, validation in validations(
        texts, languages, topics, min_examples, sources
    ).items():
        v = validation

        def best(domain_share: float, rows: Sequence[int] | None = None,
                 v: Validation = v) -> float:
            # Ties go to the weight nearest the default.
            return max(BLEND_WEIGHTS, key=lambda share: (v.macro_f1(domain_share, share, rows),
                                                     -abs(share - MODEL_WEIGHT)))

        seen = sorted(set(v.resembles) - {""})
        single = {domain_share: best(domain_share) for domain_share in v.learned}
        options: list[tuple[float, float | dict[str, float]]] = list(single.items())
        if len(seen) > 1:
            options += [(domain_share, {s: best(domain_share, [k for k, r in enumerate(
                v.resembles) if r == s]) for s in seen}) for domain_share in v.learned]
        # Ties go to the plainer model, then to one share for the language.
        domain_share, w = max(options, key=lambda o, v=v: (v.macro_f1(*o), -o[0],
                                                            not isinstance(o[1], dict)))
        domains[language] = domain_share
        chosen[language] = single[domain_share]
        if isinstance(w, dict):
            per_source[language] = w
        calibration[language] = fit_calibration(v, domain_share, w)
        log.info("%s: blend weight %s, per-source SVMs' share %s, calibration %s",
                 language, w, domain_share, calibration[language])
    return chosen, domains, per_source, calibration


def train(
    examples: Iterable[LabeledText],
    extra: Iterable[LabeledText] = (),
    *,
    model_weight: float = MODEL_WEIGHT,
    min_examples: int = MIN_LANGUAGE_EXAMPLES,
    tune_weights: bool = True,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Fit the per-language model on ``examples`` + ``extra``; return the artifact dict.

    ``extra`` is where editors' corrections come in: (text, language, qcodes), any level of
    qcode (it counts for its top-level topic). ``sources`` names where each of ``examples``
    comes from (a data set, a feed): per-source SVMs are fitted where a language has several.
    """
    from sklearn import __version__ as sklearn_version

    rows = list(examples) + list(extra)
    texts = [text[:MAX_TEXT_CHARS] for text, _, _ in rows]
    languages = [language.split("-")[0].lower() for _, language, _ in rows]
    topics = [sorted({taxonomy.top_level_of(q) for q in qcodes}) for _, _, qcodes in rows]
    started = time.monotonic()
    extra_rows = len(rows) - len(sources) if sources is not None else 0
    source_list = list(sources) + ["extra"] * extra_rows if sources is not None else None
    model = TopicModel(min_examples=min_examples).fit(texts, languages, topics, source_list)
    weights, domains, source_weights, calibration = (
        choose_model_weights(texts, languages, topics, min_examples, source_list)
        if tune_weights else ({}, {}, {}, {})
    )
    for language in model.domains:
        model.domains[language] = domains.get(language, 0.0)
    seconds = time.monotonic() - started
    return {
        "format": MODEL_FORMAT_VERSION,
        "model": model,
        "model_weight": model_weight,
        "model_weights": weights,
        "source_weights": source_weights,
        "calibration": calibration,
        "metadata": {
            "model_version": MODEL_FORMAT_VERSION,
            "lexicon_version": LEXICON_VERSION,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sklearn": sklearn_version,
            "python": platform.python_version(),
            "examples": len(rows),
            "languages": dict(Counter(languages)),
            "model_languages": sorted(lang for lang in set(languages) if model.speaks(lang)),
            "split_seed": corpus.SPLIT_SEED,
            "model_weights": weights,
            "source_weights": source_weights,
            "calibration": calibration,
            "per_source_shares": {lang: share for lang, share in sorted(model.domains.items())
                                  if share},
            "fit_seconds": round(seconds, 1),
        },
    }


def as_categorizer(artifact: dict[str, Any]) -> Categorizer:
    """A Categorizer from an in-memory artifact (what load_categorizer builds from a file)."""
    return from_artifact(artifact)


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


def stored_corrections() -> list[LabeledText]:
    """The editors' topic corrections in the configured database (none if it has no schema
    yet or cannot be reached: training still runs, and says so)."""
    from sqlalchemy.exc import SQLAlchemyError

    from wiredesk import config
    from wiredesk.store.corrections import labeled_examples
    from wiredesk.store.db import Database

    database = Database(config.load())
    try:
        with database.session() as session:
            rows = labeled_examples(session)
    except SQLAlchemyError as exc:
        log.warning("no editors' corrections read (%s): training without them",
                    type(exc).__name__)
        return []
    finally:
        database.dispose()
    log.info("%d editors' topic corrections from the database", len(rows))
    return rows


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Command line: train on the corpora's train splits and write the artifact."""
    parser = argparse.ArgumentParser(prog=prog, description="Train the Wiredesk categorizer.")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"artifact path (default: {default_model_path()})")
    parser.add_argument("--holdout-language", default=None,
                        help="leave every training text in this language out")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="JSON Lines of extra labeled examples (repeatable)")
    parser.add_argument("--no-corpus", action="store_true",
                        help="train on seeds and --extra only (no shared corpus needed)")
    parser.add_argument("--no-corrections", action="store_true",
                        help="leave out the editors' topic corrections stored in the database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or default_model_path()
    try:
        examples, sources = ([], []) if args.no_corpus else corpus_examples_and_sources(
            holdout_language=args.holdout_language)
    except FileNotFoundError as exc:  # no corpus there (a fresh install, a typo), or part of one
        parser.error(f"no labeled corpus at {corpus.corpus_dir()} ({exc.filename} is missing): "
                     "set WIREDESK_CORPUS_DIR to the corpus folder, or train without it "
                     "(--no-corpus: the seeds, --extra and the editors' corrections)")
    extra = [row for path in args.extra for row in read_extra(path)]
    corrections = [] if args.no_corrections else stored_corrections()
    artifact = train(examples, extra + corrections, sources=sources)
    artifact["metadata"]["corrections"] = len(corrections)
    artifact["metadata"]["holdout_language"] = args.holdout_language
    save(artifact, out)
    meta = artifact["metadata"]
    print(f"trained on {meta['examples']} examples ({len(corrections)} editors' corrections) "
          f"in {meta['fit_seconds']} s; "
          f"languages {meta['languages']}, models for {meta['model_languages']} -> {out}")


if __name__ == "__main__":
    main()
