"""The WebSub callback (``/websub/<feed id>``): hubs verify intent with a GET and push content
with a signed POST. A push is parked in Redis and handed to an ingest worker by id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy import update

from wiredesk import keys, metrics
from wiredesk.ingester import websub
from wiredesk.ingester.fetch import FetchError, decode_capped
from wiredesk.store.feeds import MAX_FEED_ID
from wiredesk.store.models import Feed
from wiredesk.webops import celery_client

log = logging.getLogger(__name__)
websub_callback = Blueprint("websub_callback", __name__)


def _db() -> Any:
    return current_app.extensions["wiredesk_db"]


def _redis() -> redis.Redis:
    return current_app.extensions["wiredesk_redis"]  # type: ignore[no-any-return]


def _feed(session: Any, feed_id: int, **options: Any) -> Feed | None:
    # Past the id column's range the database refused the query (a 500): no such feed.
    return session.get(Feed, feed_id, **options) if feed_id <= MAX_FEED_ID else None


def _poll_soon(session: Any, feed: Feed) -> None:
    """A push nothing authenticates (a plain-http hub's) is a ping: the feed is polled soon,
    from its own URL, and the pushed body is not read as its entries. Not a failing feed: its
    backoff, or the Retry-After its server asked for, stands whoever pings (anyone can)."""
    at = websub.ping_fetch_at(feed, datetime.now(UTC))
    session.execute(update(Feed).where(Feed.id == feed.id, Feed.next_fetch_at > at,
                                       Feed.error_count == 0)
                    .values(next_fetch_at=at, schedule_reason="websub-ping"))


@websub_callback.get("/websub/<int:feed_id>")
def verify(feed_id: int) -> Response:
    leaving = request.args.get("hub.mode") == "unsubscribe" and bool(_redis().exists(
        keys.websub_leaving(feed_id, request.args.get("hub.topic", ""))))
    with _db().session() as session:
        feed = _feed(session, feed_id, with_for_update=True)
        status, body = websub.verify_intent(feed, request.args, datetime.now(UTC), leaving)
    return Response(body, status, mimetype="text/plain")


def _refused(feed_id: int, outcome: str, status: int, why: str) -> Response:
    log.warning("WebSub push for feed %s refused (%s): %s", feed_id, outcome, why)
    metrics.WEBSUB_PUSHES.labels(outcome).inc()
    return Response(f"{why}\n", status, mimetype="text/plain")


@websub_callback.post("/websub/<int:feed_id>")
def push(feed_id: int) -> Response:
    config = current_app.extensions["wiredesk_config"]
    cap = config.fetch_max_bytes
    if (request.content_length or 0) > cap:
        return _refused(feed_id, "too_large", 413, f"declared body exceeds {cap} bytes")
    raw = request.stream.read(cap + 1)
    if len(raw) > cap:
        return _refused(feed_id, "too_large", 413, f"body exceeds {cap} bytes")
    with _db().session() as session:
        feed = _feed(session, feed_id)
        known = feed is not None and feed.enabled
        secret = feed.websub_secret if known else None
        ping = known and websub.ping_only(feed)
        if not (ping or secret):
            metrics.WEBSUB_PUSHES.labels("unknown_feed").inc()
            return Response("unknown subscription\n", 410, mimetype="text/plain")
        topic = websub.pushed_topic(request.headers.getlist("Link"), feed.websub_topic or "")
        if topic is not None and not websub.same_topic(topic, feed.websub_topic or ""):
            # Another subscription's push (an old topic of the feed, at a hub that kept it):
            # 410 tells the hub to drop that one.
            return _refused(feed_id, "unknown_topic", 410, "not a topic of this subscription")
        if ping:
            _poll_soon(session, feed)
    if ping:
        metrics.WEBSUB_PUSHES.labels("ping").inc()
        return Response("", 202)
    if not websub.feed_media_type(request.headers.get("Content-Type")):
        return _refused(feed_id, "not_a_feed", 415,
                        f"{request.headers.get('Content-Type', '')[:100]!r} is not a feed")
    # Inflated under the same cap as a fetched feed: a gzip bomb stops there.
    try:
        body = decode_capped(raw, request.headers.get("Content-Encoding"), cap)
    except FetchError as exc:
        if exc.outcome == "too_large":
            return _refused(feed_id, "too_large", 413, str(exc))
        return _refused(feed_id, "bad_encoding", 415, str(exc))
    # Signed as sent, or as inflated (WebSub does not say which a compressing hub signs).
    signature = request.headers.get("X-Hub-Signature")
    if not (websub.signature_valid(secret, raw, signature)
            or body is not raw and websub.signature_valid(secret, body, signature)):
        # WebSub: a bad signature is ignored; a 2xx gives a forger no oracle.
        metrics.WEBSUB_PUSHES.labels("bad_signature").inc()
        return Response("", 202)
    from wiredesk.ingester.tasks import save_push

    push_id = save_push(_redis(), body)
    celery_client().send_task("ingest.websub_push", args=[feed_id, push_id], queue="ingest",
                              kwargs={"headers": websub.push_headers(request.headers)})
    metrics.WEBSUB_PUSHES.labels("accepted").inc()
    return Response("", 202)
