"""Hostile and broken feeds: each is a counted, logged fetch error that leaves stories intact."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.helpers import reply
from wiredesk.broker import create_celery
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.tasks import ingest_feed
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

GOOD = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()


BOMB = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<rss version="2.0"><channel><title>&c;</title><item><title>&c;</title></item></channel></rss>')


def fetches(outcome: str) -> float:
    return REGISTRY.get_sample_value("wiredesk_ingest_fetches_total", {"outcome": outcome}) or 0.0


def _slow(release: threading.Event) -> Any:
    def handler(h: Any) -> None:
        release.wait(10)  # holds the reply until the test is done with it
        h.send_response(200)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handler


def _endless(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.end_headers()  # no Content-Length: the body streams until the client gives up
    try:
        chunk = b"<item>" + b"x" * 65536 + b"</item>"
        for _ in range(10_000):
            h.wfile.write(chunk)
    except OSError:
        pass


CASES = {
    "truncated": ("parse_error", lambda s: s.serve("/bad", GOOD[: len(GOOD) // 3][:200])),
    "html": ("not_a_feed", lambda s: s.serve(
        "/bad", b"<!doctype html><html><head><title>Moved</title></head><body><p>Our feed "
                b"has moved.</p></body></html>", "text/html")),
    "http_500": ("http_error", lambda s: s.routes.__setitem__("/bad", reply(500))),
    "oversized": ("too_large", lambda s: s.routes.__setitem__("/bad", _endless)),
    "entity_bomb": ("unsafe_xml", lambda s: s.serve("/bad", BOMB)),
    # A 200 with no body (a CDN or a feed generator having a bad moment).
    "empty_body": ("not_a_feed", lambda s: s.routes.__setitem__(
        "/bad", reply(200, content_type="application/rss+xml"))),
    # Several documents to choose from (RFC 9110 15.4.1): no feed was chosen, the URL is wrong.
    # Read as a feed body, its HTML list of choices was counted as not_a_feed.
    "http_300": ("http_error", lambda s: s.routes.__setitem__("/bad", reply(
        300, b"<html><body><a href='/a.rss'>RSS</a> <a href='/a.atom'>Atom</a></body></html>",
        content_type="text/html", Location="/a.rss"))),
    # Locations that are no URL: a broken [IPv6] host, an octal IPv4 address httpx refuses.
    "redirect_broken_ipv6": ("http_error", lambda s: s.routes.__setitem__(
        "/bad", reply(301, Location="http://[::1/feed"))),
    "redirect_octal_address": ("http_error", lambda s: s.routes.__setitem__(
        "/bad", reply(302, Location="http://0177.0.0.1/feed"))),
}


@pytest.mark.parametrize("case", [*CASES, "timeout"])
def test_bad_feed_is_counted_logged_and_harmless(case: str, config: Any, database: Any,
                                                 redis_client: Any, feed_server: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    config = config.replace(fetch_max_bytes=1_000_000, fetch_read_timeout=1.0)
    app = create_celery(config)
    services = app.wiredesk
    services.__dict__["db"] = database
    enqueued: list[str] = []

    good_url = feed_server.serve("/good", GOOD)
    with database.session() as session:
        good_id = add_feed(session, good_url, trust="auto").id
    assert ingest_feed(services, good_id, enqueue=enqueued.extend).outcome == "ok"

    if case == "timeout":
        expected = "timeout"
        feed_server.routes["/bad"] = _slow(release)
    else:
        expected, install = CASES[case]
        install(feed_server)
    with database.session() as session:
        bad_id = add_feed(session, feed_server.url("/bad"), trust="auto").id

    before = fetches(expected)
    with caplog.at_level(logging.WARNING, logger="wiredesk.ingester.tasks"):
        report = ingest_feed(services, bad_id, enqueue=enqueued.extend)
    release.set()

    assert report.outcome == expected, report.error
    assert fetches(expected) == before + 1
    assert any(expected in r.getMessage() for r in caplog.records)
    with database.session() as session:
        feed = session.get(models.Feed, bad_id)
        assert feed.error_count == 1 and feed.last_error.startswith(expected)
        assert feed.next_fetch_at > feed.last_fetched_at
        assert session.scalar(select(func.count()).select_from(models.Article)) == 3
    assert len(enqueued) == 3  # the good feed's entries, untouched by the bad one


def test_a_300_says_what_the_server_answered(config: Any, database: Any, redis_client: Any,
                                            feed_server: Any) -> None:
    """The operator saw `not_a_feed` for a URL that answered 300 Multiple Choices."""
    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    feed_server.routes["/choices"] = reply(300, b"<html>pick one</html>", content_type="text/html")
    with database.session() as session:
        feed_id = add_feed(session, feed_server.url("/choices")).id
    assert ingest_feed(services, feed_id, enqueue=lambda ids: None).outcome == "http_error"
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert feed.last_error.startswith("http_error: HTTP 300 Multiple Choices"), feed.last_error


def test_a_204_is_an_empty_answer_not_an_error(config: Any, database: Any, redis_client: Any,
                                               feed_server: Any) -> None:
    """A feed with nothing to give answered 204 No Content: it was counted as not_a_feed,
    shown in error and backed off, though the server said, successfully, that there is
    nothing. Now it is a fetch with no entries: no error, the stored stories untouched."""
    from datetime import UTC, datetime, timedelta

    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    url = feed_server.serve("/feed", GOOD)
    with database.session() as session:
        feed_id = add_feed(session, url, interval_seconds=600).id
    assert ingest_feed(services, feed_id, enqueue=lambda ids: None).outcome == "ok"
    feed_server.routes["/feed"] = reply(204)
    ok, not_a_feed = fetches("ok"), fetches("not_a_feed")
    before = datetime.now(UTC)
    enqueued: list[str] = []
    report = ingest_feed(services, feed_id, enqueue=enqueued.extend)
    assert (report.outcome, report.error, enqueued) == ("ok", None, [])
    assert (fetches("ok"), fetches("not_a_feed")) == (ok + 1, not_a_feed)
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.error_count, feed.last_error) == (0, None)
        assert feed.last_fetched_at >= before
        assert feed.next_fetch_at <= before + timedelta(seconds=2 * 600)  # no backoff
        assert session.scalar(select(func.count()).select_from(models.Article)) == 3


def test_unexpected_error_is_counted_as_error_not_ok(config: Any, database: Any, redis_client: Any,
                                                    feed_server: Any, monkeypatch: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A failure outside the sorted outcomes (a bug, a service down) must not count as "ok"."""
    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    with database.session() as session:
        feed_id = add_feed(session, feed_server.serve("/feed", GOOD)).id

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr("wiredesk.ingester.tasks.parse_feed", broken)
    ok, error = fetches("ok"), fetches("error")
    with caplog.at_level(logging.WARNING, logger="wiredesk.ingester.tasks"), \
            pytest.raises(RuntimeError):  # raised on, for the task's retries
        ingest_feed(services, feed_id, enqueue=lambda ids: None)
    assert (fetches("ok"), fetches("error")) == (ok, error + 1)
    assert any("a bug in the parser" in r.getMessage() for r in caplog.records)


def test_feed_credentials_stay_out_of_the_logs(config: Any, database: Any, redis_client: Any,
                                               feed_server: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A feed URL with a password in it (https://user:password@host/..., as wire services
    hand them out) was written into the log on every failed fetch and every move."""
    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    feed_server.routes["/old"] = reply(301, Location="/new")
    feed_server.serve("/new", GOOD)
    url = feed_server.url("/old").replace("http://", "http://wire:s3cret@")
    with database.session() as session:
        feed_id = add_feed(session, url).id

    with caplog.at_level(logging.INFO, logger="wiredesk.ingester.tasks"):
        assert ingest_feed(services, feed_id, enqueue=lambda ids: None).outcome == "ok"
        feed_server.routes["/new"] = reply(500)
        assert ingest_feed(services, feed_id, enqueue=lambda ids: None).outcome == "http_error"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "moved permanently" in logged and "http_error" in logged
    assert "s3cret" not in logged and f"wire:***@127.0.0.1:{feed_server.port}/new" in logged


def test_unexpected_error_shows_on_the_feed_and_backs_off(config: Any, database: Any,
                                                         redis_client: Any, feed_server: Any,
                                                         monkeypatch: Any) -> None:
    """A fetch failing outside the sorted outcomes is the feed's error too: `feeds show`, the
    API and the feeds-in-error gauge say so, and the next attempt backs off. Before, the feed
    looked healthy and was fetched again every lock TTL (300 s) whatever its interval."""
    from datetime import UTC, datetime, timedelta

    from wiredesk.store.feeds import feed_health, feed_to_dict

    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    with database.session() as session:
        feed_id = add_feed(session, feed_server.serve("/feed", GOOD), interval_seconds=3600).id

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr("wiredesk.ingester.tasks.parse_feed", broken)
    before = datetime.now(UTC)
    for _ in range(2):  # the task's retry fails the same way
        with pytest.raises(RuntimeError):
            ingest_feed(services, feed_id, enqueue=lambda ids: None)
    with database.session() as session:
        state = feed_to_dict(session.get(models.Feed, feed_id))["state"]
        assert state["error_count"] == 2
        assert state["last_error"] == "error: RuntimeError: a bug in the parser"
        next_at = datetime.fromisoformat(state["next_fetch_at"])
        assert next_at >= before + timedelta(seconds=2 * 3600)  # backoff, not the lock TTL
        assert feed_health(session)[0] == 1
    monkeypatch.undo()  # fixed: the next fetch recovers
    assert ingest_feed(services, feed_id, enqueue=lambda ids: None).outcome == "ok"
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.error_count, feed.last_error) == (0, None)
