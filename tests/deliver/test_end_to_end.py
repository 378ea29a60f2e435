"""WebSub push end to end, all over real HTTP on loopback: a subscriber reads a feed from the
running publisher, finds the hub in its Link header, subscribes there; the deliver worker (a
real Celery worker) verifies intent; a story published through the real pipeline arrives as a
signed push the subscriber checks with its secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import httpx
import pytest

from tests.deliver.subscriber import Subscriber
from tests.helpers import (
    PUBLISH_EVERYTHING,
    publisher_and_worker,
    put_rules_in_force,
    store_sample_article,
    wait_until,
)
from wiredesk.ingester import websub
from wiredesk.pipeline.tasks import process_article


@pytest.fixture
def stack(config: Any, database: Any, redis_client: Any) -> Iterator[dict[str, Any]]:
    """The publisher on a real port (its public URL), and a deliver worker on its config."""
    with publisher_and_worker(config, database, "deliver",
                              lambda c, base: c.replace(public_base_url=base)) as (base, app):
        yield {"base": base, "services": app.wiredesk}


def test_discover_subscribe_verify_publish_and_check_the_signature(
        stack: dict[str, Any], database: Any, subscriber: Subscriber) -> None:
    feed_url = f"{stack['base']}/feeds/lang/en.atom"
    served = httpx.get(feed_url)
    found = websub.discover(feedparser.parse(served.content).feed, served.headers, feed_url)
    assert found == websub.Discovery(hub=f"{stack['base']}/websub/hub", topic=feed_url)

    secret = "a subscriber's own secret"
    answer = httpx.post(found.hub, data={
        "hub.mode": "subscribe", "hub.topic": found.topic, "hub.callback": subscriber.url(),
        "hub.secret": secret, "hub.lease_seconds": "86400"})
    assert answer.status_code == 202
    (check,) = wait_until(lambda: subscriber.verifications, timeout=20, message="verification")
    assert (check["hub.mode"], check["hub.topic"]) == ("subscribe", feed_url)

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    article = store_sample_article(database)
    # Verified (the challenge echoed) before the story is out: it is pushed, not missed.
    wait_until(lambda: _active(database), timeout=20, message="the subscription in force")
    assert process_article(stack["services"], article.id) == "published"

    (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the push")
    # The subscriber's check, with the ingester's own verifier: the body is what we signed.
    assert websub.signature_valid(secret, push.body, push.headers["X-Hub-Signature"])
    assert not websub.signature_valid("another secret", push.body,
                                      push.headers["X-Hub-Signature"])
    pushed = feedparser.parse(push.body)
    assert [e.title for e in pushed.entries] == [article.title]
    assert websub.discover(pushed.feed, push.headers, "http://x/") == found


def _active(database: Any) -> bool:
    from sqlalchemy import select

    from wiredesk.store.models import HubSubscription

    with database.session() as session:
        return session.scalars(select(HubSubscription.state)).first() == "active"
