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


def test_a_feed_removed_while_it_is_fetched_is_reported_missing(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    """Both stores of a fetch's outcome (the 304 UPDATE, the new entries' transaction) find
    the row gone, store nothing and say so."""
    from sqlalchemy import func, select

    from tests.helpers import respond
    from wiredesk.store.feeds import remove_feed
    from wiredesk.store.models import Article

    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database

    def removed_then(status: int, body: bytes) -> Any:
        def handler(h: Any) -> None:
            with database.session() as session:
                remove_feed(session, feed_server.url(h.path))
            respond(h, status, body, Content_Type="application/rss+xml")
        return handler

    feed_server.routes["/gone-new.xml"] = removed_then(200, GOOD)
    feed_server.routes["/gone-304.xml"] = removed_then(304, b"")
    with database.session() as session:
        new = put_feed(session, {"url": feed_server.url("/gone-new.xml")}).id
        unchanged = put_feed(session, {"url": feed_server.url("/gone-304.xml")})
        unchanged.etag = '"v1"'
        unchanged = unchanged.id

    assert ingest_feed(app.wiredesk, new, enqueue=list).outcome == "missing"
    assert ingest_feed(app.wiredesk, unchanged, enqueue=list).outcome == "missing"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0
        assert session.get(Feed, new) is None and session.get(Feed, unchanged) is None


def test_a_url_changed_while_a_redirect_is_fetched_stays_as_the_operator_set_it(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    """An operator points the feed elsewhere while a fetch of its old URL is answered 301:
    the fetch must not put the redirect's target over the operator's URL."""
    from wiredesk.store.feeds import update_feed

    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database
    feed_server.serve("/hijacked.xml", GOOD)
    chosen = feed_server.serve("/chosen.xml", GOOD)

    def operator_updates_then_redirect(h: Any) -> None:
        with database.session() as session:
            update_feed(session, feed_server.url(h.path), {"url": chosen})
        redirect(301, "/hijacked.xml")(h)

    feed_server.routes["/old.xml"] = operator_updates_then_redirect
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_server.url("/old.xml")}).id

    assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "ok"
    with database.session() as session:
        feed = session.get(Feed, feed_id)
        assert (feed.url, feed.redirected_from) == (chosen, None)
        assert feed.etag is None  # the old URL's answer, not the new one's


def test_each_configuration_fetches_with_its_own_guard(config: Any, database: Any,
                                                       redis_client: Any,
                                                       feed_server: Any) -> None:
    """The keep-alive client (and with it the SSRF guard's allow-list, the timeouts and the
    User-Agent) was built from the first configuration a process saw and kept for good: an
    ingester given another one (a test, an embedded run beside a CLI call) fetched with the
    old guard. Here the second configuration allows no private address at all."""
    url = feed_server.serve("/feed.xml", GOOD)
    with database.session() as session:
        feed_id = put_feed(session, {"url": url}).id
    allowed = create_celery(config)
    allowed.wiredesk.__dict__["db"] = database
    assert ingest_feed(allowed.wiredesk, feed_id, enqueue=list).outcome == "ok"
    guarded = create_celery(config.replace(fetch_allow_networks=()))
    guarded.wiredesk.__dict__["db"] = database
    assert ingest_feed(guarded.wiredesk, feed_id, enqueue=list).outcome == "blocked"
    assert feed_server.statuses("/feed.xml") == [200]
