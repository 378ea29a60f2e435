"""The publisher as a WebSub hub for its own feeds: discovery (Link headers and in-document
hub links) and the hub endpoint's answers to subscription requests."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from wiredesk.ingester import websub

BASE = "http://127.0.0.1:8000"
HUB = f"{BASE}/websub/hub"


@pytest.mark.parametrize("path", [
    "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/topic/04000000.atom",
    "/feeds/topic/medtop:15000000.rss", "/feeds/lang/ar.json", "/feeds/lang/en-GB.atom",
])
def test_feeds_advertise_the_hub_and_their_topic(publisher: Any, path: str) -> None:
    """A subscriber (ours among them) finds the hub and the topic to subscribe to: before, the
    feeds named no hub and consumers could only poll."""
    response = publisher.get(path)
    assert response.status_code == 200
    links = websub._header_links(response.headers["Link"])  # noqa: SLF001 - the parser we ship
    assert links == {"hub": HUB, "self": f"{BASE}{path}"}
    if path.endswith(".json"):
        assert response.get_json()["hubs"] == [{"type": "WebSub", "url": HUB}]
        return
    meta = feedparser.parse(response.data).feed
    # What our own ingester reads from the document alone (no Link header): the same pair.
    assert websub.discover(meta, None, "http://elsewhere.example/") == websub.Discovery(
        hub=HUB, topic=f"{BASE}{path}")
    assert publisher.get(path, headers={"If-None-Match": response.headers["ETag"]}
                         ).headers["Link"] == response.headers["Link"]


def _hub_app(config: Any, database: Any, **settings: Any) -> Any:
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(**settings))
    app.extensions["wiredesk_db"] = database
    return app.test_client()


def _ask(client: Any, address: str, **headers: str) -> Any:
    return client.post("/websub/hub", data={
        "hub.mode": "subscribe", "hub.topic": f"{BASE}/feeds/all.atom",
        "hub.callback": "http://127.0.0.1:9/cb"}, headers=headers,
        environ_base={"REMOTE_ADDR": address})


def test_the_hub_takes_so_many_requests_a_minute_from_one_address(
        config: Any, database: Any, redis_client: Any) -> None:
    """Each accepted request costs a GET of the callback: past the limit one address (an IPv6
    /64) gets 429 with Retry-After, another is still served. Before, nothing limited them."""
    from prometheus_client import REGISTRY

    from wiredesk import keys

    def throttled() -> float:
        return REGISTRY.get_sample_value("wiredesk_publisher_hub_requests_total",
                                         {"outcome": "throttled"}) or 0

    client = _hub_app(config, database, hub_max_requests_per_minute=3)
    assert [_ask(client, "127.0.0.2").status_code for _ in range(3)] == [202] * 3
    before = throttled()
    refused = _ask(client, "127.0.0.2")
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= keys.HUB_REQUESTS_WINDOW_SECONDS
    assert throttled() == before + 1
    assert _ask(client, "127.0.0.3").status_code == 202
    key = keys.hub_requests("127.0.0.2")
    assert key.startswith("wiredesk:") and 0 < redis_client.ttl(key) <= 60

    for n in range(3):  # one subscriber's /64, whichever address it takes in it
        assert _ask(client, f"2001:db8::{n + 1}").status_code == 202
    assert _ask(client, "2001:db8::ffff").status_code == 429
    assert _ask(client, "2001:db8:0:1::1").status_code == 202


def test_behind_a_proxy_the_hub_counts_the_address_it_forwards(
        config: Any, database: Any, redis_client: Any) -> None:
    client = _hub_app(config, database, hub_max_requests_per_minute=1,
                      publisher_trusted_proxies=1)
    assert _ask(client, "10.0.0.1", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 202
    assert _ask(client, "10.0.0.1", **{"X-Forwarded-For": "198.51.100.8"}).status_code == 202
    assert _ask(client, "10.0.0.1", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    unlimited = _hub_app(config, database, hub_max_requests_per_minute=0)
    assert {_ask(unlimited, "127.0.0.4").status_code for _ in range(5)} == {202}
