"""The app registers every metric deploy/ relies on, with the type and labels it expects."""

from __future__ import annotations

from typing import Any

import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from tests.helpers import REPO
from wiredesk import metrics
from wiredesk.broker import QUEUES
from wiredesk.store.feeds import add_feed


def registered() -> dict[str, tuple[str, tuple[str, ...]]]:
    found = {}
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - no public listing
        for family in collector.describe() if hasattr(collector, "describe") else []:
            labels = getattr(collector, "_labelnames", ())
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = (family.type, tuple(labels))
    return found


def scrape_time_families(celery_app: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    services = celery_app.wiredesk
    found = {}
    for collector in (metrics.QueueDepthCollector(services.redis, QUEUES),
                      metrics.FeedStateCollector(services.db),
                      metrics.DedupeIndexCollector(services.dedupe_index.stats),
                      metrics.ReviewQueueCollector(services.db),
                      metrics.NewsroomCollector(services.redis)):
        for family in collector.collect():
            labels = tuple(family.samples[0].labels) if family.samples else ()
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = (family.type, labels)
    return found


def test_every_contract_metric_is_exposed(celery_app: Any) -> None:
    contract = yaml.safe_load((REPO / "deploy/prometheus/metrics.yml").read_text())["metrics"]
    have = registered() | scrape_time_families(celery_app)
    for name, spec in contract.items():
        assert name in have, f"{name} is not exposed"
        assert have[name] == (spec["type"], tuple(spec["labels"])), name


def test_feeds_in_error_counts_failing_feeds(celery_app: Any, database: Any) -> None:
    with database.session() as session:
        add_feed(session, "http://127.0.0.1:9/a")
        add_feed(session, "http://127.0.0.1:9/b").error_count = 3
    registry = CollectorRegistry()
    registry.register(metrics.FeedStateCollector(celery_app.wiredesk.db))
    assert b"wiredesk_feeds_in_error 1.0" in generate_latest(registry)


def test_gauges_read_from_the_database_are_left_out_while_it_is_down(config: Any) -> None:
    """A scrape during a database outage still answers (queue depths and counters): the
    gauges read from the database are left out, not the whole scrape failed."""
    from wiredesk.store.db import Database

    down = Database(config.replace(database_url="postgresql+psycopg://wiredesk@127.0.0.1:9/x",
                                   db_connect_timeout_seconds=1.0))
    try:
        for collector in (metrics.FeedStateCollector(down), metrics.ReviewQueueCollector(down),
                          metrics.SubscriptionCollector(down)):
            assert list(collector.collect()) == []
    finally:
        down.dispose()


def test_ingest_to_publish_has_the_alert_bucket() -> None:
    assert 300 in metrics.INGEST_TO_PUBLISH._upper_bounds  # noqa: SLF001
