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
