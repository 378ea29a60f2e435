"""Full text: an entry's page fetched over loopback through the guarded fetcher, main text kept,
navigation, breadcrumbs, related photos and footer dropped; the next poll sees no change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import REPO
from wiredesk.broker import create_celery
from wiredesk.ingester.fulltext import extract
from wiredesk.ingester.tasks import apply_full_text, ingest_feed
from wiredesk.store import models
from wiredesk.store.feeds import put_feed

PAGE = (REPO / "tests" / "golden" / "fulltext" / "article.html").read_bytes()
STORY = ["The northern harbour reopened to shipping on Tuesday morning",
         "Pilots guided the first container ship", "Engineers inspected the outer quay",
         "Fishermen, who lost a week of catches"]
BOILERPLATE = ["Home", "Sport", "Ports", "Related photos", "Waves break over the sea wall",
               "Most read", "Celebrity chef", "Copyright", "Privacy", "Wiredesk Test Times"]


def feed_linking_to(url: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ports desk</title><link>{url}</link>
<item><title>Harbour reopens after storm</title><link>{url}</link><guid>harbour-1</guid>
<description>The harbour reopened on Tuesday.</description></item>
</channel></rss>""".encode()


def ingested_with_full_text(config: Any, database: Any, feed_server: Any,
                            page_url: str) -> tuple[Any, int, str]:
    """A full-text feed whose one entry links to ``page_url``, fetched once: the services, the
    feed's id and the entry's article id."""
    services = create_celery(config.replace(host_max_per_second=0)).wiredesk
    services.__dict__["db"] = database
    feed_url = feed_server.serve("/ports.xml", feed_linking_to(page_url))
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_url, "full_text": True}).id
    enqueued: list[str] = []
    assert ingest_feed(services, feed_id, enqueue=enqueued.extend).outcome == "ok"
    [article_id] = enqueued
    return services, feed_id, article_id


def test_extract_keeps_the_story_and_drops_the_page_furniture() -> None:
    result = extract(PAGE, "http://127.0.0.1/article")
    assert result is not None
    for sentence in STORY:
        assert sentence in result.text
    for furniture in BOILERPLATE:
        assert furniture not in result.text, furniture
    assert "<script" not in result.html and "<p>" in result.html


def test_full_text_replaces_the_teaser_and_the_next_poll_is_unchanged(
        config: Any, database: Any, redis_client: Any, feed_server: Any, tmp_path: Path) -> None:
    page_url = feed_server.serve("/news/harbour.html", PAGE, "text/html; charset=utf-8")
    services, feed_id, article_id = ingested_with_full_text(config, database, feed_server,
                                                            page_url)
    assert apply_full_text(services, article_id) == "ok"
    assert feed_server.statuses("/news/harbour.html") == [200]
    with database.session() as session:
        row = session.get(models.Article, article_id)
        text, content_hash = row.body_text, row.content_hash
    assert all(sentence in text for sentence in STORY)
    assert not any(furniture in text for furniture in BOILERPLATE)

    feed_server.serve("/ports.xml", feed_linking_to(page_url) + b"\n")  # new ETag, same entry
    again: list[str] = []
    report = ingest_feed(services, feed_id, enqueue=again.extend)
    assert report.counts == {"unchanged": 1} and again == []
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.body_text, row.content_hash) == (text, content_hash)


def test_a_page_the_guard_refuses_leaves_the_feed_text(config: Any, database: Any,
                                                       redis_client: Any, feed_server: Any) -> None:
    # The entry links to a non-allow-listed loopback address: the guard must refuse it.
    services, _, article_id = ingested_with_full_text(config, database, feed_server,
                                                      "http://127.0.0.2:9/article")
    assert apply_full_text(services, article_id) == "blocked"
    with database.session() as session:
        assert session.get(models.Article, article_id).body_text == (
            "The harbour reopened on Tuesday.")


def test_a_page_longer_than_the_article_contract_is_cut_to_fit(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    from wiredesk.ingester.parse import LIMITS
    from wiredesk.store.articles import to_article

    # Main text just past body_text's limit (1,000,000 characters), well inside fetch_max_bytes.
    # (Numbered: trafilatura drops repeated paragraphs.)
    paragraphs = "".join(f"<p>Paragraph {n}: " + "The harbour reopened to shipping again. " * 250
                         + "</p>\n" for n in range(LIMITS["body_text"] // 10_000))
    page = ("<html><head><title>Harbour</title></head><body><article><h1>Harbour reopens</h1>"
            + paragraphs + "</article></body></html>").encode()
    page_url = feed_server.serve("/news/long.html", page, "text/html; charset=utf-8")
    services, _, article_id = ingested_with_full_text(config, database, feed_server, page_url)
    assert apply_full_text(services, article_id) == "ok"
    with database.session() as session:
        article = to_article(session.get(models.Article, article_id))  # the pipeline's boundary
    assert article.body_text.startswith("Harbour reopens\nParagraph 0: The harbour reopened")
    assert len(article.body_text) <= LIMITS["body_text"]
    assert len(article.body_html) <= LIMITS["body_html"]


def test_full_text_that_comes_after_the_article_was_processed_leaves_it_as_processed(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    """The full-text message waited (its host at its limit, or lost with Redis) past the
    reconciler's patience: the reconciler sent the article to the pipeline, which published it
    with the feed's text. The page's text arriving then must not silently replace the body of
    the published article (no revision, and its entities, topics and story computed from
    another text)."""
    from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force
    from wiredesk.pipeline.tasks import process_article

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    page_url = feed_server.serve("/news/harbour.html", PAGE, "text/html; charset=utf-8")
    services, _, article_id = ingested_with_full_text(config, database, feed_server, page_url)
    assert process_article(services, article_id) == "published"  # the reconciler's message
    with database.session() as session:
        published = session.get(models.Article, article_id).body_text
    apply_full_text(services, article_id)  # the full-text message, late
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.status, row.body_text) == ("published", published)
    # Nor does it fetch a page it cannot use (or wait, deferred, for its host to be free).
    assert feed_server.statuses("/news/harbour.html") == []


def test_full_text_that_comes_while_the_article_is_processed_leaves_it_as_processed(
        config: Any, database: Any, redis_client: Any, feed_server: Any,
        monkeypatch: Any) -> None:
    """As above, with the pipeline worker still at work on the feed's text: the article must
    end with the body its enrichment was computed from."""
    from tests.helpers import PUBLISH_EVERYTHING, processing_paused, put_rules_in_force

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    page_url = feed_server.serve("/news/harbour.html", PAGE, "text/html; charset=utf-8")
    services, _, article_id = ingested_with_full_text(config, database, feed_server, page_url)
    with database.session() as session:
        feed_text = session.get(models.Article, article_id).body_text
    with processing_paused(monkeypatch, services, article_id) as outcome:
        apply_full_text(services, article_id)
    assert outcome == ["published"]
    with database.session() as session:
        assert session.get(models.Article, article_id).body_text == feed_text
