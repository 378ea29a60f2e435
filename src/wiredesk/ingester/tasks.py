"""Ingest tasks: pick due feeds, fetch one feed, store its entries, enqueue them for processing."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select

from wiredesk import keys, metrics
from wiredesk.broker import Services, wiredesk_task
from wiredesk.ingester.fetch import FetchError, fetch, make_client
from wiredesk.ingester.parse import ParseError, parse_feed
from wiredesk.store import articles as article_store
from wiredesk.store.models import Feed

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


@dataclass
class IngestReport:
    feed_id: int
    outcome: str
    counts: dict[str, int] = field(default_factory=dict)
    enqueued: list[str] = field(default_factory=list)
    error: str | None = None


def _next_fetch(feed: Feed, now: datetime, error_count: int,
                retry_after: float | None = None) -> datetime:
    delay = float(feed.interval_seconds)
    if error_count:
        delay = min(delay * 2 ** (error_count - 1), MAX_BACKOFF.total_seconds())
    if retry_after:
        delay = max(delay, retry_after)
    # Jitter keeps feeds added together from being fetched together forever.
    return now + timedelta(seconds=delay * random.uniform(0.9, 1.1))


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http_client(services: Services) -> httpx.Client:
    global _client  # one keep-alive pool per worker process, shared by its threads
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = make_client(services.config)
    return _client


def ingest_feed(services: Services, feed_id: int, enqueue: Any = None) -> IngestReport:
    """Fetch one feed, store its entries, then (after commit) enqueue what is new or changed."""
    lock = services.redis.lock(keys.feed_fetch_lock(feed_id),
                               timeout=keys.FEED_FETCH_LOCK_TTL_SECONDS, blocking=False)
    if not lock.acquire():
        return IngestReport(feed_id, "locked")
    try:
        return _ingest_locked(services, feed_id, enqueue or _enqueue_process)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - the lock may have expired; its TTL cleans up
            pass


def _enqueue_process(article_ids: list[str]) -> None:
    from wiredesk.pipeline.tasks import process

    if not article_ids:
        return
    # One producer (one broker connection) for the whole feed, not one acquire per message.
    with process.app.producer_or_acquire() as producer:
        for article_id in article_ids:
            process.apply_async((article_id,), producer=producer)


def _ingest_locked(services: Services, feed_id: int, enqueue: Any) -> IngestReport:
    db = services.db
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return IngestReport(feed_id, "missing")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        language = feed.language
    started = time.perf_counter()
    now = datetime.now(UTC)
    report = IngestReport(feed_id, "ok")
    try:
        result = fetch(_http_client(services), url, services.config, etag=etag,
                       last_modified=last_modified)
        metrics.FETCH_BYTES.inc(result.wire_bytes)
        metrics.DECODED_BYTES.inc(len(result.body))
        if result.not_modified:
            report.outcome = "not_modified"
        else:
            parsed = parse_feed(result.body, feed_id=feed_id, url=result.url,
                                headers=result.headers, language_hint=language, fetched_at=now)
            for flag, count in parsed.date_flags.items():
                metrics.ENTRY_DATES.labels(flag).inc(count)
            with db.session() as session:
                outcomes = article_store.upsert_many(session, parsed.articles)
                for article, outcome in zip(parsed.articles, outcomes, strict=True):
                    report.counts[outcome] = report.counts.get(outcome, 0) + 1
                    if outcome != "unchanged":
                        report.enqueued.append(article.id)
                feed = session.get(Feed, feed_id)
                assert feed is not None
                feed.title = parsed.title or feed.title
                _record_success(feed, result.headers, now)
                if result.permanent_redirect:
                    log.info("feed %s moved permanently to %s", feed_id, result.permanent_redirect)
                    feed.url = result.permanent_redirect
            if parsed.skipped:
                report.counts["invalid"] = parsed.skipped
            # Committed above: only now may workers see these ids.
            enqueue(report.enqueued)
        if report.outcome == "not_modified":
            with db.session() as session:
                feed = session.get(Feed, feed_id)
                assert feed is not None
                _record_success(feed, result.headers, now)
    except (FetchError, ParseError) as exc:
        report.outcome, report.error = exc.outcome, str(exc)
        log.warning("feed %s (%s): %s: %s", feed_id, url, exc.outcome, exc)
        with db.session() as session:
            feed = session.get(Feed, feed_id)
            if feed is not None:
                feed.error_count += 1
                feed.last_error = f"{exc.outcome}: {exc}"
                feed.last_fetched_at = now
                feed.next_fetch_at = _next_fetch(feed, now, feed.error_count,
                                                 getattr(exc, "retry_after", None))
    finally:
        metrics.FETCHES.labels(report.outcome).inc()
        metrics.FETCH_DURATION.observe(time.perf_counter() - started)
        for outcome, count in report.counts.items():
            metrics.ENTRIES.labels(outcome).inc(count)
    return report


def _record_success(feed: Feed, headers: dict[str, str], now: datetime) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    feed.etag = lowered.get("etag") or feed.etag
    feed.last_modified = lowered.get("last-modified") or feed.last_modified
    feed.error_count = 0
    feed.last_error = None
    feed.last_fetched_at = now
    feed.last_success_at = now
    feed.next_fetch_at = _next_fetch(feed, now, 0)


def due_feed_ids(services: Services, now: datetime, limit: int = 500) -> list[int]:
    """Claim up to ``limit`` enabled feeds whose next fetch time has come."""
    with services.db.session() as session:
        feeds = list(session.scalars(
            select(Feed)
            .where(Feed.enabled.is_(True),
                   or_(Feed.next_fetch_at.is_(None), Feed.next_fetch_at <= now))
            .order_by(Feed.next_fetch_at)
            .limit(limit)
        ))
        # Claimed: not due again until the fetch reschedules it (or a lock TTL's worth passes).
        for feed in feeds:
            feed.next_fetch_at = now + timedelta(seconds=keys.FEED_FETCH_LOCK_TTL_SECONDS)
        return [feed.id for feed in feeds]


@wiredesk_task(queue="ingest", name="ingest.schedule")
def schedule(self: Any) -> int:
    """Beat: enqueue a fetch for every feed that is due."""
    ids = due_feed_ids(self.wiredesk, datetime.now(UTC))
    for feed_id in ids:
        fetch_feed.delay(feed_id)
    return len(ids)


@wiredesk_task(queue="ingest", name="ingest.fetch_feed")
def fetch_feed(self: Any, feed_id: int) -> str:
    """Fetch one feed; errors are the feed's state (backoff), not task failures."""
    return ingest_feed(self.wiredesk, feed_id).outcome
