"""Encodings through the real HTTP path: what a server's Content-Type says against the feed's own
evidence (BOM, XML declaration, the bytes)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.helpers import FeedHTTPServer
from wiredesk.config import Config
from wiredesk.ingester.fetch import fetch, make_client
from wiredesk.ingester.parse import ParsedFeed, parse_feed

CONFIG = Config(fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                fetch_read_timeout=5.0, fetch_connect_timeout=2.0)
RU = "Правительство одобрило законопроект о налоговой реформе"


@pytest.fixture(scope="module")
def server() -> Iterator[FeedHTTPServer]:
    shared = FeedHTTPServer()
    yield shared
    shared.stop()


def fetched(server: FeedHTTPServer, path: str, body: bytes, content_type: str) -> ParsedFeed:
    url = server.serve(path, body, content_type)
    with make_client(CONFIG) as client:
        result = fetch(client, url, CONFIG)
    return parse_feed(result.body, feed_id=1, url=result.url, headers=result.headers)


def rss(title: str, declaration: str) -> str:
    return (f'<?xml version="1.0" encoding="{declaration}"?><rss version="2.0"><channel>'
            f"<title>{title}</title><item><guid>1</guid><title>{title}</title></item>"
            "</channel></rss>")


@pytest.mark.parametrize("label", ["ISO-8859-1", "iso-8859-1", "us-ascii", "windows-1252"])
def test_a_servers_default_western_charset_does_not_override_the_declaration(
        label: str, server: FeedHTTPServer) -> None:
    """Apache's AddDefaultCharset (and RFC 3023's text/xml) label every feed ISO-8859-1 or
    US-ASCII; a windows-1251 feed declaring itself so must not turn into mojibake."""
    body = rss(RU, "windows-1251").encode("cp1251")
    feed = fetched(server, "/ru-" + label, body, f"application/rss+xml; charset={label}")
    assert (feed.title, feed.articles[0].title) == (RU, RU)
    assert feed.encoding_source == "declaration"


def test_a_deliberate_header_charset_still_wins_over_the_declaration(
        server: FeedHTTPServer) -> None:
    body = rss(RU, "iso-8859-5").encode("koi8-r")  # the declaration is wrong, the header right
    feed = fetched(server, "/koi8", body, "text/xml; charset=koi8-r")
    assert feed.articles[0].title == RU and feed.encoding_source == "http"
