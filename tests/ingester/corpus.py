"""The corpus feeds through the real HTTP path, reduced to short derived data for golden files.

A golden keeps no publisher text: only counts, ids, links, UTC dates, short hashes of each
title and text, and the script the text is written in. ``regen_golden.py`` rewrites them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.helpers import FeedHTTPServer, corpus_dir
from wiredesk.config import Config
from wiredesk.ingester.fetch import FetchError, fetch, make_client
from wiredesk.ingester.parse import ParsedFeed, ParseError, parse_feed

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "ingester" / "corpus"
FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)  # fixed, so future-date clamping is reproducible
SERVER = "http://feeds.test"  # the loopback origin, as written in goldens
CONFIG = Config(fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                fetch_read_timeout=10.0, fetch_connect_timeout=2.0)
# Zone assumed for dates without one: what the publisher's country uses.
ZONES = {"encoding-gb2312.xml": "Asia/Shanghai", "rss_2.0_nbcny.xml": "America/New_York",
         "feed-test-hindi-channel-image.xml": "Asia/Kolkata"}


def corpus_files() -> list[str]:
    """Every data file of the feed corpus (empty when the corpus is absent)."""
    folder = corpus_dir() / "feeds"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".md")


def script_of(text: str) -> str | None:
    """The dominant script of the letters in ``text`` (CJK for Han, kana and Hangul)."""
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "UNKNOWN").split()[0]
            counts["CJK" if name in {"HIRAGANA", "KATAKANA", "HANGUL"} else name] += 1
    return counts.most_common(1)[0][0] if counts else None


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def fetch_and_parse(server: FeedHTTPServer, name: str) -> ParsedFeed:
    """Serve one corpus file on ``server`` and read it the way the ingester does."""
    body = (corpus_dir() / "feeds" / name).read_bytes()
    content_type = "application/feed+json" if name.endswith(".json") else "application/xml"
    url = server.serve("/" + name, body, content_type)
    with make_client(CONFIG) as client:
        result = fetch(client, url, CONFIG)
    return parse_feed(result.body, feed_id=1, url=result.url, headers=result.headers,
                      fetched_at=FETCHED_AT, zone=ZONES.get(name, "UTC"))


def summary(server: FeedHTTPServer, name: str) -> dict[str, Any]:
    """The golden record of one corpus file."""
    origin = server.url("")
    try:
        feed = fetch_and_parse(server, name)
    except (FetchError, ParseError) as exc:
        return {"file": name, "outcome": exc.outcome}
    return {
        "file": name,
        "outcome": "ok",
        "format": feed.format,
        "encoding": feed.encoding,
        "encoding_source": feed.encoding_source,
        "entries": len(feed.articles),
        "skipped": feed.skipped,
        "script": script_of(" ".join(a.title for a in feed.articles)),
        "date_flags": dict(sorted(feed.date_flags.items())),
        "items": [{
            "id": a.id,
            "url": a.url.replace(origin, SERVER) if a.url else None,
            "published": a.published_at.isoformat() if a.published_at else None,
            "title": short_hash(a.title),
            "text": short_hash(a.body_text),
            "script": script_of(a.title + " " + a.body_text),
        } for a in feed.articles],
    }
