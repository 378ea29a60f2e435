"""The deliver reconciler (beat): a push or an announcement whose message Redis lost still
reaches the subscriber, and deliveries that ended long ago are pruned. Before, a lost message
was a story the subscriber never got, and hub_deliveries grew by a row per subscriber and story
version for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.deliver.conftest import BASE
from tests.deliver.subscriber import Subscriber
from tests.deliver.test_push import deliveries, published_sample, subscribed
from tests.helpers import celery_worker, wait_until
from wiredesk.deliver.tasks import KEEP_DELIVERIES, reconcile_deliveries, stuck_after
from wiredesk.store import subscriptions
from wiredesk.store.models import HubDelivery, Story


def _story_id(database: Any) -> str:
    with database.session() as session:
        return session.scalars(select(Story.id)).one()


def test_a_lost_push_is_sent_again_once(celery_app: Any, database: Any, redis_client: Any,
                                        subscriber: Subscriber) -> None:
    services = celery_app.wiredesk
    published_sample(celery_app, database)
    redis_client.delete("deliver")  # its announcement: not this test's business
    subscription_id = subscribed(database, subscriber.url())
    with database.session() as session:  # made, and its message lost
        (delivery_id,) = subscriptions.new_deliveries(session, _story_id(database), 1,
                                                      [subscription_id])
    now = datetime.now(UTC)
    assert reconcile_deliveries(services, now)["resent"] == 0  # it may still be on its way
    later = now + stuck_after(services.config) + timedelta(seconds=1)
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        assert reconcile_deliveries(services, later)["resent"] == 1
        wait_until(lambda: deliveries(database)[0].status == "delivered", timeout=20,
                   message="the push sent again")
    assert len(subscriber.pushes) == 1 and deliveries(database)[0].id == delivery_id


def test_a_lost_announcement_is_made_again(celery_app: Any, database: Any, redis_client: Any,
                                           subscriber: Subscriber) -> None:
    services = celery_app.wiredesk
    subscribed(database, subscriber.url())
    published_sample(celery_app, database)  # announced while no deliver worker runs...
    assert redis_client.llen("deliver") == 1
    redis_client.delete("deliver")  # ...and the message lost with Redis
    with database.session() as session:
        updated_at = session.get(Story, _story_id(database)).updated_at  # type: ignore[union-attr]
    when = updated_at + stuck_after(services.config) + timedelta(seconds=1)
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        assert reconcile_deliveries(services, when)["announced"] == 1
        wait_until(lambda: subscriber.pushes, timeout=20, message="the push")
        # Announced again on the next tick: the delivery exists, nothing more is sent.
        later = when + timedelta(seconds=services.config.reconcile_every_seconds)
        assert reconcile_deliveries(services, later)["announced"] == 0
    assert [d.status for d in deliveries(database)] == ["delivered"]


def test_deliveries_that_ended_long_ago_are_pruned(celery_app: Any, database: Any) -> None:
    services = celery_app.wiredesk
    published_sample(celery_app, database)
    subscription_ids = [subscribed(database, f"http://127.0.0.1:9/{n}") for n in range(3)]
    with database.session() as session:
        made = subscriptions.new_deliveries(session, _story_id(database), 1, subscription_ids)
        old, recent, waiting = (session.get(HubDelivery, i) for i in made)
        long_ago = datetime.now(UTC) - KEEP_DELIVERIES - timedelta(hours=1)
        old.status, old.created_at = "delivered", long_ago  # type: ignore[union-attr]
        recent.status = "failed"  # type: ignore[union-attr]
        waiting.created_at = long_ago  # type: ignore[union-attr]
    assert reconcile_deliveries(services, datetime.now(UTC))["pruned"] == 1
    assert sorted(d.id for d in deliveries(database)) == sorted(made[1:])


def test_a_lost_push_is_sent_again_once_per_horizon(celery_app: Any, database: Any,
                                                    redis_client: Any) -> None:
    """No worker: the message sent again waits in the queue, and is not sent a third time."""
    services = celery_app.wiredesk
    published_sample(celery_app, database)
    subscription_id = subscribed(database, "http://127.0.0.1:9/cb")
    with database.session() as session:
        subscriptions.new_deliveries(session, _story_id(database), 99, [subscription_id])
        # Long announced (not the reconciler's business at ``later``).
        session.get(Story, _story_id(database)).updated_at -= timedelta(hours=1)  # type: ignore[union-attr]
    redis_client.delete("deliver")
    later = datetime.now(UTC) + stuck_after(services.config) + timedelta(seconds=1)
    assert reconcile_deliveries(services, later)["resent"] == 1
    assert reconcile_deliveries(services, later)["resent"] == 0
    assert redis_client.llen("deliver") == 1


def test_subscriptions_ended_longer_than_the_grace_are_pruned(celery_app: Any,
                                                             database: Any) -> None:
    """A lease over (or an unsubscription, a 410, a request never verified) longer ago than
    the grace: the row and its deliveries go. Before, every subscription ever made stayed."""
    from wiredesk.deliver.tasks import ENDED_SUBSCRIPTION_GRACE
    from wiredesk.store.models import HubSubscription

    services = celery_app.wiredesk
    now = datetime.now(UTC)
    long_ago = now - ENDED_SUBSCRIPTION_GRACE - timedelta(hours=1)
    ids = {name: subscribed(database, f"http://127.0.0.1:9/{name}") for name in (
        "expired", "lapsed", "renewing", "unsubscribed", "running", "gone")}
    with database.session() as session:
        never = subscriptions.request(session, mode="subscribe", topic=f"{BASE}/feeds/all.atom",
                                      callback="http://127.0.0.1:9/never", lease_seconds=600)
        assert never is not None
        ids["never verified"] = never.subscription_id
        rows = {name: session.get(HubSubscription, i) for name, i in ids.items()}
        rows["expired"].expires_at = long_ago  # over, and the grace too: pruned
        rows["lapsed"].expires_at = now - timedelta(hours=1)  # within the grace: kept
        rows["renewing"].expires_at = long_ago  # a renewal waits for its verification: kept
        subscriptions.request(session, mode="subscribe", topic=rows["renewing"].topic,
                              callback=rows["renewing"].callback, lease_seconds=600)
        rows["unsubscribed"].state, rows["unsubscribed"].expires_at = "unsubscribed", None
        rows["unsubscribed"].requested_at = long_ago  # pruned
        rows["gone"].state, rows["gone"].expires_at = "gone", long_ago  # pruned
        rows["never verified"].requested_at = long_ago  # its verification lost: pruned
        subscriptions.new_deliveries(session, "s1-" + "0" * 32, 1, [ids["expired"]])
    assert reconcile_deliveries(services, now)["subscriptions_pruned"] == 4
    with database.session() as session:
        left = {name for name, i in ids.items() if session.get(HubSubscription, i)}
    assert left == {"lapsed", "renewing", "running"}
    assert deliveries(database) == []


def test_a_kill_whose_announcement_was_lost_is_still_pushed_days_later(
        celery_app: Any, database: Any, redis_client: Any, subscriber: Subscriber) -> None:
    """Kills are the legal case: a kill announced while the broker was down for longer than
    the reconciler's band after its horizon still reaches subscribers, up to a week on."""
    from tests.deliver.test_kills import assert_tells_of_the_kill, quiet_published
    from wiredesk.store import stories as story_store

    services = celery_app.wiredesk
    _, story_id = quiet_published(celery_app, database, redis_client)
    subscribed(database, subscriber.url(), lease=timedelta(days=30))
    with database.session() as session:
        story_store.kill(session, story_id, "editor", "the minister never said it")
    redis_client.delete("deliver")  # the kill's announcement, lost with Redis
    with database.session() as session:
        killed_at = session.get(Story, story_id).killed_at  # type: ignore[union-attr]
    days_later = killed_at + timedelta(days=3)
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        assert reconcile_deliveries(services, days_later)["announced"] == 1
        (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the tombstone")
        assert reconcile_deliveries(services, days_later)["announced"] == 0  # made once
    assert_tells_of_the_kill(push, story_id)
    a_week_later = killed_at + timedelta(days=8)
    assert reconcile_deliveries(services, a_week_later)["announced"] == 0
