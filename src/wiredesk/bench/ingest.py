"""Ingest benchmark: ``python -m wiredesk.bench.ingest [--feeds 1000 5000]``.

N synthetic feeds of 20 items on a loopback asyncio server; a first pass (every entry new) and
a second pass (every feed answers 304). Wiredesk runs its real path, ``ingest_feed`` (fetch,
parse, upsert, commit, enqueue to real Redis), from worker processes with thread pools sharing
one keep-alive pool per process, as the ingester service's Celery workers do (same process and
thread counts, from the same settings). The ``reader`` library runs the same
feeds in the same run, for comparison. Prints a table and writes JSON to bench-results/.
Needs PostgreSQL and Redis: ``DATABASE_URL`` / ``REDIS_URL`` (or --database-url/--redis-url);
the database's tables are dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wiredesk import config as config_module
from wiredesk.bench.feedserver import start_server

CLK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user+system) used so far by process ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def _system_cpu() -> tuple[float, float]:
    """CPU seconds so far that all processes on the machine spent busy, and that the
    hypervisor took from this VM (steal: the host's other guests, invisible to ``ps``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:7]) - idle) / CLK, steal / CLK


def _service_pids() -> list[int]:
    """PostgreSQL and Redis/Valkey server processes (their CPU is part of ingest's cost)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(("postgres", "redis-server", "valkey-server")):
                pids.append(int(entry.name))
    return pids


class CPUMeter:
    """CPU seconds used during a run: ours, the feed server's, the database/Redis's, other
    processes', and what the hypervisor took (steal)."""

    def __init__(self, ours: list[int], server: int):
        self.ours, self.server = ours, server

    def snapshot(self) -> dict[str, Any]:
        # Service processes looked up each time: PostgreSQL forks a backend per new connection.
        busy, steal = _system_cpu()
        return {"ours": sum(_proc_cpu(p) for p in self.ours), "server": _proc_cpu(self.server),
                "services": {p: _proc_cpu(p) for p in _service_pids()},
                "busy": busy, "steal": steal}

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        d = {k: round(after[k] - before[k], 2) for k in ("ours", "server", "busy", "steal")}
        # A backend born during the run counts whole; one that ended during it is lost (small).
        d["services"] = round(sum(cpu - before["services"].get(pid, 0.0)
                                  for pid, cpu in after["services"].items()), 2)
        d["others"] = round(d["busy"] - d["ours"] - d["server"] - d["services"], 2)
        return d


@dataclass
class PassResult:
    seconds: float
    feeds: int
    entries: int
    outcomes: dict[str, int]
    cpu: dict[str, float]
    peak_rss_mb: float

    def row(self, who: str, n: int, label: str) -> dict[str, Any]:
        return {"system": who, "feeds": n, "pass": label, "seconds": round(self.seconds, 2),
                "feeds_per_s": round(self.feeds / self.seconds, 1),
                "entries_per_s": round(self.entries / self.seconds, 1),
                "outcomes": self.outcomes, "cpu_seconds": self.cpu,
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


# --- wiredesk workers -------------------------------------------------------------------------

def _wiredesk_worker(config: Any, ids: list[int], threads: int, start: Any, results: Any,
                     ready: Any) -> None:
    from wiredesk.broker import create_celery
    from wiredesk.ingester.tasks import ingest_feed

    app = create_celery(config)
    services = app.wiredesk
    services.db  # noqa: B018 - connect before the clock starts
    services.redis.ping()
    pool = ThreadPoolExecutor(threads)
    for label in ("first", "second"):
        ready.put(os.getpid())
        start[label].wait()
        reports = list(pool.map(lambda i: ingest_feed(services, i), ids))
        outcomes = Counter(r.outcome for r in reports)
        entries = sum(sum(r.counts.values()) for r in reports)
        results.put((label, dict(outcomes), entries,
                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    pool.shutdown()


def _prepare_database(config: Any, n: int, port: int) -> list[int]:
    from sqlalchemy import insert, inspect, text

    from wiredesk.store.db import Database
    from wiredesk.store.models import Feed

    db = Database(config)
    with db.engine.begin() as conn:
        names = inspect(conn).get_table_names()
        if names:
            conn.execute(text("DROP TABLE IF EXISTS " + ", ".join(f'"{t}"' for t in names)
                              + " CASCADE"))
    db.upgrade()
    with db.session() as session:
        session.execute(insert(Feed), [
            {"url": f"http://127.0.0.1:{port}/feed/{i}", "name": f"bench {i}", "trust": "auto",
             "interval_seconds": 900, "enabled": True, "error_count": 0} for i in range(n)])
        ids = [row[0] for row in session.execute(text("SELECT id FROM feeds ORDER BY id"))]
    db.dispose()
    return ids


def _queued_articles(r: Any) -> tuple[int, int]:
    """(messages, article ids) waiting on the ``process`` queue: a batch message counts each id."""
    import base64

    messages = ids = 0
    for start in range(0, r.llen("process"), 1000):
        for raw in r.lrange("process", start, start + 999):
            args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
            messages += 1
            ids += len(args[0]) if isinstance(args[0], list) else 1
    return messages, ids


def run_wiredesk(config: Any, n: int, port: int, server_pid: int, processes: int,
                 threads: int) -> dict[str, PassResult]:
    import redis

    ids = _prepare_database(config, n, port)
    r = redis.Redis.from_url(config.redis_url)
    r.delete("process")
    ctx = multiprocessing.get_context("spawn")
    start = {"first": ctx.Event(), "second": ctx.Event()}
    results, ready = ctx.Queue(), ctx.Queue()
    workers = [ctx.Process(target=_wiredesk_worker,
                           args=(config, ids[k::processes], threads, start, results, ready))
               for k in range(processes)]
    for w in workers:
        w.start()
    meter = CPUMeter([w.pid for w in workers if w.pid], server_pid)
    out: dict[str, PassResult] = {}
    for label in ("first", "second"):
        for _ in workers:
            ready.get(timeout=300)
        before, t0 = meter.snapshot(), time.perf_counter()
        start[label].set()
        parts = [results.get(timeout=3600) for _ in workers]
        seconds = time.perf_counter() - t0
        cpu = CPUMeter.delta(before, meter.snapshot())
        outcomes: Counter[str] = Counter()
        for _, o, _, _ in parts:
            outcomes.update(o)
        messages, queued = _queued_articles(r)
        r.delete("process")  # the pipeline is not under test; keep Redis small
        out[label] = PassResult(seconds, n, sum(p[2] for p in parts),
                                dict(outcomes, enqueued=queued, messages=messages), cpu,
                                max(p[3] for p in parts))
    for w in workers:
        w.join(timeout=60)
    return out


# --- reader ------------------------------------------------------------------------------------

def _reader_worker(n: int, port: int, workers: int, start: Any, results: Any, ready: Any) -> None:
    from reader import make_reader

    with tempfile.TemporaryDirectory() as tmp:
        reader = make_reader(str(Path(tmp) / "reader.sqlite"))
        for i in range(n):
            reader.add_feed(f"http://127.0.0.1:{port}/feed/{i}")
        for label in ("first", "second"):
            ready.put(os.getpid())
            start[label].wait()
            before = reader.get_entry_counts().total
            reader.update_feeds(workers=workers, scheduled=False)
            counts = reader.get_feed_counts()
            entries = reader.get_entry_counts().total - before if label == "first" else 0
            results.put((label, {"ok": counts.total - (counts.broken or 0),
                                 "broken": counts.broken or 0}, entries,
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        reader.close()


def run_reader(n: int, port: int, server_pid: int, workers: int) -> dict[str, PassResult]:
    ctx = multiprocessing.get_context("spawn")
    start = {"first": ctx.Event(), "second": ctx.Event()}
    results, ready = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_reader_worker, args=(n, port, workers, start, results, ready))
    proc.start()
    meter = CPUMeter([proc.pid or 0], server_pid)
    out = {}
    for label in ("first", "second"):
        ready.get(timeout=600)
        before, t0 = meter.snapshot(), time.perf_counter()
        start[label].set()
        _, outcomes, entries, rss = results.get(timeout=3600)
        seconds = time.perf_counter() - t0
        out[label] = PassResult(seconds, n, entries, outcomes,
                                CPUMeter.delta(before, meter.snapshot()), rss)
    proc.join(timeout=60)
    return out


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write bench-results/ingest-<time>.json."""
    env = config_module.load()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--items", type=int, default=20)
    # The ingester service's own settings (WIREDESK_WORKER_CONCURRENCY, WIREDESK_INGEST_THREADS).
    parser.add_argument("--processes", type=int, default=env.worker_concurrency)
    parser.add_argument("--threads", type=int, default=env.ingest_threads,
                        help="threads per worker process")
    parser.add_argument("--reader-workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run both systems this many times, alternating (a shared machine's "
                             "speed drifts: compare each round's ratio, and their median)")
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--database-url", default=env.database_url)
    parser.add_argument("--redis-url", default=env.redis_url)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql") or not args.redis_url:
        parser.error("needs PostgreSQL (--database-url / DATABASE_URL) and Redis (--redis-url)")
    import ipaddress

    # Every benchmark feed lives on one loopback host: the per-host limits stay on (their Redis
    # work is part of the measured path) but wide enough never to defer a fetch.
    config = env.replace(database_url=args.database_url, redis_url=args.redis_url,
                         fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                         host_max_concurrency=args.processes * args.threads,
                         host_max_per_second=1e9)
    rows = []
    for n in args.feeds:
        server, port = start_server(n, args.items)
        try:
            for round_ in range(1, args.rounds + 1):
                for label, result in run_wiredesk(config, n, port, server.pid or 0,
                                                  args.processes, args.threads).items():
                    rows.append(result.row("wiredesk", n, label) | {"round": round_})
                    _print_row(rows[-1])
                if not args.no_reader:
                    for label, result in run_reader(n, port, server.pid or 0,
                                                    args.reader_workers).items():
                        rows.append(result.row("reader", n, label) | {"round": round_})
                        _print_row(rows[-1])
        finally:
            server.terminate()
            server.join()
    summary = ratio_summary(rows)
    if summary:
        print(f"\n{'feeds':>6} {'pass':7} {'rounds':>6}  Wiredesk / reader, each round  (median)")
        for line in summary:
            print(f"{line['feeds']:>6} {line['pass']:7} {len(line['ratios']):>6}  "
                  f"{', '.join(f'{r:.2f}x' for r in line['ratios'])}  ({line['median']:.2f}x)")
    meta = {"when": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
            "processes": args.processes, "threads": args.threads,
            "reader_workers": args.reader_workers, "items": args.items, "rounds": args.rounds,
            "load_at_end": os.getloadavg()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps({"meta": meta, "results": rows, "ratios": summary}, indent=1)
                    + "\n")
    print(f"\nwrote {path}")
    return 0


def ratio_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wiredesk's feeds/s over reader's, per feed count and pass, one ratio per round (the two
    ran back to back) and their median."""
    speed = {(r["system"], r["feeds"], r["pass"], r.get("round", 1)): r["feeds_per_s"]
             for r in rows}
    out = []
    for n, label in dict.fromkeys((r["feeds"], r["pass"]) for r in rows):
        ratios = [ours / speed[("reader", n, label, k)]
                  for (who, m, lab, k), ours in speed.items()
                  if (who, m, lab) == ("wiredesk", n, label) and ("reader", n, label, k) in speed]
        if ratios:
            out.append({"feeds": n, "pass": label, "ratios": [round(r, 3) for r in ratios],
                        "median": round(statistics.median(ratios), 3)})
    return out


_HEADER = False


def _print_row(row: dict[str, Any]) -> None:
    global _HEADER
    if not _HEADER:
        print(f"{'system':9} {'feeds':>6} {'pass':7} {'s':>7} {'feeds/s':>8} {'entries/s':>9} "
              f"{'RSS MB':>7}  cpu s (ours/server/pg+redis/others/steal)  outcomes")
        _HEADER = True
    cpu = row["cpu_seconds"]
    print(f"{row['system']:9} {row['feeds']:>6} {row['pass']:7} {row['seconds']:>7} "
          f"{row['feeds_per_s']:>8} {row['entries_per_s']:>9} {row['peak_rss_mb']:>7}  "
          f"{cpu['ours']}/{cpu['server']}/{cpu['services']}/{cpu['others']}/{cpu['steal']}  "
          f"{row['outcomes']}",
          flush=True)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    raise SystemExit(main())
