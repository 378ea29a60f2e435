"""Ingest tasks: pick due feeds, fetch one feed, store its entries, enqueue them for processing.

Scheduling: beat runs ``ingest.schedule`` every few seconds; it *claims* due feeds in the database
(``next_fetch_at`` pushed forward in the same transaction, ``SKIP LOCKED`` on PostgreSQL) and
enqueues one ``ingest.fetch_feed`` per claimed feed. The database is the due-set: it is the
source of truth, survives the loss of Redis, and needs no second structure kept in step. The
per-feed Redis lock then guards the fetch itself (a redelivered message, a manual
``wiredesk ingest --once``), and a per-host slot keeps many feeds on one host polite.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import LockError
from sqlalchemy import bindparam, or_, select, update

from wiredesk import keys, metrics
from wiredesk.broker import Services, wiredesk_task
from wiredesk.identity import without_password
from wiredesk.ingester import fulltext, schedule, websub
from wiredesk.ingester.fetch import FetchError, fetch, shared_client
from wiredesk.ingester.guard import BlockedURL
from wiredesk.ingester.hostlimit import feed_slot, host_slot
from wiredesk.ingester.parse import ParsedFeed, ParseError, parse_feed
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.feeds import HubLeft
from wiredesk.store.models import Feed, fits_url_column

log = logging.getLogger(__name__)

# A fetch refused by the host limiter is retried this soon (seconds, before jitter).
HOST_DEFER_SECONDS = 2.0

# The feed's reading rules, passed to parse_feed once it accepts them (the parsing branch adds
# ``date_zone`` and ``identity_rule``); until then they are simply not passed.


@dataclass
class IngestReport:
    feed_id: int
    outcome: str
    counts: dict[str, int] = field(default_factory=dict)
    enqueued: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class _FeedView:
    """What a fetch needs to know about its feed, read in one short transaction."""

    url: str
    etag: str | None
    last_modified: str | None
    language: str | None
    date_zone: str
    identity_rule: str
    full_text: bool
    interval_seconds: int
    websub_hub: str | None


_VIEW_COLUMNS = (Feed.url, Feed.etag, Feed.last_modified, Feed.language, Feed.date_zone,
                 Feed.identity_rule, Feed.full_text, Feed.interval_seconds, Feed.websub_hub)
# Statements built once, run with parameters: building one cost as much as running it.
_READ_VIEW = select(*_VIEW_COLUMNS).where(Feed.id == bindparam("feed_id"))


def _logged(url: str) -> str:
    return without_password(url, masked=True)  # a password never reaches a log line


def _decide(services: Services, interval: int, now: datetime,
            **kwargs: Any) -> schedule.Decision:
    config = services.config
    return schedule.next_fetch(
        now, interval=interval, max_delay=config.schedule_max_delay_seconds,
        backoff_max=config.backoff_max_seconds, jitter=config.schedule_jitter, **kwargs)


def ingest_feed(services: Services, feed_id: int, enqueue: Any = None) -> IngestReport:
    """Fetch one feed, store its entries, then (after commit) enqueue what is new or changed.

    The feed's lock and its host's slot are taken together in one Redis round trip, after the
    feed's row is read (a read taken just before another fetch's update only costs a 200 that
    the upsert then finds unchanged).
    """
    view = _read_feed(services, feed_id)
    if view is None:
        return IngestReport(feed_id, "missing")
    config = services.config
    with feed_slot(services.redis, keys.feed_fetch_lock(feed_id),
                   keys.FEED_FETCH_LOCK_TTL_SECONDS, view.url, config.host_max_concurrency,
                   config.host_max_per_second) as denied:
        if denied == "locked":
            metrics.FETCHES_SKIPPED.labels("locked").inc()
            return IngestReport(feed_id, "locked")
        if denied:
            metrics.FETCHES_SKIPPED.labels(denied).inc()
            _defer(services, feed_id, denied)
            return IngestReport(feed_id, "deferred", error=denied)
        return _fetch_and_store(services, feed_id, view, enqueue)


# Articles per ``pipeline.process_batch`` message: a feed's first fetch can bring hundreds; a
# batch must fit well inside one task's time limit and leave work for the other workers.
PROCESS_BATCH_SIZE = 25


def _enqueue_process(article_ids: list[str]) -> None:
    from wiredesk.pipeline.tasks import process, process_batch

    # One message per fetch, not per article: building and sending a Celery message cost more
    # than parsing the entry did. A lone article goes as a plain ``process`` message. A failed
    # send fails the task; the articles, committed already, are sent again by the reconciler.
    if len(article_ids) == 1:
        process.delay(article_ids[0])
        return
    for start in range(0, len(article_ids), PROCESS_BATCH_SIZE):
        batch = article_ids[start:start + PROCESS_BATCH_SIZE]
        # A short argsrepr (for logs and monitors): Celery's saferepr of the list cost more
        # than the rest of the message.
        process_batch.apply_async((batch,), argsrepr=f"([{batch[0]!r}, ...{len(batch)} ids],)")


def _enqueue_full_text(article_ids: list[str]) -> None:
    # Full text first; that task enqueues process once the article carries the page's text.
    for article_id in article_ids:
        full_text.delay(article_id)


def _read_feed(services: Services, feed_id: int) -> _FeedView | None:
    # One autocommit SELECT of the columns a fetch needs, not an ORM session around a full row.
    row = services.db.first(_READ_VIEW, {"feed_id": feed_id})
    return None if row is None else _FeedView(*row)


def _defer(services: Services, feed_id: int, reason: str) -> None:
    """The host is at its limit: due again in a moment, not counted as an error."""
    delay = HOST_DEFER_SECONDS * (1 + random.random())
    with services.db.autocommit() as conn:
        conn.execute(update(Feed).where(Feed.id == feed_id).values(
            next_fetch_at=datetime.now(UTC) + timedelta(seconds=delay), schedule_reason=reason))


def _fetch_and_store(services: Services, feed_id: int, view: _FeedView,
                     enqueue: Any) -> IngestReport:
    started = time.perf_counter()
    now = datetime.now(UTC)
    report = IngestReport(feed_id, "ok")
    try:
        result = fetch(shared_client(services.config), view.url, services.config, etag=view.etag,
                       last_modified=view.last_modified)
        metrics.FETCH_BYTES.inc(result.wire_bytes)
        metrics.DECODED_BYTES.inc(len(result.body))
        parsed = None
        if result.not_modified:
            report.outcome = "not_modified"
        elif result.no_content:
            pass  # "ok" with no entries: the stories stored stay as they are
        else:
            parsed = _parse(result.body, feed_id, result.url, result.headers, view, now)
        ttl = schedule.feed_ttl_seconds(parsed.meta.get("ttl")) if parsed else None
        decision = _decide(services, view.interval_seconds, now, ttl_seconds=ttl,
                           headers=result.headers, status=result.status)
        values = _success_values(result.headers, now, decision, result.not_modified)
        moved = bool(result.permanent_redirect) and result.permanent_redirect != view.url
        # A hub advertised, or one recorded that the feed may no longer advertise.
        hub = parsed is not None and (view.websub_hub is not None or websub.discover(
            parsed.meta, result.headers, view.url) is not None)
        hub_change = _HubChange()
        if parsed is None and not moved:
            # The common 304: one autocommit UPDATE of the schedule state, nothing re-read.
            if not services.db.rowcount(*_feed_update(feed_id, values)):
                return IngestReport(feed_id, "missing")
        elif not moved and not hub:
            # New entries, no redirect, no hub: the feed row is written, never loaded.
            with services.db.session() as session:
                if parsed is not None and parsed.title:
                    values["title"] = parsed.title
                # On the session's connection (same transaction), built once and run on the
                # driver as the 304 path's UPDATE is: the ORM's bulk UPDATE layer, which would
                # sync loaded Feed objects (there are none), and Core's cost more.
                # First in the transaction: it takes the feed's row lock before _store reads
                # the tombstones (see article_store.FEED_ROW_LOCK).
                if not services.db.rowcount(*_feed_update(feed_id, values),
                                            connection=session.connection()):
                    return IngestReport(feed_id, "missing")
                if parsed is not None:
                    _store(session, parsed, report)
        else:
            with services.db.session() as session:
                feed = session.get(Feed, feed_id, with_for_update=article_store.FEED_ROW_LOCK)
                if feed is None:
                    return IngestReport(feed_id, "missing")
                if parsed is not None:
                    _store(session, parsed, report)
                    feed.title = parsed.title or feed.title
                # An operator changed the URL while it was fetched: the validators, redirect
                # and hub are the old URL's (their URL is newer news, and this row lock
                # orders the two; the move dropped the old hub).
                moved_meanwhile = feed.url != view.url
                if moved_meanwhile:
                    values = {k: v for k, v in values.items()
                              if k not in ("etag", "last_modified")}
                _record_success(feed, values)
                if (result.permanent_redirect and result.permanent_redirect != feed.url
                        and not moved_meanwhile):
                    _record_redirect(session, feed, result.permanent_redirect, now)
                if parsed is not None and not moved_meanwhile:
                    hub_change = _note_hub(services, feed, parsed, result.headers, now)
        # Committed above: only now may workers see these ids.
        _after_commit(report, enqueue, view.full_text)
        if hub_change.leave is not None:
            leave_hub(HubLeft(feed_id, *hub_change.leave))
        if hub_change.subscribe:
            websub_subscribe.delay(feed_id)
    except (FetchError, ParseError) as exc:
        report.outcome, report.error = exc.outcome, str(exc)
        log.warning("feed %s (%s): %s: %s", feed_id, _logged(view.url), exc.outcome, exc)
        _record_failure(services, feed_id, exc.outcome, str(exc), now,
                        retry_after=getattr(exc, "retry_after", None),
                        status=getattr(exc, "status", None))
    except Exception as exc:
        # None of the sorted outcomes (a bug, a service down): counted as such, never as "ok",
        # and raised on for the task's retries.
        report.outcome, report.error = "error", f"{type(exc).__name__}: {exc}"
        log.exception("feed %s (%s): unexpected error: %s", feed_id, _logged(view.url),
                      report.error)
        # Still the feed's error: shown, counted as in error, and backed off like any other
        # (left alone, the claim would bring it back every lock TTL, whatever its interval).
        try:
            _record_failure(services, feed_id, "error", report.error, now)
        except Exception:  # noqa: BLE001 - the database may be what failed; raise the cause
            log.warning("feed %s: could not record its error", feed_id, exc_info=True)
        raise
    finally:
        metrics.FETCHES.labels(report.outcome).inc()
        metrics.FETCH_DURATION.observe(time.perf_counter() - started)
        for outcome, count in report.counts.items():
            metrics.ENTRIES.labels(outcome).inc(count)
    return report


def _parse(body: bytes, feed_id: int, url: str, headers: dict[str, str], view: _FeedView,
           now: datetime) -> ParsedFeed:
    parsed = parse_feed(body, feed_id=feed_id, url=url, headers=headers,
                        language_hint=view.language, fetched_at=now, zone=view.date_zone,
                        identity=view.identity_rule)
    for flag, count in parsed.date_flags.items():
        metrics.ENTRY_DATES.labels(flag).inc(count)
    return parsed


def _store(session: Any, parsed: ParsedFeed, report: IngestReport) -> None:
    outcomes = article_store.upsert_many(session, parsed.articles)
    for article, outcome in zip(parsed.articles, outcomes, strict=True):
        report.counts[outcome] = report.counts.get(outcome, 0) + 1
        if outcome in ("new", "updated"):  # not unchanged, capped, tombstoned or killed
            report.enqueued.append(article.id)
    if parsed.skipped:
        report.counts["invalid"] = parsed.skipped


def _after_commit(report: IngestReport, enqueue: Any, full_text_on: bool) -> None:
    if enqueue is None:
        enqueue = _enqueue_full_text if full_text_on else _enqueue_process
    enqueue(report.enqueued)


# A validator longer than its column is not kept (the next fetch is unconditional): stored, it
# would fail the fetch's transaction, and with it every entry, on every fetch.
_MAX_ETAG: int = Feed.__table__.c.etag.type.length
_MAX_LAST_MODIFIED: int = Feed.__table__.c.last_modified.type.length


def _success_values(headers: dict[str, str], now: datetime, decision: schedule.Decision,
                    not_modified: bool = False) -> dict[str, Any]:
    """The feed's columns after a successful fetch.

    Validators are those of the last full response: one it did not send is dropped (a stale
    ETag sent on as If-None-Match overrides If-Modified-Since, so no 304 would come again).
    A 304 keeps the stored ones unless it sends new ones."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values: dict[str, Any] = {
        "error_count": 0, "last_error": None, "last_fetched_at": now, "last_success_at": now,
        "next_fetch_at": decision.at, "schedule_reason": decision.reason}
    if not not_modified:
        values["etag"] = values["last_modified"] = None
    if lowered.get("etag") and len(lowered["etag"]) <= _MAX_ETAG:
        values["etag"] = lowered["etag"]
    if lowered.get("last-modified") and len(lowered["last-modified"]) <= _MAX_LAST_MODIFIED:
        values["last_modified"] = lowered["last-modified"]
    return values


@functools.cache
def _update_statement(columns: frozenset[str]) -> Any:
    # A handful of column sets occur (validators sent or not, a title or not): one each.
    return update(Feed).where(Feed.id == bindparam("feed_id_")).values(
        {name: bindparam(name) for name in columns})


def _feed_update(feed_id: int, values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """One UPDATE of the feed's row, and its parameters (it touches no row if the feed is gone)."""
    return _update_statement(frozenset(values)), {**values, "feed_id_": feed_id}


def _record_success(feed: Feed, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(feed, name, value)


def _record_redirect(session: Any, feed: Feed, new_url: str, now: datetime) -> None:
    """Follow a permanent redirect for good, unless another feed already has that URL."""
    if not fits_url_column(new_url):  # followed on each fetch instead
        log.warning("feed %s moved to a URL too long to record (%d characters); keeping its URL",
                    feed.id, len(new_url))
        return
    taken = session.scalar(select(Feed.id).where(Feed.url == new_url, Feed.id != feed.id))
    if taken is not None:
        log.warning("feed %s moved to %s, already feed %s; keeping its URL", feed.id,
                    _logged(new_url), taken)
        return
    log.info("feed %s moved permanently from %s to %s", feed.id, _logged(feed.url),
             _logged(new_url))
    feed.redirected_from, feed.redirected_at, feed.url = feed.url, now, new_url


def _record_failure(services: Services, feed_id: int, outcome: str, message: str,
                    now: datetime, retry_after: float | None = None,
                    status: int | None = None) -> None:
    with services.db.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return
        feed.error_count += 1
        feed.last_error = f"{outcome}: {message}"
        feed.last_error_at = now
        feed.last_fetched_at = now
        # ``retry_after``: what the server asked, in seconds (fetch reads both of its forms).
        decision = _decide(services, feed.interval_seconds, now, error_count=feed.error_count,
                           retry_after=retry_after, status=status)
        feed.next_fetch_at, feed.schedule_reason = decision.at, decision.reason


@dataclass
class _HubChange:
    """What a fetch asks of WebSub once its transaction commits."""

    subscribe: bool = False
    leave: tuple[str, str] | None = None  # (hub, topic) to unsubscribe from


def _note_hub(services: Services, feed: Feed, parsed: ParsedFeed, headers: dict[str, str],
              now: datetime) -> _HubChange:
    """Record the WebSub hub a feed advertises (or that it advertises none now)."""
    found = websub.discover(parsed.meta, headers, feed.url)
    advertised = (found.hub, found.topic) if found is not None else (None, None)
    websub_on = bool(services.config.websub_callback_base_url)
    change = _HubChange()
    if (feed.websub_hub, feed.websub_topic) != advertised:
        # Recorded even with WebSub off, so `feeds show` tells what is on offer. Left
        # subscribed, the old hub went on pushing into the feed what the feed itself no longer
        # said (and with a changed hub, its pushes passed with the secret both were given).
        if websub_on and feed.websub_hub and feed.websub_topic \
                and feed.websub_state in ("pending", "subscribed"):
            change.leave = (feed.websub_hub, feed.websub_topic)
            log.info("feed %s %s WebSub hub %s: unsubscribing; polling carries on", feed.id,
                     "changed its" if found else "no longer advertises", _logged(feed.websub_hub))
        feed.websub_hub, feed.websub_topic = advertised
        feed.websub_state, feed.websub_lease_expires_at = None, None
        feed.websub_secret, feed.websub_requested_at = None, None
        change.subscribe = found is not None
    elif found is not None and websub_on and feed.enabled:
        change.subscribe = websub.renewal_due(feed, now, services.config)
        if change.subscribe:
            feed.websub_requested_at = now  # claimed, as websub_renewals claims
    change.subscribe &= websub_on and feed.enabled
    return change


def due_feed_ids(services: Services, now: datetime, limit: int = 500) -> list[int]:
    """Claim up to ``limit`` enabled feeds whose next fetch time has come."""
    with services.db.session() as session:
        feeds = list(session.scalars(
            select(Feed)
            .where(Feed.enabled.is_(True),
                   or_(Feed.next_fetch_at.is_(None), Feed.next_fetch_at <= now))
            .order_by(Feed.next_fetch_at)
            .limit(limit)
            # Two schedulers (a second beat by mistake) claim disjoint feeds, never wait.
            .with_for_update(skip_locked=True)
        ))
        # Claimed: not due again until the fetch reschedules it (or a lock TTL's worth passes).
        for feed in feeds:
            if feed.next_fetch_at is not None:
                metrics.DUE_LAG.observe(max(0.0, (now - feed.next_fetch_at).total_seconds()))
            feed.next_fetch_at = now + timedelta(seconds=keys.FEED_FETCH_LOCK_TTL_SECONDS)
        return [feed.id for feed in feeds]


def websub_renewals(services: Services, now: datetime) -> list[int]:
    """Claim the feeds whose WebSub subscription should be asked for again now.

    Claimed as due feeds are: the request is recorded as made (``websub_requested_at``) in the
    same transaction, so the next beat tick, a fetch of the feed or a second scheduler does not
    send another while the first message waits in a backed-up queue."""
    config = services.config
    if not config.websub_callback_base_url:
        return []
    with services.db.session() as session:
        hubs = select(Feed).where(Feed.enabled.is_(True), Feed.websub_hub.is_not(None))
        due = [f.id for f in session.scalars(hubs) if websub.renewal_due(f, now, config)]
        if not due:
            return []
        # Only the due rows are locked, and re-checked once locked; a row another scheduler
        # or a fetch holds is theirs to renew.
        claimed = []
        for feed in session.scalars(hubs.where(Feed.id.in_(due)).order_by(Feed.id)
                                    .with_for_update(skip_locked=True)
                                    .execution_options(populate_existing=True)):
            if websub.renewal_due(feed, now, config):
                feed.websub_requested_at = now
                claimed.append(feed.id)
        return claimed


@wiredesk_task(queue="ingest", name="ingest.schedule")
def schedule_due(self: Any) -> int:
    """Beat: enqueue a fetch for every feed that is due, and any WebSub renewal."""
    now = datetime.now(UTC)
    ids = due_feed_ids(self.wiredesk, now)
    for feed_id in ids:
        fetch_feed.delay(feed_id)
    for feed_id in websub_renewals(self.wiredesk, now):
        websub_subscribe.delay(feed_id)
    return len(ids)


@wiredesk_task(queue="ingest", name="ingest.fetch_feed")
def fetch_feed(self: Any, feed_id: int) -> str:
    """Fetch one feed; errors are the feed's state (backoff), not task failures."""
    return ingest_feed(self.wiredesk, feed_id).outcome


def apply_full_text(services: Services, article_id: str) -> str:
    """Replace an article's body with its page's main text; the content hash stays the feed's.
    "processed": the pipeline has it already (see ``_store_full_text``), no page is fetched."""
    from wiredesk.pipeline.tasks import PENDING_STATUSES

    with services.db.session() as session:
        row = session.get(models.Article, article_id)
        if row is None or not row.url:
            return "missing"
        if row.status not in PENDING_STATUSES:
            return "processed"
        url = row.url
    config = services.config
    # Article pages usually live on the feed's host: they share its politeness budget.
    with host_slot(services.redis, url, config.host_max_concurrency,
                   config.host_max_per_second) as denied:
        if denied:
            metrics.FETCHES_SKIPPED.labels(denied).inc()
            return "deferred"
        try:
            extracted = fulltext.fetch_full_text(shared_client(services.config), url, config)
        except FetchError as exc:
            # The feed's own text stays; the article goes on through the pipeline regardless.
            log.info("full text of %s (%s): %s", article_id, _logged(url), exc)
            extracted, outcome = None, exc.outcome
        else:
            outcome = "ok" if extracted else "empty"
    metrics.FULL_TEXT.labels(outcome).inc()
    if extracted is not None:
        return _store_full_text(services, article_id, extracted) or outcome
    return outcome


def _store_full_text(services: Services, article_id: str, extracted: Any) -> str | None:
    """Put the page's text in the article unless the pipeline has read it already: then, if
    this message waited past the reconciler's patience, the article was sent on with the feed's
    text, and keeps the body its enrichment and status were computed from. "missing" when it
    is gone."""
    from wiredesk.pipeline.tasks import PENDING_STATUSES

    # The pipeline's own lock: held, a worker is at work on the feed's text; taken, no worker
    # starts reading before the page's text is committed (its message finds it busy and the
    # task sends the article on after this).
    lock = services.redis.lock(
        keys.article_process_lock(article_id),
        timeout=keys.article_process_lock_ttl(services.config.task_time_limit), blocking=False)
    if not lock.acquire():
        log.info("full text of %s: the pipeline has it already; the feed's text stays",
                 article_id)
        return None
    try:
        with services.db.session() as session:
            row = session.get(models.Article, article_id, with_for_update=True)
            if row is None:
                return "missing"
            if row.status not in PENDING_STATUSES:
                log.info("full text of %s: already %s with the feed's text, which stays",
                         article_id, row.status)
                return None
            # content_hash is left as the feed computed it: the next poll must see "unchanged".
            if len(extracted.text) > len(row.body_text or ""):
                row.body_html, row.body_text = extracted.html, extracted.text
    finally:
        try:
            lock.release()
        except LockError:  # expired meanwhile: the write it guarded is committed or undone
            pass
    return None


@wiredesk_task(queue="ingest", name="ingest.full_text")
def full_text(self: Any, article_id: str) -> str:
    """Fetch the article page for full text, then hand the article to the pipeline."""
    outcome = apply_full_text(self.wiredesk, article_id)
    if outcome == "deferred":
        # Its host is at its limit: try again shortly, without spending a retry.
        full_text.apply_async((article_id,), countdown=HOST_DEFER_SECONDS * (1 + random.random()))
    elif outcome not in ("missing", "processed"):
        _enqueue_process([article_id])
    return outcome


@wiredesk_task(queue="ingest", name="ingest.websub_subscribe")
def websub_subscribe(self: Any, feed_id: int) -> str:
    """Ask the feed's hub for a subscription (or its renewal)."""
    services: Services = self.wiredesk
    with services.db.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is None or not feed.websub_hub or not feed.websub_topic \
                or not services.config.websub_callback_base_url:
            return "skipped"
        feed.websub_requested_at = datetime.now(UTC)
        if feed.websub_state != "subscribed":
            feed.websub_state = "pending"
        if websub.secret_allowed(feed.websub_hub):
            feed.websub_secret = feed.websub_secret or websub.new_secret()
        else:
            # A plain-http hub is told no secret, and one it was told before (in clear) proves
            # nothing: its pushes only bring a poll forward (websub.ping_only).
            feed.websub_secret = None
        hub, topic, secret = feed.websub_hub, feed.websub_topic, feed.websub_secret
    # Back on the hub it left lately (a feed whose hub link came and went): an unsubscription
    # of this topic is no longer ours to confirm. Left for another hub, the old hub's still is,
    # and nothing in a verification tells the two hubs apart.
    leaving = keys.websub_leaving(feed_id, topic)
    if services.redis.get(leaving) == hub.encode():
        services.redis.delete(leaving)
    # Committed first: the hub may call back to verify before it even answers this request.
    try:
        websub.subscribe(shared_client(services.config), services.config, feed_id=feed_id, hub=hub,
                         topic=topic, secret=secret)
    except BlockedURL as exc:  # the hub, or where it redirected, is not to be reached
        log.warning("WebSub subscription of feed %s refused: %s", feed_id, exc)
        metrics.WEBSUB_SUBSCRIPTIONS.labels("blocked").inc()
        return "blocked"
    except Exception as exc:  # noqa: BLE001 - a hub failure must not stop polling
        log.warning("WebSub subscription of feed %s failed: %s", feed_id, exc)
        metrics.WEBSUB_SUBSCRIPTIONS.labels("error").inc()
        return "error"
    if secret is None:
        log.warning("WebSub hub %s of feed %s is plain http: subscribed without a secret, so "
                    "its pushes only bring the next poll forward", _logged(hub), feed_id)
        metrics.WEBSUB_SUBSCRIPTIONS.labels("requested_no_secret").inc()
        return "requested_no_secret"
    metrics.WEBSUB_SUBSCRIPTIONS.labels("requested").inc()
    return "requested"


@wiredesk_task(queue="ingest", name="ingest.websub_unsubscribe")
def websub_unsubscribe(self: Any, feed_id: int, hub: str, topic: str) -> str:
    """Ask ``hub`` to end feed ``feed_id``'s subscription to ``topic``, which the feed no longer
    advertises (its row has forgotten them: they travel in the message)."""
    services: Services = self.wiredesk
    if not services.config.websub_callback_base_url:
        return "skipped"
    with services.db.session() as session:
        advertised = session.execute(select(Feed.websub_hub, Feed.websub_topic)
                                     .where(Feed.id == feed_id)).first()
    if advertised is not None and tuple(advertised) == (hub, topic):
        # Advertised again since this message was queued (and subscribed again, by a later
        # fetch): leaving now would end that subscription.
        return "skipped"
    # Before the request: the hub may verify before it even answers.
    services.redis.set(keys.websub_leaving(feed_id, topic), hub.encode(),
                       ex=keys.WEBSUB_LEAVING_TTL_SECONDS)
    try:
        websub.subscribe(shared_client(services.config), services.config, feed_id=feed_id,
                         hub=hub, topic=topic, secret=None, mode="unsubscribe")
    except Exception as exc:  # noqa: BLE001 - its pushes are refused (410) all the same
        log.warning("WebSub unsubscription of feed %s from %s failed: %s", feed_id,
                    _logged(hub), exc)
        metrics.WEBSUB_SUBSCRIPTIONS.labels("unsubscribe_error").inc()
        return "error"
    metrics.WEBSUB_SUBSCRIPTIONS.labels("unsubscribe_requested").inc()
    return "requested"


def leave_hub(left: HubLeft, celery: Any = None) -> None:
    """After the commit that dropped a feed's hub (its document no longer names it, or an
    operator moved the feed): have ``websub_unsubscribe`` ask the hub to end the subscription,
    through ``celery`` (default: the worker's app). A broker hiccup must not undo the committed
    change: it logs (the hub's pushes are refused with 410 all the same)."""
    try:
        (celery or websub_unsubscribe.app).send_task(
            "ingest.websub_unsubscribe", args=[left.feed_id, left.hub, left.topic],
            queue="ingest")
    except Exception as exc:  # noqa: BLE001
        log.warning("could not ask to unsubscribe feed %s from %s: %s", left.feed_id,
                    _logged(left.hub), exc)


def store_push(services: Services, feed_id: int, body: bytes, enqueue: Any = None,
               headers: dict[str, str] | None = None) -> IngestReport:
    """A pushed feed document goes through the same parse and upsert as a fetched one;
    ``headers``: the push's (``websub.push_headers``)."""
    view = _read_feed(services, feed_id)
    if view is None:
        return IngestReport(feed_id, "missing")
    now = datetime.now(UTC)
    report = IngestReport(feed_id, "ok")
    try:
        parsed = _parse(body, feed_id, view.url, headers or {}, view, now)
    except ParseError as exc:  # accepted by the callback, its entries lost until the next poll
        report.outcome, report.error = exc.outcome, str(exc)
        log.warning("WebSub push for feed %s: %s: %s", feed_id, exc.outcome, exc)
        metrics.WEBSUB_PUSHES.labels("unparsable").inc()
        return report
    with services.db.session() as session:
        feed = session.get(Feed, feed_id, with_for_update=article_store.FEED_ROW_LOCK)
        if feed is None:
            return IngestReport(feed_id, "missing")
        _store(session, parsed, report)
        feed.title = parsed.title or feed.title
        feed.websub_last_push_at = now
    _after_commit(report, enqueue, view.full_text)
    for outcome, count in report.counts.items():
        metrics.ENTRIES.labels(outcome).inc(count)
    return report


def save_push(redis_client: Any, body: bytes) -> str:
    """Park a pushed body in Redis for the ingest worker; returns its id."""
    push_id = uuid.uuid4().hex
    redis_client.set(keys.websub_push(push_id), body, ex=keys.WEBSUB_PUSH_TTL_SECONDS)
    return push_id


@wiredesk_task(queue="ingest", name="ingest.websub_push")
def websub_push(self: Any, feed_id: int, push_id: str,
                headers: dict[str, str] | None = None) -> str:
    """Parse and store a pushed document (its body waits in Redis under ``push_id``; its
    Content-Type and Content-Language come in ``headers``)."""
    services: Services = self.wiredesk
    body = services.redis.get(keys.websub_push(push_id))
    if body is None:
        return "gone"  # done already, or expired: polling catches up
    report = store_push(services, feed_id, body if isinstance(body, bytes) else body.encode(),
                        headers=headers)
    services.redis.delete(keys.websub_push(push_id))
    return report.outcome
