"""The publisher as a WebSub hub for its own feeds: where subscribers find it, and which URLs
are topics they may subscribe to. Pushing is the ``deliver`` service's (``wiredesk.deliver``)."""

from __future__ import annotations

HUB_PATH = "/websub/hub"


def hub_url(base_url: str) -> str:
    """The hub endpoint every feed advertises (``rel="hub"``)."""
    return base_url.rstrip("/") + HUB_PATH


def link_header(hub: str, topic: str) -> str:
    """WebSub discovery (section 4): the hub and the topic's own URL, as an HTTP Link header."""
    return f'<{hub}>; rel="hub", <{topic}>; rel="self"'
