"""Every Prometheus metric, named ``wiredesk_<area>_<what>_<unit>``, with small fixed label sets.

Services run prometheus_client in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
``wiredesk serve`` before this module is imported), so Celery and gunicorn children all count.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any, Literal
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from wiredesk import keys
from wiredesk.store.review import DECISIONS

log = logging.getLogger(__name__)

FETCH_OUTCOMES = (
    "ok", "not_modified", "timeout", "connect_error", "http_error", "rate_limited", "too_large",
    "blocked", "unsafe_xml", "parse_error", "not_a_feed", "error",
)
SKIP_REASONS = ("locked", "host_busy", "host_rate")
STORY_DECISION_WAIT_OUTCOMES = ("decided", "timed_out")
DELIVERY_OUTCOMES = ("delivered", "retried", "failed", "gone", "skipped")

FETCHES = Counter("wiredesk_ingest_fetches_total", "Feed fetches by outcome.", ["outcome"])
FETCH_DURATION = Histogram(
    "wiredesk_ingest_fetch_duration_seconds", "Time to fetch and parse one feed.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FETCH_BYTES = Counter("wiredesk_ingest_fetched_bytes_total", "Feed body bytes received (on the wire).")
DECODED_BYTES = Counter(
    "wiredesk_ingest_decoded_bytes_total", "Feed body bytes after Content-Encoding decompression.",
)
ENTRY_DATES = Counter(
    "wiredesk_ingest_entry_dates_total",
    "Entry dates by how they were read (parsed, zone_assumed, future_clamped, unparsed, missing).",
    ["outcome"],
)
ENTRIES = Counter(
    "wiredesk_ingest_entries_total",
    "Feed entries by outcome (new, updated, unchanged, capped, tombstoned, killed, invalid).",
    ["outcome"],
)
FETCHES_SKIPPED = Counter(
    "wiredesk_ingest_fetches_skipped_total",
    "Fetches not started: feed already being fetched (locked) or its host at its limit.",
    ["reason"],
)
DUE_LAG = Histogram(
    "wiredesk_ingest_due_lag_seconds", "How late a feed was when the scheduler claimed it.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600),
)
WEBSUB_PUSHES = Counter(
    "wiredesk_ingest_websub_pushes_total",
    "WebSub content pushes by outcome (accepted, bad_signature, unknown_feed, unknown_topic, "
    "not_a_feed, too_large, bad_encoding; ping: a plain-http hub's, which only brings a poll "
    "forward; unparsable: accepted, then the ingest worker could not parse it).", ["outcome"],
)
WEBSUB_SUBSCRIPTIONS = Counter(
    "wiredesk_ingest_websub_subscriptions_total",
    "WebSub subscription requests by outcome (requested; requested_no_secret: to a plain-http "
    "hub; blocked: by the SSRF guard, or a redirect that would send the secret in clear; error; "
    "unsubscribe_requested, unsubscribe_error: from a hub the feed dropped).",
    ["outcome"],
)
FULL_TEXT = Counter(
    "wiredesk_ingest_full_text_total", "Article pages fetched for full text, by outcome.",
    ["outcome"],
)
STAGE_ITEMS = Counter(
    "wiredesk_pipeline_stage_items_total", "Articles through each stage by outcome.",
    ["stage", "outcome"],
)
STAGE_DURATION = Histogram(
    "wiredesk_pipeline_stage_duration_seconds", "Time one article spends in a stage.", ["stage"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
STAGE_LAST_SUCCESS = Gauge(
    "wiredesk_pipeline_stage_last_success_timestamp_seconds",
    "When a stage last finished an article.", ["stage"], multiprocess_mode="max",
)
STORY_SIZE = Histogram(
    "wiredesk_pipeline_story_size_articles", "Articles in a story when a new source joins it.",
    buckets=(2, 3, 5, 10, 20, 50, 100),
)
STORY_DECISION_WAITS = Counter(
    "wiredesk_pipeline_story_decision_waits_total",
    "Tier-3 waits for same-story articles in flight to decide: decided (or left), or timed_out "
    "(a worker died mid-decision, or is stuck).", ["outcome"],
)
STORY_DECISION_WAIT = Histogram(
    "wiredesk_pipeline_story_decision_wait_seconds",
    "Time an article waited for same-story articles in flight to decide.",
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
)
ROUTING = Counter(
    "wiredesk_pipeline_routing_decisions_total", "Routing decisions by rule and action.",
    ["rule", "action"],
)
TOPICS = Counter(
    "wiredesk_pipeline_articles_by_topic_total",
    "Articles categorized under each top-level IPTC Media Topic.", ["topic"],
)
CATEGORIZER_LANGUAGES = Gauge(
    "wiredesk_pipeline_categorizer_model_languages",
    "Languages the loaded categorizer model was trained on; 0: the IPTC lexicon alone (no "
    "trained artifact found, see WIREDESK_CATEGORIZER_MODEL).",
    # The last load wins (a retrain reloads in each worker child); "livemin" let the serving
    # process, which had never set it, hold 0 for ever.
    multiprocess_mode="livemostrecent",
)
INGEST_TO_PUBLISH = Histogram(
    "wiredesk_pipeline_ingest_to_publish_seconds", "From fetch to publication of an article.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
ARTICLES_FAILED = Counter(
    "wiredesk_articles_failed_total", "Articles that failed for good after their retries.",
)
RECONCILED = Counter(
    "wiredesk_pipeline_reconciled_total", "Stuck articles the reconciler re-enqueued.",
)
PUBLISHER_REQUESTS = Counter(
    "wiredesk_publisher_requests_total", "Publisher responses by endpoint and status class.",
    ["endpoint", "status"],
)
DESK_REQUESTS = Counter(
    "wiredesk_desk_requests_total", "Editors' desk responses by endpoint and status class.",
    ["endpoint", "status"],
)
DESK_LOGINS = Counter(
    "wiredesk_desk_logins_total", "Desk login attempts by outcome: ok, failed (wrong name or "
    "password), throttled (429: too many failures for the name or the address).", ["outcome"],
)
DESK_ACTIONS = Counter(
    "wiredesk_desk_actions_total", "Editors' changes on the desk besides decisions: edit "
    "(an article's copy), merge, move, split and kill (stories).", ["action"],
)
HUB_REQUESTS = Counter(
    "wiredesk_publisher_hub_requests_total",
    "WebSub (un)subscription requests to the publisher's hub: accepted (to verify), refused "
    "(400) or throttled (429: past the requests one address may make a minute).",
    ["outcome"],
)
HUB_VERIFICATIONS = Counter(
    "wiredesk_deliver_verifications_total",
    "Verifications of intent sent to subscribers' callbacks: verified (the challenge came back), "
    "refused (anything else) or superseded (a newer request came first).", ["outcome"],
)
DELIVERIES = Counter(
    "wiredesk_deliver_deliveries_total",
    "Pushes of a story version to a subscriber's callback by outcome: delivered, retried (an "
    "attempt failed, another follows), failed (gave up), gone (the callback answered 410), "
    "skipped (the subscription or the story ended first).", ["outcome"],
)
DELIVERY_LATENCY = Histogram(
    "wiredesk_deliver_delivery_latency_seconds",
    "From a story's publication or correction to its push reaching a subscriber.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
PUBLISHER_LAST_MODIFIED_UNKNOWN = Counter(
    "wiredesk_publisher_last_modified_unknown_total",
    "Responses sent without Last-Modified because Redis, which keeps the dates, did not answer.",
)


def report_from_zero(queue: str) -> None:
    """Give each outcome the alerts and panels read its series, at 0, in the service that
    consumes ``queue``: a series born at its first increment hides that increment from
    rate() and increase(), and leaves a panel empty until something happens."""
    for counter, outcomes in {
        "ingest": ((FETCHES, FETCH_OUTCOMES), (WEBSUB_PUSHES, ("unparsable",))),
        "process": ((STORY_DECISION_WAITS, STORY_DECISION_WAIT_OUTCOMES),),
        "deliver": ((DELIVERIES, DELIVERY_OUTCOMES),),
    }.get(queue, ()):
        for outcome in outcomes:
            counter.labels(outcome)


@contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    """Count and time one article through ``stage``; errors count as outcome ``error``."""
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        STAGE_ITEMS.labels(stage, "error").inc()
        raise
    finally:
        STAGE_DURATION.labels(stage).observe(time.perf_counter() - start)
    STAGE_LAST_SUCCESS.labels(stage).set(time.time())


def registry() -> CollectorRegistry:
    """The registry to serve: every process's values in multiprocess mode, else the default."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


class QueueDepthCollector:
    """Reads queue lengths from Redis at scrape time (a gauge nobody has to keep updated)."""

    def __init__(self, redis_client: Any, queues: tuple[str, ...]):
        self.redis = redis_client
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("wiredesk_queue_depth", "Messages waiting per queue.",
                                   labels=["queue"])
        try:
            for queue in self.queues:
                family.add_metric([queue], float(self.redis.llen(queue)))
        except Exception:  # noqa: BLE001 - a scrape must not fail because Redis is down
            return
        yield family


class DedupeIndexCollector:
    """Articles in the near-duplicate index window, read from Redis at scrape time."""

    def __init__(self, stats: Callable[[], Any]):
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.stats()
        except Exception:  # noqa: BLE001 - a scrape must not fail because Redis is down
            return
        yield GaugeMetricFamily("wiredesk_dedupe_index_articles",
                                "Articles in the near-duplicate index window.",
                                value=float(stats.articles))


# The ways an editor's decision is taken: the desk, the admin API, the CLI.
DecisionChannel = Literal["desk", "api", "cli"]
DECISION_CHANNELS: tuple[DecisionChannel, ...] = ("desk", "api", "cli")


class NewsroomCounter:
    """A counter of what editors and operators do, kept in a Redis hash (field: the label
    values joined by ":") because the CLI's process is gone before any scrape and the admin
    API runs in the publisher; the desk reports every process's counts at scrape time, every
    label pair from 0, so a first action shows as an increase. Each desk reports the same
    values. Redis not answering loses a count, never the action."""

    def __init__(self, key: str, name: str, documentation: str,
                 labels: dict[str, tuple[str, ...]]):
        self.key, self.name, self.documentation, self.labels = key, name, documentation, labels

    def count(self, redis_client: Any, *values: str) -> None:
        try:
            redis_client.hincrby(self.key, ":".join(values), 1)
        except Exception as exc:  # noqa: BLE001 - the action is committed; only its count is lost
            log.warning("could not count %s %s: %s", self.name, values, exc)

    def family(self, redis_client: Any) -> CounterMetricFamily | None:
        try:
            counts = redis_client.hgetall(self.key)
        except Exception:  # noqa: BLE001 - a scrape must not fail because Redis is down
            return None
        family = CounterMetricFamily(self.name, self.documentation, labels=list(self.labels))
        for values in itertools.product(*self.labels.values()):
            family.add_metric(list(values), float(counts.get(":".join(values).encode(), 0)))
        return family


DESK_DECISIONS = NewsroomCounter(
    keys.DESK_DECISIONS, "wiredesk_desk_decisions", "Editors' decisions by channel (desk, "
    "api: the admin API, cli) and decision (approve, reject).",
    {"channel": DECISION_CHANNELS, "decision": DECISIONS})
STORIES_KILLED = NewsroomCounter(
    keys.STORIES_KILLED, "wiredesk_stories_killed",
    "Published stories withdrawn from consumers: kill (an editor killed it: desk, admin API or "
    "CLI) or delete (an operator deleted the last report of it consumers saw).",
    {"cause": ("kill", "delete")})
# Every desk process reports each of these whole: across desks, take their max, not their sum.
NEWSROOM_COUNTERS = (DESK_DECISIONS, STORIES_KILLED)


def count_decision(redis_client: Any, channel: DecisionChannel, decision: str) -> None:
    """Count one editor's committed decision (see NewsroomCounter)."""
    DESK_DECISIONS.count(redis_client, channel, decision)


class NewsroomCollector:
    """The NewsroomCounters read from Redis at scrape time, in the desk: "nobody decided" then
    means nobody, anywhere."""

    def __init__(self, redis_client: Any):
        self.redis = redis_client

    def collect(self) -> Iterator[CounterMetricFamily]:
        for counter in NEWSROOM_COUNTERS:
            family = counter.family(self.redis)
            if family is not None:
                yield family


class DatabaseGauges:
    """Gauges read from the database at scrape time: ``read`` returns each one's (name,
    documentation, value) from a session. A scrape must not fail because the database is down:
    then the gauges are left out."""

    def __init__(self, db: Any):
        self.db = db

    def read(self, session: Any) -> list[tuple[str, str, float]]:
        raise NotImplementedError

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.db.session() as session:
                gauges = self.read(session)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(name, documentation, value=float(value))


class FeedStateCollector(DatabaseGauges):
    """Feed health read from the database at scrape time: feeds in error and next-due lag."""

    def read(self, session: Any) -> list[tuple[str, str, float]]:
        from wiredesk.store.feeds import feed_health

        in_error, lag = feed_health(session)
        return [("wiredesk_feeds_in_error", "Enabled feeds whose last fetch failed (backing off).",
                 in_error),
                ("wiredesk_ingest_next_due_lag_seconds",
                 "How overdue the most overdue enabled feed is (0: none).", lag)]


class ReviewQueueCollector(DatabaseGauges):
    """The editors' review queue read from the database at scrape time: how many articles wait
    and for how long the oldest has (editors' decisions lower them, on the desk, through the
    admin API or the CLI: see NewsroomCollector)."""

    def read(self, session: Any) -> list[tuple[str, str, float]]:
        from wiredesk.store.review import queue_health

        waiting, oldest = queue_health(session)
        return [("wiredesk_desk_review_queue_articles",
                 "Articles waiting for an editor's decision (pending_review).", waiting),
                ("wiredesk_desk_review_oldest_wait_seconds",
                 "How long the oldest article waiting for an editor has waited (0: none waits).",
                 oldest)]


class SubscriptionCollector(DatabaseGauges):
    """Subscriptions to the publisher's feeds receiving pushes, read from the database at
    scrape time (the deliver service reports it)."""

    def read(self, session: Any) -> list[tuple[str, str, float]]:
        from datetime import UTC, datetime

        from wiredesk.store.subscriptions import receiving_count

        return [("wiredesk_deliver_active_subscriptions",
                 "Subscriptions whose lease runs (active or failing): the ones a new story is "
                 "pushed to.", receiving_count(session, datetime.now(UTC)))]


def metrics_wsgi(reg: CollectorRegistry, healthy: Callable[[], bool]) -> Callable[..., Any]:
    """A tiny WSGI app with /metrics, /healthz and /livez for the worker services.

    /healthz checks the service's dependencies (readiness); /livez only that the process
    answers, so a Redis or database outage does not make Kubernetes restart every pod.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(reg)]
        if path == "/livez":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"alive\n"]
        if path == "/healthz":
            ok = healthy()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"unhealthy\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # One thread per request: /livez must answer while /healthz or a scrape waits on a
    # dependency that does not, or liveness restarts every pod for a Redis or database outage.
    daemon_threads = True


def serve_metrics(host: str, port: int, reg: CollectorRegistry,
                  healthy: Callable[[], bool]) -> WSGIServer:
    """Serve /metrics and /healthz on a daemon thread; returns the server."""
    server = make_server(host, port, metrics_wsgi(reg, healthy),
                         server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
