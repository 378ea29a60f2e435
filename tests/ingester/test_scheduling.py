"""Scheduling against a real loopback server, real Redis and real Celery workers: backoff and
recovery, Retry-After, cache hints, and no feed (or host) fetched more than allowed at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from tests.helpers import respond, wait_until
from wiredesk.broker import create_celery
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.tasks import due_feed_ids, fetch_feed, ingest_feed, schedule_due
from wiredesk.metrics import FeedStateCollector
from wiredesk.store.feeds import put_feed
from wiredesk.store.models import Feed

GOOD = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()


def services_for(config: Any, database: Any, **changes: Any) -> Any:
    # No jitter (exact delays to assert) and no host limits unless a test is about them.
    changes = {"host_max_concurrency": 0, "host_max_per_second": 0, **changes}
    app = create_celery(config.replace(schedule_jitter=0.0, **changes))
    app.wiredesk.__dict__["db"] = database
    return app


def delay_of(feed: Feed) -> float:
    return (feed.next_fetch_at - feed.last_fetched_at).total_seconds()


def feed_gauges(database: Any) -> dict[str, float]:
    return {m.name: m.samples[0].value for m in FeedStateCollector(database).collect()}


def test_backoff_grows_to_its_ceiling_then_recovers(config: Any, database: Any,
                                                    redis_client: Any, feed_server: Any) -> None:
    app = services_for(config, database, backoff_max_seconds=200)
    failing = {"on": True}
    feed_server.routes["/flaky"] = lambda h: (
        respond(h, 500) if failing["on"] else respond(h, 200, GOOD))
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_server.url("/flaky"), "interval": 60}).id

    delays = []
    for attempt in range(1, 6):
        assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "http_error"
        with database.session() as session:
            feed = session.get(Feed, feed_id)
            assert (feed.error_count, feed.enabled, feed.schedule_reason) == (
                attempt, True, "backoff")
            assert feed.last_error == "http_error: HTTP 500" and feed.last_error_at
            delays.append(delay_of(feed))
    assert delays == [60, 120, 200, 200, 200]  # doubling, then the ceiling, never a stop
    assert feed_gauges(database)["wiredesk_feeds_in_error"] == 1

    failing["on"] = False
    assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "ok"
    with database.session() as session:
        feed = session.get(Feed, feed_id)
        assert (feed.error_count, feed.last_error, feed.schedule_reason) == (0, None, "interval")
        assert delay_of(feed) == 60
    assert feed_gauges(database)["wiredesk_feeds_in_error"] == 0


def test_429_with_retry_after_and_cache_hints_set_the_next_fetch(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    app = services_for(config, database)
    feed_server.routes["/busy"] = lambda h: respond(h, 429, Retry_After="1800")
    feed_server.routes["/cached"] = lambda h: respond(
        h, 200, GOOD, Cache_Control="public, max-age=5400", Content_Type="application/rss+xml")
    ttl_feed = GOOD.replace(b"<language>en</language>", b"<language>en</language><ttl>120</ttl>")
    feed_server.serve("/ttl", ttl_feed)
    with database.session() as session:
        ids = {path: put_feed(session, {"url": feed_server.url(path), "interval": 600}).id
               for path in ("/busy", "/cached", "/ttl")}

    expected = {"/busy": ("rate_limited", 1800, "retry-after"),
                "/cached": ("ok", 5400, "max-age"), "/ttl": ("ok", 7200, "ttl")}
    for path, (outcome, delay, reason) in expected.items():
        assert ingest_feed(app.wiredesk, ids[path], enqueue=list).outcome == outcome
        with database.session() as session:
            feed = session.get(Feed, ids[path])
            assert (delay_of(feed), feed.schedule_reason) == (delay, reason), path
    assert feed_server.statuses("/busy") == [429]


def test_a_retry_after_date_is_read_against_the_servers_clock(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    """Retry-After as an HTTP date on a 503 from a server whose clock is two hours slow: it
    asks for an hour from its own now. Read against our clock the date was past, and the
    feed came back at its plain backoff, an hour before the server wanted it."""
    from email.utils import format_datetime

    app = services_for(config, database)
    server_now = datetime.now(UTC) - timedelta(hours=2)

    def slow_clock(h: Any) -> None:
        h.date_time_string = lambda timestamp=None: format_datetime(server_now, usegmt=True)
        respond(h, 503, Retry_After=format_datetime(server_now + timedelta(hours=1), usegmt=True))

    feed_server.routes["/down"] = slow_clock
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_server.url("/down"), "interval": 600}).id
    assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "http_error"
    with database.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed.schedule_reason == "retry-after"
        assert 3590 <= delay_of(feed) <= 3600


class ConcurrencyRecorder:
    """Routes that hold every request until released, counting requests in flight per path."""

    def __init__(self, server: Any):
        self.server = server
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.inflight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.host_inflight = 0
        self.host_peak = 0

    def route(self, path: str) -> str:
        def handler(h: Any) -> None:
            with self.lock:
                self.requests[path] += 1
                self.inflight[path] += 1
                self.peak[path] = max(self.peak[path], self.inflight[path])
                self.host_inflight += 1
                self.host_peak = max(self.host_peak, self.host_inflight)
            self.release.wait(20)
            with self.lock:
                self.inflight[path] -= 1
                self.host_inflight -= 1
            respond(h, 200, GOOD, Content_Type="application/rss+xml")

        self.server.routes[path] = handler
        return self.server.url(path)


WORKER = ("from wiredesk.broker import create_celery; create_celery().worker_main(['worker', "
          "'-Q', 'ingest', '-n', '{name}@%h', '-c', '4', '-P', 'threads', '--without-gossip', "
          "'--without-mingle', '--loglevel', 'WARNING'])")


class Workers:
    """Two real Celery worker processes on the ingest queue; their metrics read from disk."""

    def __init__(self, config: Any, metrics_dir: Path, **settings: str):
        self.metrics_dir = metrics_dir
        env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.sqlalchemy_url,
               "WIREDESK_DATA_DIR": str(config.data_dir),
               "WIREDESK_FETCH_ALLOW_NETWORKS": "127.0.0.1/32", "WIREDESK_SCHEDULE_JITTER": "0",
               "WIREDESK_HOST_MAX_CONCURRENCY": "0", "WIREDESK_HOST_MAX_PER_SECOND": "0",
               "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **settings}
        self.procs = [subprocess.Popen([sys.executable, "-c", WORKER.format(name=name)], env=env)
                      for name in ("one", "two")]
        self.app = create_celery(config)

    def wait_ready(self) -> None:
        # By name: a worker another test left behind on this broker must not count.
        wait_until(lambda: {name.split("@")[0] for reply in self.app.control.ping(timeout=0.5)
                            for name in reply} >= {"one", "two"}, timeout=60,
                   message="both workers answering")

    def counter(self, name: str, **labels: str) -> float:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.metrics_dir))
        return registry.get_sample_value(name, labels) or 0.0

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)  # warm shutdown: finish what is running
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(config: Any, database: Any, redis_client: Any, tmp_path: Path) -> Iterator[Any]:
    started: list[Workers] = []

    def start(**settings: str) -> Workers:
        metrics_dir = tmp_path / f"metrics{len(started)}"
        metrics_dir.mkdir()
        started.append(Workers(config, metrics_dir, **settings))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for running in started:
        running.stop()


def test_two_workers_never_fetch_one_feed_at_once(database: Any, feed_server: Any,
                                                  workers: Any) -> None:
    recorder = ConcurrencyRecorder(feed_server)
    with database.session() as session:
        feed_id = put_feed(session, {"url": recorder.route("/one")}).id
    running = workers()
    for _ in range(6):
        fetch_feed.delay(feed_id)
    wait_until(lambda: running.counter("wiredesk_ingest_fetches_skipped_total",
                                       reason="locked") >= 5,
               message="five of six fetches to find the feed locked")
    recorder.release.set()
    wait_until(lambda: running.counter("wiredesk_ingest_fetches_total", outcome="ok") >= 1,
               message="the one real fetch")
    assert recorder.requests["/one"] == 1 and recorder.peak["/one"] == 1


def test_one_host_gets_at_most_its_concurrency(database: Any, feed_server: Any,
                                               workers: Any) -> None:
    recorder = ConcurrencyRecorder(feed_server)
    with database.session() as session:
        ids = [put_feed(session, {"url": recorder.route(f"/host/{n}")}).id for n in range(6)]
    running = workers(WIREDESK_HOST_MAX_CONCURRENCY="2")
    schedule_due.delay()  # the beat task: claims all six due feeds, enqueues six fetches
    wait_until(lambda: running.counter("wiredesk_ingest_fetches_skipped_total",
                                       reason="host_busy") >= 4,
               message="four fetches deferred by the host limit")
    # The two granted fetches may still be on their way to the server.
    wait_until(lambda: recorder.host_inflight == 2, message="two fetches at the host")
    recorder.release.set()
    wait_until(lambda: running.counter("wiredesk_ingest_fetches_total", outcome="ok") >= 2,
               message="the two granted fetches")
    assert recorder.host_peak == 2 and sum(recorder.requests.values()) == 2
    with database.session() as session:
        feeds = [session.get(Feed, i) for i in ids]
        deferred = [f for f in feeds if f.schedule_reason == "host_busy"]
        assert len(deferred) == 4
        # Deferred, not failed: due again in seconds, with no error counted.
        now = datetime.now(UTC)
        assert all(f.error_count == 0 and f.next_fetch_at < now + timedelta(seconds=10)
                   for f in deferred)


def test_the_database_claim_hands_each_due_feed_out_once(config: Any, database: Any) -> None:
    app = services_for(config, database)
    with database.session() as session:
        ids = {put_feed(session, {"url": f"https://example.org/{n}"}).id for n in range(5)}
    now = datetime.now(UTC)
    first = due_feed_ids(app.wiredesk, now, limit=3)
    second = due_feed_ids(app.wiredesk, now, limit=10)
    assert len(first) == 3 and set(first) | set(second) == ids and not set(first) & set(second)
    assert due_feed_ids(app.wiredesk, now) == []
