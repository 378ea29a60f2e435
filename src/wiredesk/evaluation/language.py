"""Evaluate the language, tag and dateline stages on the shared labeled corpus.

`python -m wiredesk.evaluation.language` prints a table and writes
`eval-results/language.json`: language accuracy per labeled set (articles and headlines alone,
without and with the feed's language hint; how many guesses were wrong and how many left
undetermined), entity precision/recall on the annotated sample in
`tests/golden/stages/entity_sample.json`, and throughput per stage in a plain loop.

The short-text slice is the headline sets: ANT, BBC and THUCNews titles, and the SemEval-2022
titles in ar, es, fr and tr (the pairs' titles, each once).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from wiredesk import config
from wiredesk.evaluation.corpus import REPO_ROOT, labeled, read_jsonl, read_tsv
from wiredesk.pipeline.stages import gazetteer
from wiredesk.pipeline.stages.dateline import parse_dateline
from wiredesk.pipeline.stages.language import identify
from wiredesk.pipeline.stages.tag import find_entities, keywords

SIB = {
    "arb_Arab": "ar",
    "eng_Latn": "en",
    "rus_Cyrl": "ru",
    "zho_Hans": "zh",
    "fra_Latn": "fr",
    "deu_Latn": "de",
    "spa_Latn": "es",
}
ANT = ("ant-corpus-ar/jawharafm_v1.1_sample.jsonl", "ant-corpus-ar/multisource_v2.1_sample.jsonl")
BBC = "bbc-news-en/bbc_news_2225.jsonl"
THUC = "thucnews-headlines-zh/thucnews_headlines_test_sample.jsonl"
SEMEVAL = ("ar", "es", "fr", "tr")
SAMPLE = REPO_ROOT / "tests" / "golden" / "stages" / "entity_sample.json"


def language_sets() -> dict[str, tuple[str, str, list[str]]]:
    """name -> (kind, gold language, texts) for every labeled set present."""
    sets: dict[str, tuple[str, str, list[str]]] = {}
    for folder, lang in SIB.items():
        path = labeled(f"sib200/{folder}/test.tsv")
        if path:
            sets[f"sib200-test/{lang}"] = ("sentence", lang, [r["text"] for r in read_tsv(path)])
    ant = [r for name in ANT if (p := labeled(name)) for r in read_jsonl(p)]
    if ant:
        sets["ant-corpus/ar"] = ("article", "ar", [f"{r['title']}\n{r['text']}" for r in ant])
        sets["ant-corpus-titles/ar"] = ("headline", "ar", [r["title"] for r in ant])
    if path := labeled(BBC):
        bbc = list(read_jsonl(path))
        sets["bbc-news/en"] = ("article", "en", [f"{r['title']}\n{r['text']}" for r in bbc])
        sets["bbc-news-titles/en"] = ("headline", "en", [r["title"] for r in bbc])
    if path := labeled(THUC):
        sets["thucnews-titles/zh"] = ("headline", "zh", [r["text"] for r in read_jsonl(path)])
    for lang in SEMEVAL:
        if path := labeled(f"semeval2022-task8-mnas/{lang}.jsonl"):
            titles = {r[k].strip() for r in read_jsonl(path) for k in ("title1", "title2") if r.get(k)}
            sets[f"semeval-titles/{lang}"] = ("headline", lang, sorted(titles - {""}))
    return sets


def evaluate_language(languages: tuple[str, ...]) -> list[dict[str, Any]]:
    """Accuracy and speed per labeled set, without and with the feed's language as a hint."""
    rows = []
    identify("warm-up", languages)
    for name, (kind, gold, texts) in language_sets().items():
        start = time.perf_counter()
        guesses = [identify(text, languages).language for text in texts]
        seconds = time.perf_counter() - start
        hinted = [identify(text, languages, hint=gold).language for text in texts]
        wrong = Counter(g or "und" for g in guesses if g != gold)
        rows.append(
            {
                "set": name,
                "kind": kind,
                "n": len(texts),
                "accuracy": sum(g == gold for g in guesses) / len(texts),
                "wrong": sum(g is not None and g != gold for g in guesses) / len(texts),
                "undetermined": sum(g is None for g in guesses) / len(texts),
                "accuracy_with_hint": sum(g == gold for g in hinted) / len(texts),
                "texts_per_s": len(texts) / seconds,
                "confusions": dict(wrong.most_common(5)),
            }
        )
    return rows


def _sample_text(record: dict[str, Any]) -> str | None:
    path = labeled(record["file"])
    if path is None:
        return None
    rows: Iterable[dict[str, Any]] = read_tsv(path) if path.suffix == ".tsv" else read_jsonl(path)
    for row in rows:
        if str(row.get("id", row.get("index_id"))) == record["id"]:
            return "\n".join(str(row[f]) for f in record["fields"])
    return None


def evaluate_entities() -> dict[str, Any]:
    """Micro precision/recall of entity ids on the annotated sample."""
    sample = json.loads(SAMPLE.read_text("utf-8"))
    tp = fp = fn = 0
    misses: Counter[str] = Counter()
    extras: Counter[str] = Counter()
    used = 0
    for record in sample["records"]:
        text = _sample_text(record)
        if text is None:
            continue
        used += 1
        expected = set(record["expected"])
        window = text[: sample["window_chars"]]
        language = identify(window, config.load().news_languages).language  # as the pipeline
        found = {e.id for e in find_entities(window, language)}
        tp += len(expected & found)
        fp += len(found - expected)
        fn += len(expected - found)
        misses.update(expected - found)
        extras.update(found - expected)
    return {
        "records": used,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "missed": dict(misses.most_common(10)),
        "spurious": dict(extras.most_common(10)),
        "gazetteer_version": gazetteer.load().version,
    }


def _rate(func: Callable[[str], object], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        func(text)
    return len(texts) / (time.perf_counter() - start)


def evaluate_throughput(languages: tuple[str, ...], limit: int = 400) -> dict[str, float]:
    """Articles per second of each stage in a plain loop over corpus articles."""
    texts: list[str] = []
    if path := labeled(BBC):
        texts += [f"{r['title']}\n{r['text']}" for r in read_jsonl(path)][: limit // 2]
    for name in ANT[1:]:
        if path := labeled(name):
            texts += [f"{r['title']}\n{r['text']}" for r in read_jsonl(path)][: limit // 2]
    if not texts:
        return {}
    gazetteer.load()
    keywords("warm up the extractor", "en")
    keywords("تهيئة", "ar")
    return {
        "language": _rate(lambda t: identify(t, languages), texts),
        "tag_entities": _rate(find_entities, texts),
        "tag_keywords": _rate(lambda t: keywords(t, "ar" if "\u0627" in t[:50] else "en"), texts),
        "dateline": _rate(lambda t: parse_dateline(t, None), texts),
        "articles": float(len(texts)),
    }


def main(argv: list[str] | None = None) -> int:
    """Run every evaluation, print a table, write eval-results/language.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("eval-results") / "language.json")
    args = parser.parse_args(argv)
    if labeled("") is None:
        print("corpus not found: set WIREDESK_CORPUS_DIR", file=sys.stderr)
        return 2
    languages = config.load().news_languages
    lang_rows = evaluate_language(languages)
    entities = evaluate_entities()
    speed = evaluate_throughput(languages)

    print(f"{'set':24} {'kind':9} {'n':>6} {'acc':>8} {'wrong':>7} {'und':>7} {'acc+hint':>9} "
          f"{'texts/s':>9}  confusions")
    for r in lang_rows:
        print(
            f"{r['set']:24} {r['kind']:9} {r['n']:6d} {r['accuracy']:8.2%} {r['wrong']:7.2%} "
            f"{r['undetermined']:7.2%} {r['accuracy_with_hint']:9.2%} {r['texts_per_s']:9.0f}  "
            f"{r['confusions']}"
        )
    print(
        f"\nentities ({entities['records']} records, gazetteer v{entities['gazetteer_version']}):"
        f" precision {entities['precision']:.2%} recall {entities['recall']:.2%}"
        f" (tp {entities['tp']}, fp {entities['fp']}, fn {entities['fn']})"
    )
    print(f"  missed {entities['missed']}\n  spurious {entities['spurious']}")
    print("\nthroughput, articles/s (plain loop, one process):")
    for stage, rate in speed.items():
        if stage != "articles":
            print(f"  {stage:14} {rate:9.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "languages": list(languages),
                "language": lang_rows,
                "entities": entities,
                "throughput_articles_per_s": speed,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
