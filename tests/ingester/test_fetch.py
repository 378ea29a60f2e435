"""Transport on real loopback HTTP: compression, caps, deadlines, redirects, 304, 429, SSRF."""

from __future__ import annotations

import gzip
import ipaddress
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import brotli
import pytest

from tests.helpers import FeedHTTPServer, reply, trickled_head
from wiredesk.config import Config
from wiredesk.ingester.fetch import FetchError, fetch, make_client

FEED = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>' + (
    b"<item><title>x</title><link>http://example.com/a</link></item>" * 50) + b"</channel></rss>"


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FeedHTTPServer]:
    shared = FeedHTTPServer()  # one per module: stopping a server costs half a second
    yield shared
    shared.stop()


@pytest.fixture
def server(_shared_server: FeedHTTPServer) -> FeedHTTPServer:
    for table in (_shared_server.routes, _shared_server.files):
        table.clear()
    _shared_server.log.clear()
    return _shared_server


@pytest.fixture
def cfg() -> Config:
    return Config(fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                  fetch_read_timeout=2.0, fetch_connect_timeout=1.0, fetch_max_bytes=100_000)


@pytest.fixture
def client(cfg: Config) -> Iterator[Any]:
    with make_client(cfg) as c:
        yield c


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as many servers send it
    ("br", brotli.compress),
])
def test_compressed_bodies_are_decoded(coding: str, compress: Any, server: FeedHTTPServer,
                                       client: Any, cfg: Config) -> None:
    server.routes["/f"] = reply(200, compress(FEED), Content_Encoding=coding)
    result = fetch(client, server.url("/f"), cfg)
    assert result.body == FEED and result.wire_bytes < len(FEED)
    sent = server.log[-1][2]
    assert "br" in sent["Accept-Encoding"] and sent["User-Agent"].startswith("Wiredesk/")


def test_gzip_bomb_stops_at_the_cap(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire, 50 MB inflated
    assert len(bomb) < cfg.fetch_max_bytes
    server.routes["/bomb"] = reply(200, bomb, Content_Encoding="gzip")
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/bomb"), cfg)
    assert err.value.outcome == "too_large" and "decompresses" in str(err.value)


def test_brotli_bomb_stops_at_the_cap(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    server.routes["/bomb"] = reply(200, brotli.compress(b"\0" * 20_000_000),
                                         Content_Encoding="br")
    with pytest.raises(FetchError, match="decompresses") as err:
        fetch(client, server.url("/bomb"), cfg)
    assert err.value.outcome == "too_large"


def test_declared_oversize_is_refused_before_reading(server: FeedHTTPServer, client: Any,
                                                     cfg: Config) -> None:
    server.routes["/big"] = reply(200, b"x" * 200_000)
    with pytest.raises(FetchError, match="declared") as err:
        fetch(client, server.url("/big"), cfg)
    assert err.value.outcome == "too_large"


def _endless(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.end_headers()  # no Content-Length: the body streams until the client gives up
    try:
        while True:
            h.wfile.write(b"<item>" + b"x" * 8192 + b"</item>")
    except OSError:
        pass


def test_endless_body_stops_at_the_cap(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    server.routes["/endless"] = _endless
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/endless"), cfg)
    assert err.value.outcome == "too_large"


def test_trickling_body_stops_at_the_deadline(server: FeedHTTPServer, client: Any,
                                              cfg: Config) -> None:
    done = threading.Event()

    def trickle(h: Any) -> None:
        h.send_response(200)
        h.end_headers()
        try:
            while not done.wait(0.05):  # a byte now and then: never a read timeout
                h.wfile.write(b"x")
                h.wfile.flush()
        except OSError:
            pass

    server.routes["/slow"] = trickle
    cfg = cfg.replace(fetch_read_timeout=0.5)
    with make_client(cfg) as slow_client, pytest.raises(FetchError) as err:
        fetch(slow_client, server.url("/slow"), cfg)
    done.set()
    assert err.value.outcome == "timeout"


def test_silent_server_times_out(server: FeedHTTPServer, cfg: Config) -> None:
    release = threading.Event()
    server.routes["/silent"] = lambda h: release.wait(10)
    cfg = cfg.replace(fetch_read_timeout=0.3)
    with make_client(cfg) as c, pytest.raises(FetchError) as err:
        fetch(c, server.url("/silent"), cfg)
    release.set()
    assert err.value.outcome == "timeout"


def test_429_carries_retry_after(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    server.routes["/busy"] = reply(429, Retry_After="120")
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/busy"), cfg)
    assert (err.value.outcome, err.value.retry_after, err.value.status) == ("rate_limited", 120.0, 429)
    server.routes["/down"] = reply(503, Retry_After="Wed, 21 Oct 2015 07:28:00 GMT")
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/down"), cfg)
    assert err.value.outcome == "http_error" and err.value.retry_after == 0.0


def test_conditional_get_answers_304(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    url = server.serve("/feed", FEED)
    first = fetch(client, url, cfg)
    second = fetch(client, url, cfg, etag=first.headers["etag"])
    assert first.status == 200 and second.not_modified and second.body == b""
    assert server.log[-1][2]["If-None-Match"] == first.headers["etag"]


def test_redirect_chain_records_only_permanent_prefix(server: FeedHTTPServer, client: Any,
                                                      cfg: Config) -> None:
    server.serve("/final", FEED)
    server.routes["/a"] = reply(301, Location="/b")
    server.routes["/b"] = reply(308, Location=server.url("/c"))
    server.routes["/c"] = reply(302, Location="/final")
    result = fetch(client, server.url("/a"), cfg)
    assert result.url == server.url("/final") and result.body == FEED
    assert result.permanent_redirect == server.url("/c")  # the 302 is not a move
    server.routes["/p"] = reply(301, Location="/final")
    assert fetch(client, server.url("/p"), cfg).permanent_redirect == server.url("/final")


def test_redirect_loop_is_cut(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    server.routes["/loop"] = reply(302, Location="/loop")
    with pytest.raises(FetchError, match="redirects") as err:
        fetch(client, server.url("/loop"), cfg)
    assert err.value.outcome == "http_error"
    assert server.statuses("/loop") == [302] * (cfg.fetch_max_redirects + 1)


def test_keep_alive_reuses_one_connection(server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    url = server.serve("/feed", FEED)
    for _ in range(5):
        fetch(client, url, cfg)
    assert len(client._transport._pool.connections) == 1


# --- SSRF, end to end: only 127.0.0.1/32 is allow-listed; the trap on 127.0.0.2 must stay silent.

@pytest.fixture(scope="module")
def trap() -> Iterator[FeedHTTPServer]:
    server = FeedHTTPServer(host="127.0.0.2")
    server.serve("/secret", b"<rss version='2.0'><channel><title>internal</title></channel></rss>")
    yield server
    server.stop()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_a_non_allowed_address_is_blocked(status: int, server: FeedHTTPServer,
                                                      trap: FeedHTTPServer, client: Any,
                                                      cfg: Config) -> None:
    server.routes["/hop1"] = reply(status, Location="/hop2")
    server.routes["/hop2"] = reply(status, Location=trap.url("/secret"))
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/hop1"), cfg)
    assert err.value.outcome == "blocked" and "127.0.0.2" in str(err.value)
    assert trap.log == [] and server.statuses("/hop2") == [status]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"])
def test_redirect_to_other_schemes_is_blocked(target: str, server: FeedHTTPServer, client: Any,
                                              cfg: Config) -> None:
    server.routes["/r"] = reply(302, Location=target)
    with pytest.raises(FetchError, match="scheme") as err:
        fetch(client, server.url("/r"), cfg)
    assert err.value.outcome == "blocked"


def test_direct_fetch_of_the_trap_is_blocked(trap: FeedHTTPServer, client: Any, cfg: Config) -> None:
    with pytest.raises(FetchError) as err:
        fetch(client, trap.url("/secret"), cfg)
    assert err.value.outcome == "blocked" and trap.log == []


def test_dns_rebinding_connects_only_to_the_checked_address(cfg: Config) -> None:
    """A name answers 127.0.0.1 to the first lookup and 127.0.0.2 after: the address checked
    is the address connected to, so the trap on 127.0.0.2 never hears from us."""
    good = FeedHTTPServer(host="127.0.0.1")
    try:
        trap = FeedHTTPServer(host="127.0.0.2", port=good.port)
    except OSError:
        good.stop()
        pytest.skip("cannot bind 127.0.0.2 on the same port")
    good.serve("/feed", FEED)
    trap.serve("/feed", FEED)
    answers = iter([["127.0.0.1"]] + [["127.0.0.2"]] * 10)
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        addresses = next(answers)
        lookups.append(addresses[0])
        return addresses

    url = f"http://rebind.test:{good.port}/feed"
    try:
        with make_client(cfg, resolve=rebinding) as c:
            assert fetch(c, url, cfg).body == FEED  # first lookup: allowed, and connected to
            c.close()
        with make_client(cfg, resolve=rebinding) as c, pytest.raises(FetchError) as err:
            fetch(c, url, cfg)  # a new connection looks up again: now refused
        assert err.value.outcome == "blocked"
        assert trap.log == [] and len(good.log) == 1
        assert good.log[0][2]["Host"] == f"rebind.test:{good.port}"  # Host kept, IP pinned
    finally:
        good.stop()
        trap.stop()


def test_a_name_that_does_not_resolve_is_a_connect_error_not_blocked(cfg: Config) -> None:
    """An expired domain or a resolver outage is no SSRF attempt: counted with the connection
    failures (and retried with backoff), not as a guard refusal. Never connects anywhere."""
    import socket

    def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with make_client(cfg, resolve=no_such_name) as c, pytest.raises(FetchError) as err:
        fetch(c, "http://gone.example/rss", cfg)
    assert err.value.outcome == "connect_error"
    assert "cannot resolve gone.example" in str(err.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_without_location_is_a_clear_http_error(status: int, server: FeedHTTPServer,
                                                           client: Any, cfg: Config) -> None:
    """Before, the drained redirect body was read again as the feed: RuntimeError from httpcore,
    counted as an unexpected 'error' and retried by Celery."""
    server.routes["/moved"] = reply(status, b"<html>moved</html>")
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/moved"), cfg)
    assert (err.value.outcome, err.value.status) == ("http_error", status)
    assert str(err.value) == f"HTTP {status} without a Location header"
    assert fetch(client, server.serve("/feed", FEED), cfg).body == FEED  # connection still good


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)])
def test_a_cut_compressed_body_is_an_error_not_a_shorter_feed(coding: str, compress: Any,
                                                              server: FeedHTTPServer,
                                                              client: Any, cfg: Config) -> None:
    """A compressed stream that stops before its end (a proxy or server cutting it, with a
    Content-Length that matches what was sent) was read as a shorter feed: the last entry cut
    mid-text and stored as a revision."""
    server.routes["/cut"] = reply(200, compress(FEED)[:-40], Content_Encoding=coding)
    with pytest.raises(FetchError) as err:
        fetch(client, server.url("/cut"), cfg)
    assert err.value.outcome == "http_error" and "truncated" in str(err.value)


def test_a_gzip_body_of_several_members_is_read_whole(server: FeedHTTPServer, client: Any,
                                                      cfg: Config) -> None:
    """RFC 1952 lets a gzip file be several members one after another (what a server
    compressing as it streams, or concatenated pre-compressed parts, sends); only the first
    was read, so the feed came out cut short, with no error."""
    members = gzip.compress(FEED[:1000]) + gzip.compress(FEED[1000:2000]) + gzip.compress(
        FEED[2000:])
    server.routes["/members"] = reply(200, members, Content_Encoding="gzip")
    assert fetch(client, server.url("/members"), cfg).body == FEED
    # Trailing zero padding after the last member is ignored, as gzip(1) and urllib3 do.
    server.routes["/padded"] = reply(200, gzip.compress(FEED) + b"\0" * 16,
                                     Content_Encoding="gzip")
    assert fetch(client, server.url("/padded"), cfg).body == FEED


def test_a_gzip_bomb_split_into_members_stops_at_the_cap(server: FeedHTTPServer, client: Any,
                                                         cfg: Config) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000) * 10
    assert len(bomb) < cfg.fetch_max_bytes
    server.routes["/bombs"] = reply(200, bomb, Content_Encoding="gzip")
    with pytest.raises(FetchError, match="decompresses") as err:
        fetch(client, server.url("/bombs"), cfg)
    assert err.value.outcome == "too_large"


def test_credentials_in_a_feed_url_are_sent_to_its_own_origin_only(
        server: FeedHTTPServer, client: Any, cfg: Config) -> None:
    """Paid wires hand out feed URLs with a user and password in them
    (``https://user:password@host/feed``), as miniflux and FreshRSS take them. The fetch sent
    no Authorization at all, so such a feed answered 401 on every poll. The credentials go as
    Basic auth to the URL's own origin, and not on to another origin a redirect leads to."""
    def protected(handler: Any) -> None:
        if handler.headers.get("Authorization") == "Basic d2lyZTpzM2NyZXQ6w6k=":  # wire:s3cret:é
            reply(200, FEED)(handler)
        else:
            reply(401, b"", WWW_Authenticate='Basic realm="wire"')(handler)

    server.routes["/protected"] = protected
    with_credentials = server.url("/protected").replace("http://", "http://wire:s3cret%3A%C3%A9@")
    assert fetch(client, with_credentials, cfg).body == FEED
    with pytest.raises(FetchError) as refused:
        fetch(client, server.url("/protected"), cfg)
    assert refused.value.status == 401

    elsewhere = FeedHTTPServer()  # another port: another origin
    try:
        elsewhere.serve("/feed.xml", FEED)
        server.routes["/moved"] = reply(302, b"", Location=elsewhere.url("/feed.xml"))
        moved = server.url("/moved").replace("http://", "http://wire:s3cret@")
        assert fetch(client, moved, cfg).body == FEED
        assert "Authorization" in server.log[-1][2]
        assert "Authorization" not in elsewhere.log[-1][2]
    finally:
        elsewhere.stop()


def test_trickling_headers_stop_at_the_deadline(server: FeedHTTPServer, cfg: Config) -> None:
    # The deadline was checked only between body chunks: a server sending its status line and
    # then a header byte now and then (never a read timeout) held the fetch, an ingest thread,
    # for as long as it liked. Four such feeds stall a worker process's four threads.
    done = threading.Event()
    server.routes["/slow-head"] = trickled_head("200 OK", done)
    cfg = cfg.replace(fetch_read_timeout=0.5)
    failed: list[FetchError] = []

    def run() -> None:
        with make_client(cfg) as slow_client:
            try:
                fetch(slow_client, server.url("/slow-head"), cfg)
            except FetchError as exc:
                failed.append(exc)

    fetching = threading.Thread(target=run, daemon=True)
    fetching.start()
    fetching.join(timeout=10)  # a deadline, twenty times the fetch's own
    done.set()
    fetching.join(timeout=10)
    assert [exc.outcome for exc in failed] == ["timeout"]
