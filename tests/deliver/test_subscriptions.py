"""Subscribing to the publisher's feeds: the hub endpoint answers 202 and the ``deliver``
worker verifies intent with the subscriber's callback (real HTTP on loopback); only an echoed
challenge puts a request in force. Refused requests are refused at once, with the reason."""

from __future__ import annotations

import gzip
import ipaddress
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.deliver.conftest import BASE
from tests.deliver.subscriber import Subscriber
from tests.helpers import celery_worker, wait_until
from wiredesk.publisher.hub import MAX_LEASE_SECONDS, MIN_LEASE_SECONDS, parse_request
from wiredesk.store.models import HubSubscription

TOPIC = f"{BASE}/feeds/all.atom"


def ask(client: Any, callback: str, mode: str = "subscribe", topic: str = TOPIC,
        **extra: str) -> Any:
    return client.post("/websub/hub", data={"hub.mode": mode, "hub.topic": topic,
                                            "hub.callback": callback, **extra})


def subscription(database: Any, callback: str) -> HubSubscription | None:
    with database.session() as session:
        return session.scalars(select(HubSubscription).where(
            HubSubscription.callback == callback)).first()


def settled(database: Any, callback: str) -> HubSubscription | None:
    """The subscription once no request of it waits for verification."""
    row = subscription(database, callback)
    return row if row is not None and row.request_id is None else None


def test_a_verified_subscription_is_in_force_with_its_lease(
        hub_client: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    callback = subscriber.url("/callback?feed=ours")
    response = ask(hub_client, callback, **{"hub.secret": "s3cret", "hub.lease_seconds": "3600"})
    assert response.status_code == 202
    row = wait_until(lambda: settled(database, callback), timeout=20, message="verification")
    assert (row.state, row.secret, row.lease_seconds) == ("active", "s3cret", 3600)
    assert timedelta(seconds=3500) < row.expires_at - datetime.now(UTC) <= timedelta(seconds=3600)
    (check,) = subscriber.verifications
    # The callback's own query is kept; ours follows it.
    assert check["feed"] == "ours" and check["path"] == "/callback"
    assert (check["hub.mode"], check["hub.topic"], check["hub.lease_seconds"]) == (
        "subscribe", TOPIC, "3600")
    assert check["hub.challenge"]

    assert ask(hub_client, callback, mode="unsubscribe").status_code == 202
    wait_until(lambda: (r := settled(database, callback)) and r.state == "unsubscribed",
               timeout=20, message="unsubscription")
    assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"


def test_a_callback_that_does_not_echo_the_challenge_subscribes_nothing(
        hub_client: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    subscriber.echo = False
    callback = subscriber.url()
    assert ask(hub_client, callback).status_code == 202
    row = wait_until(lambda: settled(database, callback), timeout=20, message="verification")
    assert row.state == "unverified" and row.expires_at is None
    assert "404" in row.last_error


def test_an_unconfirmed_unsubscription_leaves_the_subscription(
        hub_client: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    """Anyone may ask to unsubscribe a callback: only the callback's own confirmation ends it."""
    callback = subscriber.url()
    ask(hub_client, callback)
    wait_until(lambda: settled(database, callback), timeout=20, message="verification")
    subscriber.echo = False
    ask(hub_client, callback, mode="unsubscribe")
    wait_until(lambda: len(subscriber.verifications) == 2, timeout=20, message="second check")
    row = wait_until(lambda: settled(database, callback), timeout=20, message="refusal")
    assert row.state == "active"


@pytest.mark.parametrize(("form", "reason"), [
    ({"hub.mode": "publish"}, "hub.mode"),
    ({"hub.topic": "http://elsewhere.example/feeds/all.atom"}, "hub.topic"),
    ({"hub.topic": f"{BASE}/feeds/topic/99999999.atom"}, "hub.topic"),
    ({"hub.topic": f"{BASE}/feeds/all.html"}, "hub.topic"),
    ({"hub.topic": f"{BASE}/api/v1/stories"}, "hub.topic"),
    ({"hub.callback": "ftp://127.0.0.1/x"}, "hub.callback"),
    ({"hub.callback": "/relative"}, "hub.callback"),
    ({"hub.callback": "http://169.254.169.254/latest/meta-data/"}, "non-public"),
    ({"hub.callback": "http://10.0.0.8/cb"}, "non-public"),
    ({"hub.callback": "http://[::ffff:192.168.1.1]/cb"}, "non-public"),
    ({"hub.callback": "http://[fe80::1]/cb"}, "non-public"),
    ({"hub.secret": "x" * 200}, "hub.secret"),
    ({"hub.lease_seconds": "ten days"}, "hub.lease_seconds"),
    ({"hub.lease_seconds": "-5"}, "hub.lease_seconds"),
])
def test_bad_requests_are_refused_with_the_reason(hub_client: Any, database: Any,
                                                  form: dict[str, str], reason: str) -> None:
    """Decisions only: nothing connects to these addresses."""
    data = {"hub.mode": "subscribe", "hub.topic": TOPIC,
            "hub.callback": "http://127.0.0.1:9/cb", **form}
    response = hub_client.post("/websub/hub", data=data)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    with database.session() as session:
        assert session.scalars(select(HubSubscription)).first() is None


def test_loopback_callbacks_are_refused_unless_allowed(config: Any) -> None:
    """In production (no WIREDESK_FETCH_ALLOW_NETWORKS) the hub never calls the host itself."""
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": "http://127.0.0.1:8001/"}
    with pytest.raises(ValueError, match="non-public"):
        parse_request(form, config.replace(fetch_allow_networks=()))
    allowed = config.replace(fetch_allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    assert parse_request(form, allowed).callback == "http://127.0.0.1:8001/"


@pytest.mark.parametrize(("asked", "granted"), [
    ("", 10 * 86400), ("1", MIN_LEASE_SECONDS), ("999999999999", MAX_LEASE_SECONDS),
    ("86400", 86400)])
def test_leases_are_kept_within_bounds(config: Any, asked: str, granted: int) -> None:
    form = {"hub.mode": "subscribe", "hub.topic": f"{BASE}/feeds/lang/ar.rss",
            "hub.callback": "http://127.0.0.1/cb", "hub.lease_seconds": asked}
    assert parse_request(form, config).lease_seconds == granted


def test_a_callback_name_is_judged_where_it_is_connected_to(
        config: Any, database: Any, hub_client: Any, subscriber: Subscriber) -> None:
    """The hub endpoint resolves no name: a resolver slow on purpose held a publisher worker
    (two, by default) for each request, and the feeds stopped answering. The deliver worker's
    guarded connection judges the name instead: ``localhost`` is loopback, refused in
    production, and nothing reaches it."""
    from wiredesk.broker import create_celery

    production = config.replace(fetch_allow_networks=())
    hub_client.application.extensions["wiredesk_config"] = production
    callback = f"http://localhost:{subscriber.port}/callback"
    slow_name = "http://callback.invalid/cb"  # would fail (or hang) any resolution
    assert ask(hub_client, slow_name).status_code == 202
    assert ask(hub_client, callback).status_code == 202
    celery_app = create_celery(production)
    celery_app.wiredesk.__dict__["db"] = database
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        row = wait_until(lambda: settled(database, callback), timeout=20, message="refusal")
        wait_until(lambda: settled(database, slow_name), timeout=20, message="no such name")
    assert row.state == "unverified" and "SSRF guard" in row.last_error
    assert subscriber.verifications == []


def test_a_callback_with_a_fragment_is_verified(
        hub_client: Any, deliver_worker: Any, database: Any, subscriber: Subscriber) -> None:
    """A fragment is never sent to a server: our parameters went after it, the callback got
    none of them, and could not echo the challenge."""
    callback = subscriber.url("/callback?feed=1#wiredesk")
    assert ask(hub_client, callback).status_code == 202
    row = wait_until(lambda: settled(database, callback), timeout=20, message="verification")
    assert row.state == "active"
    assert subscriber.verifications[0]["feed"] == "1"


BOMB = gzip.compress(b"\0" * 100_000_000)  # ~100 KB sent, 100 MB inflated


def verification_row(callback: str) -> HubSubscription:
    return HubSubscription(callback=callback, topic=TOPIC, request_mode="subscribe",
                           request_lease_seconds=3600)


def test_a_callback_answering_with_a_gzip_bomb_is_not_inflated(
        config: Any, subscriber: Subscriber) -> None:
    # The verification's answer was read with httpx's iter_bytes, which inflates each chunk
    # received whole before the cap is looked at: ~1000 times a chunk in the deliver worker.
    from wiredesk.deliver.tasks import ask_callback
    from wiredesk.ingester.fetch import make_client

    subscriber.verify_answer = (BOMB, {"Content-Encoding": "gzip"})
    with make_client(config) as client:
        tracemalloc.start()
        try:
            why_not = ask_callback(client, verification_row(subscriber.url()), "challenge")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 5_000_000, peak
    assert why_not is not None and "too long" in why_not


def test_a_compressed_echo_of_the_challenge_verifies(config: Any, subscriber: Subscriber) -> None:
    from wiredesk.deliver.tasks import ask_callback
    from wiredesk.ingester.fetch import make_client

    subscriber.verify_answer = (gzip.compress(b"challenge\n"), {"Content-Encoding": "gzip"})
    with make_client(config) as client:
        assert ask_callback(client, verification_row(subscriber.url()), "challenge") is None
