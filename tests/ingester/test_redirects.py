"""Permanent redirects move a feed for good and are recorded; temporary ones do not."""

from __future__ import annotations

from typing import Any

from wiredesk.broker import create_celery
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.tasks import ingest_feed
from wiredesk.store.feeds import feed_to_dict, put_feed
from wiredesk.store.models import Feed

GOOD = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()


def redirect(code: int, to: str) -> Any:
    def handler(h: Any) -> None:
        h.send_response(code)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handler


def test_permanent_redirect_is_followed_and_recorded(config: Any, database: Any,
                                                     redis_client: Any, feed_server: Any) -> None:
    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database
    new_url = feed_server.serve("/new.xml", GOOD)
    feed_server.routes["/old.xml"] = redirect(301, "/new.xml")
    feed_server.routes["/moving.xml"] = redirect(302, "/new2.xml")
    feed_server.serve("/new2.xml", GOOD)
    with database.session() as session:
        moved = put_feed(session, {"url": feed_server.url("/old.xml")}).id
        temporary = put_feed(session, {"url": feed_server.url("/moving.xml")}).id

    assert ingest_feed(app.wiredesk, moved, enqueue=list).outcome == "ok"
    assert ingest_feed(app.wiredesk, temporary, enqueue=list).outcome == "ok"
    with database.session() as session:
        state = feed_to_dict(session.get(Feed, moved))
        assert state["url"] == new_url
        assert state["state"]["redirected_from"] == feed_server.url("/old.xml")
        assert state["state"]["redirected_at"]
        kept = session.get(Feed, temporary)
        assert (kept.url, kept.redirected_from) == (feed_server.url("/moving.xml"), None)
    # The next poll goes straight to the new address.
    ingest_feed(app.wiredesk, moved, enqueue=list)
    assert feed_server.statuses("/old.xml") == [301]
