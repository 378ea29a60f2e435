"""Pushing stories to subscribers: a story the real pipeline publishes or corrects reaches each
subscriber whose feed holds it, once per story version, signed when they gave a secret; a
callback failing is retried with backoff, then given up on; 410 ends the subscription; an
expired lease receives nothing. Real deliver worker, real HTTP to a loopback subscriber."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
from sqlalchemy import select

from tests.deliver.conftest import BASE
from tests.deliver.subscriber import Subscriber
from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force, store_sample_article, wait_until
from wiredesk.deliver.tasks import fan_out_story, push_delivery
from wiredesk.identity import content_hash
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import articles as article_store
from wiredesk.store import subscriptions
from wiredesk.store.models import HubDelivery, HubSubscription, Story


def subscribed(database: Any, callback: str, topic: str = "/feeds/all.atom",
               secret: str | None = "s3cret", lease: timedelta = timedelta(days=1)) -> int:
    """An active subscription, as a verified request leaves it."""
    with database.session() as session:
        pending = subscriptions.request(session, mode="subscribe", topic=BASE + topic,
                                        callback=callback, secret=secret,
                                        lease_seconds=int(lease.total_seconds()))
        assert pending is not None
        row = session.get(HubSubscription, pending.subscription_id)
        subscriptions.verified(row, datetime.now(UTC))
        return pending.subscription_id


def published_sample(celery_app: Any, database: Any) -> Any:
    put_rules_in_force(database, PUBLISH_EVERYTHING)
    article = store_sample_article(database)
    assert process_article(celery_app.wiredesk, article.id) == "published"
    return article


def deliveries(database: Any) -> list[HubDelivery]:
    with database.session() as session:
        rows = list(session.scalars(select(HubDelivery).order_by(HubDelivery.id)))
        session.expunge_all()
        return rows


def state(database: Any, subscription_id: int) -> str:
    with database.session() as session:
        return session.get(HubSubscription, subscription_id).state  # type: ignore[union-attr]


def test_a_published_then_corrected_story_is_pushed_signed_once_per_version(
        celery_app: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    subscribed(database, subscriber.url())
    article = published_sample(celery_app, database)
    (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the push")
    expected = hmac.new(b"s3cret", push.body, hashlib.sha256).hexdigest()
    assert push.headers["X-Hub-Signature"] == f"sha256={expected}"
    assert push.headers["Content-Type"] == "application/atom+xml"
    assert f'<{BASE}/websub/hub>; rel="hub"' in push.headers["Link"]
    assert f'<{BASE}/feeds/all.atom>; rel="self"' in push.headers["Link"]
    (entry,) = feedparser.parse(push.body).entries
    assert entry.title == article.title
    wait_until(lambda: deliveries(database)[0].status == "delivered", timeout=10,
               message="the delivery recorded")

    # Announced again (a redelivered message, a pipeline run that died after its commit):
    # this version has its delivery already.
    with database.session() as session:
        story_id = session.get(HubDelivery, deliveries(database)[0].id).story_id
    assert fan_out_story(celery_app.wiredesk, story_id) == []

    revised = article.replace(title="Corrected: " + article.title,
                              content_hash=content_hash("Corrected", article.body_text))
    with database.session() as session:
        assert article_store.upsert(session, revised) == "updated"
    assert process_article(celery_app.wiredesk, article.id) == "corrected"
    wait_until(lambda: len(subscriber.pushes) == 2, timeout=20, message="the correction")
    assert feedparser.parse(subscriber.pushes[1].body).entries[0].title.startswith("Corrected")
    assert [d.story_version for d in deliveries(database)] == [1, 2]


def test_each_subscriber_gets_the_feeds_it_asked_for(
        celery_app: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    subscribed(database, subscriber.url("/json"), topic="/feeds/all.json", secret=None)
    subscribed(database, subscriber.url("/french"), topic="/feeds/lang/fr.rss")
    subscribed(database, subscriber.url("/english"), topic="/feeds/lang/en.rss")
    article = published_sample(celery_app, database)
    wait_until(lambda: len(subscriber.pushes) >= 2, timeout=20, message="two pushes")
    # Made together before any push: a third (the French feed's) would be here already.
    assert len(deliveries(database)) == 2
    pushes = {p.path: p for p in subscriber.pushes}
    assert set(pushes) == {"/json", "/english"}
    assert "X-Hub-Signature" not in pushes["/json"].headers  # no secret, no signature
    assert json.loads(pushes["/json"].body)["items"][0]["title"] == article.title
    assert feedparser.parse(pushes["/english"].body).entries[0].title == article.title


def test_a_failing_callback_is_retried_then_given_up_on(
        celery_app: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    """Test config: 2 retries. 500, 503, then 204: delivered on the third attempt; a later
    story failing three times leaves the subscription ``failing``."""
    subscription_id = subscribed(database, subscriber.url())
    subscriber.push_statuses = [500, 503]
    published_sample(celery_app, database)
    wait_until(lambda: deliveries(database) and deliveries(database)[0].status == "delivered",
               timeout=30, message="delivered after retries")
    assert len(subscriber.pushes) == 3 and deliveries(database)[0].attempts == 3
    assert state(database, subscription_id) == "active"

    subscriber.push_statuses = [500, 500, 302]
    with database.session() as session:
        story_id = deliveries(database)[0].story_id
        session.get(HubDelivery, deliveries(database)[0].id).story_version = 0  # "another"
    fan_out_story(celery_app.wiredesk, story_id)
    wait_until(lambda: state(database, subscription_id) == "failing", timeout=30,
               message="given up")
    failed = [d for d in deliveries(database) if d.status == "failed"]
    assert len(failed) == 1 and "302" in failed[0].last_error
    assert len(subscriber.pushes) == 6


def test_a_callbacks_retry_after_is_honoured_up_to_the_longest_backoff(
        celery_app: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    """A callback answering 429 or 503 with Retry-After is tried again no sooner than it
    asked (at most the longest backoff, 300 s, after which the reconciler would take the
    delivery for lost). Before, the backoff alone decided: 0-2 s, then 0-4 s."""
    from celery.signals import task_retry

    waits: list[float] = []

    def record(sender: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(sender, "name", "") == "deliver.push":
            waits.append(float(reason.when))

    task_retry.connect(record, weak=False)
    try:
        subscribed(database, subscriber.url())
        subscriber.push_statuses = [(503, {"Retry-After": "3"}),
                                    (429, {"Retry-After": "86400"})]
        published_sample(celery_app, database)
        wait_until(lambda: len(waits) == 2, timeout=30, message="two retries")
    finally:
        task_retry.disconnect(record)
    assert waits[0] >= 3 and waits[1] == 300
    assert len(subscriber.pushes) == 2


def test_410_ends_the_subscription(celery_app: Any, deliver_worker: Any, database: Any,
                                   subscriber: Subscriber) -> None:
    subscription_id = subscribed(database, subscriber.url())
    subscriber.push_statuses = [410]
    published_sample(celery_app, database)
    wait_until(lambda: state(database, subscription_id) == "gone", timeout=20, message="gone")
    assert [d.status for d in deliveries(database)] == ["gone"]
    assert len(subscriber.pushes) == 1  # never retried


def test_an_expired_lease_receives_nothing(celery_app: Any, database: Any) -> None:
    """Decisions only (no worker): a delivery made before the lease ran out is skipped, never
    sent, and an expired subscription gets no delivery of the next version."""
    subscription_id = subscribed(database, "http://127.0.0.1:9/cb")
    published_sample(celery_app, database)
    with database.session() as session:
        story_id = session.scalars(select(Story.id)).one()
    (delivery_id,) = fan_out_story(celery_app.wiredesk, story_id)
    with database.session() as session:
        session.get(HubSubscription, subscription_id).expires_at = (  # type: ignore[union-attr]
            datetime.now(UTC) - timedelta(seconds=1))
    assert push_delivery(celery_app.wiredesk, delivery_id) == "skipped"
    with database.session() as session:
        session.get(HubDelivery, delivery_id).story_version = 0  # type: ignore[union-attr]
    assert fan_out_story(celery_app.wiredesk, story_id) == []
