"""Dedupe benchmark: stage throughput (numpy vs datasketch MinHash), index cost and memory.

Run: ``python -m wiredesk.bench.dedupe [--sizes 10000,100000,1000000] [--redis-url URL]``.
Uses its own Redis database (default 5), which it empties before and after. Prints a table and
writes bench-results/dedupe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

from wiredesk import keys
from wiredesk.evaluation.corpus import corpus_dir, labeled, read_jsonl
from wiredesk.pipeline.dedupe_index import DedupeIndex
from wiredesk.pipeline.stages import dedupe
from wiredesk.schemas import Article
from wiredesk.text.normalize import tokens

QUERIES = 1000


def _corpus_articles(limit: int) -> list[Article]:
    out: list[Article] = []
    sources = ["bbc-news-en/bbc_news_2225.jsonl", "ant-corpus-ar/multisource_v2.1_sample.jsonl"]
    for src in sources:
        path = labeled(src)
        if path is None:
            continue
        for i, row in enumerate(read_jsonl(path)):
            if i >= limit // len(sources):
                break
            out.append(Article(id=f"a1-{i:032x}", feed_id=0, guid=None, url=None,
                               title=row["title"], content_hash="-", body_text=row["text"]))
    return out


def bench_stage(articles: list[Article]) -> dict[str, Any]:
    """Articles per second: the whole stage, and MinHash alone (ours in numpy vs datasketch)."""
    from datasketch import LeanMinHash, MinHash  # a benchmark-only comparison

    def rate(fn: Any, items: list[Any]) -> int:
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        return round(len(items) / (time.perf_counter() - t0))

    words = [tokens(dedupe.matching_body(a)) for a in articles]
    k = dedupe.SHINGLE_SIZE

    def ours(w: list[str]) -> None:
        mins = dedupe.minhash(dedupe._shingles(w))
        dedupe.band_keys(mins)
        dedupe.compact_signature(mins)

    def datasketch(w: list[str]) -> None:
        grams = {" ".join(w[i:i + k]).encode() for i in range(max(1, len(w) - k + 1))}
        m = MinHash(num_perm=dedupe.NUM_PERM)
        m.update_batch(list(grams))
        LeanMinHash(m)

    return {
        "articles": len(articles),
        "mean_tokens": round(statistics.mean(len(w) for w in words)),
        "stage_fingerprint_per_s": rate(dedupe.fingerprint, articles),
        "normalize_tokens_per_s": rate(lambda a: tokens(dedupe.matching_body(a)), articles),
        "minhash_numpy_per_s": rate(ours, words),
        "minhash_datasketch_per_s": rate(datasketch, words),
        "anchors_per_s": rate(dedupe.anchors, articles),
    }


def _synthetic(n: int, rng: np.random.Generator) -> list[dedupe.Fingerprint]:
    bands = rng.integers(0, 2**63, size=(n, dedupe.BANDS), dtype=np.uint64) << np.uint64(1)
    sigs = rng.integers(0, 256, size=(n, dedupe.NUM_PERM), dtype=np.uint8)
    return [dedupe.Fingerprint(tuple(int(b) for b in bands[i]), sigs[i].tobytes(), 100)
            for i in range(n)]


def _memory_usage(client: redis.Redis) -> tuple[int, int]:
    """Bytes of every key of this database by MEMORY USAGE (exact: SAMPLES 0), and key count."""
    total = n = 0
    batch: list[bytes] = []

    def flush() -> int:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        return sum(v or 0 for v in pipe.execute())

    for key in client.scan_iter(count=5000):
        batch.append(key)
        n += 1
        if len(batch) >= 5000:
            total += flush()
            batch.clear()
    if batch:
        total += flush()
    return total, n


def bench_index(client: redis.Redis, size: int, rng: np.random.Generator) -> dict[str, Any]:
    """Fill the window with ``size`` synthetic articles, then time live insert+query calls."""
    client.flushdb()
    index = DedupeIndex(client)
    now = time.time()
    base = client.info("memory")["used_memory"]
    t0 = time.perf_counter()
    chunk = 50_000
    all_times = now - rng.random(size) * (index.window_seconds - 3600)
    slots = (all_times // keys.DEDUPE_SLOT_SECONDS).astype(int)
    index.size_slots({int(s): int(n) for s, n in zip(*np.unique(slots, return_counts=True),
                                                       strict=True)})
    for start in range(0, size, chunk):
        fps = _synthetic(min(chunk, size - start), rng)
        times = all_times[start:start + len(fps)]
        items = [(f"a1-{secrets.token_hex(16)}", "", fp, float(t))
                 for fp, t in zip(fps, times, strict=True)]
        items = [(aid, "s" + aid[1:], fp, t) for aid, _, fp, t in items]
        index.insert_many(items)
    fill_s = time.perf_counter() - t0
    info_delta = client.info("memory")["used_memory"] - base  # server-wide: noisy when shared
    used, n_keys = _memory_usage(client)
    # Live path: find_story of fresh articles (a quarter of them copies of indexed ones).
    fps = _synthetic(QUERIES, rng)
    latencies = []
    for i, fp in enumerate(fps):
        art = Article(id=f"a1-{secrets.token_hex(16)}", feed_id=0, guid=None, url=None,
                      title="", content_hash="-")
        t1 = time.perf_counter()
        index.find_story(art, fp=fp, at=now)
        latencies.append(time.perf_counter() - t1)
        del i
    latencies.sort()
    return {
        "window_articles": size,
        "fill_seconds": round(fill_s, 1),
        "fill_per_s": round(size / fill_s),
        "memory_bytes_per_article": round(used / size, 1),
        "info_used_memory_delta_per_article": round(info_delta / size, 1),
        "keys": n_keys,
        "insert_query_us_mean": round(statistics.mean(latencies) * 1e6, 1),
        "insert_query_us_p50": round(latencies[len(latencies) // 2] * 1e6, 1),
        "insert_query_us_p99": round(latencies[int(len(latencies) * 0.99)] * 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, write bench-results/dedupe.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--stage-articles", type=int, default=2000)
    parser.add_argument("--out", default="bench-results/dedupe.json")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                          "cpus": os.cpu_count()}}
    if corpus_dir() is not None:
        result["stage"] = bench_stage(_corpus_articles(args.stage_articles))
        s = result["stage"]
        print(f"stage: {s['articles']} corpus articles, mean {s['mean_tokens']} tokens")
        for name in ("stage_fingerprint", "normalize_tokens", "minhash_numpy",
                     "minhash_datasketch", "anchors"):
            print(f"  {name:<20} {s[name + '_per_s']:>8} articles/s")
    else:
        print(f"stage: skipped, no corpus at {corpus_dir()}")

    client = redis.Redis.from_url(args.redis_url)
    rng = np.random.default_rng(7)
    result["redis"] = {"url_db": args.redis_url.rsplit("/", 1)[-1],
                       "version": client.info("server")["redis_version"]}
    result["index"] = []
    print(f"\n{'window':>9} {'fill/s':>8} {'bytes/art':>10} {'keys':>9} "
          f"{'us mean':>8} {'us p50':>8} {'us p99':>8}")
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            row = bench_index(client, size, rng)
            result["index"].append(row)
            print(f"{size:>9} {row['fill_per_s']:>8} {row['memory_bytes_per_article']:>10} "
                  f"{row['keys']:>9} {row['insert_query_us_mean']:>8} "
                  f"{row['insert_query_us_p50']:>8} {row['insert_query_us_p99']:>8}")
    finally:
        client.flushdb()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
