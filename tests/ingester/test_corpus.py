"""Every corpus feed through the real HTTP path: right titles, links, UTC dates and script, or a
clear counted error. Expected output lives in tests/golden/ingester/corpus/ (short derived data
only; ``python -m tests.ingester.regen_golden`` rewrites it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.helpers import FeedHTTPServer, require_corpus
from tests.ingester.corpus import GOLDEN_DIR, corpus_files, fetch_and_parse, script_of, summary

FILES = corpus_files() or ["(corpus absent)"]
# The script each non-Latin feed's titles are written in: wrong decoding shows up here first.
SCRIPTS = {
    "justselective-arabic-0263.xml": "ARABIC", "urdu_UTF8.xml": "ARABIC", "zoot_egkty.xml": "ARABIC",
    "feed-test-ru.xml": "CYRILLIC", "iconv.xml": "CYRILLIC", "rss_ukrnet.xml": "CYRILLIC",
    "rss_geekpark.xml": "CJK", "encoding-gb2312.xml": "CJK", "cbnews-japanese-0222.xml": "CJK",
    "feed-test-hindi-channel-image.xml": "DEVANAGARI", "feed-test-greek.xml": "GREEK",
}
ERRORS = {"rss_2.0_invalid_1.xml": "parse_error", "unrecognized.rss": "not_a_feed"}
MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Ð[\u0080-\u00bf]|\ufffd|&(amp|lt|gt|quot|#\\d+);")
ACTIVE_HTML = re.compile(
    r"<\s*(script|style|iframe|object|embed)\b|<[^>]+\son\w+\s*=|(href|src)=\"\s*javascript:", re.I)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedHTTPServer]:
    shared = FeedHTTPServer()
    yield shared
    shared.stop()


@pytest.mark.parametrize("name", FILES)
def test_corpus_feed_matches_golden(name: str, server: FeedHTTPServer) -> None:
    require_corpus("feeds", name)
    golden = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert summary(server, name) == golden


@pytest.mark.parametrize("name", FILES)
def test_corpus_feed_reads_cleanly_or_fails_clearly(name: str, server: FeedHTTPServer) -> None:
    require_corpus("feeds", name)
    if name in ERRORS:
        assert summary(server, name) == {"file": name, "outcome": ERRORS[name]}
        return
    feed = fetch_and_parse(server, name)
    assert feed.articles
    for article in feed.articles:
        assert article.title, f"an entry of {name} has no title"
        assert article.url and article.url.startswith(("http://", "https://"))
        assert article.published_at is None or article.published_at.tzinfo == UTC
        assert not MOJIBAKE.search(article.title), article.title
        assert not ACTIVE_HTML.search(article.body_html)
    titles = " ".join(a.title for a in feed.articles)
    assert script_of(titles) == SCRIPTS.get(name, "LATIN")


def test_the_whole_corpus_is_covered() -> None:
    files = corpus_files()
    if not files:
        pytest.skip("corpus absent (tests read ../shared/corpus in place)")
    assert len(files) == 35
    assert sorted(p.name.removesuffix(".json") for p in GOLDEN_DIR.glob("*.json")) == files


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_malformed_corpus_feed_is_counted_and_disturbs_nothing(
        name: str, config: Any, database: Any, redis_client: Any, feed_server: FeedHTTPServer) -> None:
    from wiredesk.broker import create_celery
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.ingester.tasks import ingest_feed
    from wiredesk.store import models
    from wiredesk.store.feeds import add_feed

    body = require_corpus("feeds", name).read_bytes()
    services = create_celery(config).wiredesk
    services.__dict__["db"] = database
    enqueued: list[str] = []
    good = feed_server.serve("/good", (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes())
    bad = feed_server.serve("/bad", body)
    with database.session() as session:
        good_id, bad_id = add_feed(session, good).id, add_feed(session, bad).id
    assert ingest_feed(services, good_id, enqueue=enqueued.extend).outcome == "ok"
    before = REGISTRY.get_sample_value("wiredesk_ingest_fetches_total",
                                       {"outcome": ERRORS[name]}) or 0.0
    report = ingest_feed(services, bad_id, enqueue=enqueued.extend)
    assert report.outcome == ERRORS[name]
    assert REGISTRY.get_sample_value("wiredesk_ingest_fetches_total",
                                     {"outcome": ERRORS[name]}) == before + 1
    with database.session() as session:
        assert session.get(models.Feed, bad_id).last_error.startswith(ERRORS[name])
        assert session.get(models.Feed, good_id).error_count == 0
        assert session.scalar(select(func.count()).select_from(models.Article)) == len(enqueued)
