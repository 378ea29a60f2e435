"""Pipeline benchmark: ``python -m wiredesk.bench.pipeline [--copies 2] [--workers 2]``.

The same articles three ways, so the cost of each layer shows:
  1. stages   - the pure stage functions (language, tag+dateline, categorize) in a plain loop:
                the in-process limit;
  2. in-process - the whole ``process_article`` (stages + database + Redis locks + dedupe index +
                routing) called in a plain loop, one process;
  3. celery   - the same task through real Celery workers (``wiredesk serve pipeline``
                subprocesses) on real Redis, timed from the first enqueue until every article has
                left ``received``.
Articles are the entries of the corpus feeds (``../shared/corpus/feeds``, read in place), repeated
under ``--copies`` feed ids. Needs a database and Redis (``--database-url``/``--redis-url``, or
DATABASE_URL/REDIS_URL); the database's tables are dropped and recreated and the Redis database
is flushed. Prints a table and writes bench-results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text

from wiredesk import config as config_module
from wiredesk.bench.ingest import _proc_cpu, _system_cpu
from wiredesk.evaluation.corpus import corpus_dir

RESULTS = Path("bench-results")


def corpus_articles(copies: int) -> list[Any]:
    """Every entry of every corpus feed that parses, ``copies`` times under distinct feeds."""
    from wiredesk.ingester.parse import ParseError, parse_feed

    root = corpus_dir()
    if root is None:
        sys.exit("the corpus (../shared/corpus) is absent: nothing to benchmark")
    articles = []
    for copy in range(copies):
        for number, path in enumerate(sorted((root / "feeds").iterdir()), start=1):
            if path.suffix not in {".xml", ".rss", ".atom", ".json"}:
                continue
            try:
                parsed = parse_feed(path.read_bytes(), feed_id=copy * 1000 + number,
                                    url=f"http://127.0.0.1/{path.name}")
            except ParseError:
                continue
            articles += parsed.articles
    return articles


def reset(config: config_module.Config, feed_ids: set[int]) -> Any:
    from wiredesk.broker import Services
    from wiredesk.store.models import Feed

    services = Services(config)
    engine = services.db.engine
    with engine.begin() as conn:
        names = inspect(conn).get_table_names()
        if names and conn.dialect.name == "postgresql":
            conn.execute(text("DROP TABLE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        elif names:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for name in names:
                conn.execute(text(f'DROP TABLE "{name}"'))
    services.db.upgrade()
    services.redis.flushdb()
    with services.db.session() as session:
        for feed_id in sorted(feed_ids):
            session.add(Feed(id=feed_id, url=f"http://127.0.0.1/feed/{feed_id}", name=str(feed_id),
                             trust="auto"))
    return services


def store(services: Any, articles: list[Any]) -> None:
    from wiredesk.store import articles as article_store

    with services.db.session() as session:
        article_store.upsert_many(session, articles)


def pending(services: Any) -> int:
    from wiredesk.store.models import Article

    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Article).where(
            Article.status.in_(("received", "processed")))) or 0


def run_stages(config: config_module.Config, articles: list[Any]) -> dict[str, float]:
    from wiredesk.pipeline.stages.categorize import categorize, default_model_path, load_categorizer
    from wiredesk.pipeline.tasks import enrich

    model = load_categorizer(default_model_path(config))
    enrich(articles[0], config)  # load models outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    for article in articles:
        categorize(enrich(article, config), model)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def run_in_process(config: config_module.Config, articles: list[Any]) -> dict[str, float]:
    from wiredesk.pipeline.tasks import process_article

    services = reset(config, {a.feed_id for a in articles})
    store(services, articles)
    if config.dedupe_semantic:
        from wiredesk.pipeline.stages import semantic

        semantic.encoder()  # loaded before the pool forks in production: not timed
    process_article(services, articles[0].id)  # warm: models, scripts, connections
    start, cpu = time.perf_counter(), time.process_time()
    for article in articles[1:]:
        process_article(services, article.id)
    elapsed = time.perf_counter() - start
    assert pending(services) == 0, "in-process loop left articles unprocessed"
    return {"seconds": elapsed, "cpu": time.process_time() - cpu, "articles": len(articles) - 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_celery(config: config_module.Config, articles: list[Any], workers: int,
               concurrency: int) -> dict[str, float]:
    from wiredesk.broker import create_celery

    services = reset(config, {a.feed_id for a in articles})
    store(services, articles)
    env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.sqlalchemy_url,
           "WIREDESK_WORKER_CONCURRENCY": str(concurrency), "WIREDESK_LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    procs = []
    for n in range(workers):
        env_n = {**env, "WIREDESK_PIPELINE_METRICS_PORT": str(_free_port()),
                 "WIREDESK_DATA_DIR": str(Path(config.data_dir) / f"bench-worker-{n}")}
        procs.append(subprocess.Popen([sys.executable, "-m", "wiredesk", "serve", "pipeline"],
                                      env=env_n, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        app = create_celery(config)
        from wiredesk.pipeline.tasks import process

        # Warm the workers (model loading) before the clock starts.
        process.delay(articles[0].id)
        deadline = time.monotonic() + 300
        while pending(services) == len(articles) and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu_before = sum(_proc_cpu(p.pid) for p in procs)
        busy_before = _system_cpu()[0]
        start = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for article in articles[1:]:
                process.apply_async((article.id,), producer=producer)
        while pending(services) and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        left = pending(services)
        return {"seconds": elapsed, "articles": len(articles) - 1, "left": left,
                "machine_busy_cpu": _system_cpu()[0] - busy_before,
                "worker_parent_cpu": sum(_proc_cpu(p.pid) for p in procs) - cpu_before}
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--copies", type=int, default=2, help="repeat the corpus under new feeds")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    settings = config_module.load()
    parser.add_argument("--database-url", default=settings.database_url)
    parser.add_argument("--redis-url", default=settings.redis_url)
    args = parser.parse_args(argv)
    if not args.database_url or not args.redis_url:
        sys.exit("give --database-url and --redis-url (their data is dropped)")
    config = settings.replace(database_url=args.database_url, redis_url=args.redis_url)
    articles = corpus_articles(args.copies)
    n = len(articles)
    stages = run_stages(config, articles)
    in_process = run_in_process(config, articles)
    from wiredesk.pipeline.stages import semantic

    # WIREDESK_DEDUPE_SEMANTIC, when its extra is installed: the same loop with the encoder.
    with_semantic = (run_in_process(config.replace(dedupe_semantic=True), articles)
                     if semantic.available() else None)
    celery = run_celery(config, articles, args.workers, args.concurrency)
    rows = [
        ("stages (plain loop, pure)", n, stages["seconds"], n / stages["seconds"]),
        ("process_article (plain loop)", in_process["articles"], in_process["seconds"],
         in_process["articles"] / in_process["seconds"]),
        *([("  the same, semantic signal on", with_semantic["articles"],
            with_semantic["seconds"], with_semantic["articles"] / with_semantic["seconds"])]
          if with_semantic else []),
        (f"celery ({args.workers}x{args.concurrency} prefork)", celery["articles"],
         celery["seconds"], celery["articles"] / celery["seconds"]),
    ]
    limit = rows[1][3]
    print(f"{'path':34} {'articles':>8} {'seconds':>8} {'art/s':>8} {'vs plain loop':>14}")
    for name, count, seconds, rate in rows:
        print(f"{name:34} {count:8d} {seconds:8.2f} {rate:8.1f} {rate / limit:13.2f}x")
    print(f"machine CPU busy during the celery run: {celery['machine_busy_cpu']:.1f} s "
          f"of {celery['seconds'] * (os.cpu_count() or 1):.1f} s available; "
          f"articles left unprocessed: {celery['left']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "pipeline.json"
    out.write_text(json.dumps({
        "articles": n, "copies": args.copies, "workers": args.workers,
        "concurrency": args.concurrency, "stages": stages, "in_process": in_process,
        "in_process_semantic": with_semantic,
        "celery": celery, "ratios_to_plain_process_loop": {r[0]: r[3] / limit for r in rows},
        "load_average": os.getloadavg(), "cpus": os.cpu_count(),
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
