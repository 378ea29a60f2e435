"""An article whose language the detector leaves undetermined (a short headline, a feed that
declares none) goes through every stage and is published, in no language's feed.

Real feed over loopback HTTP, a real Celery worker on real Redis and PostgreSQL, the publisher.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

import feedparser
from sqlalchemy import select

from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force, wait_until
from tests.pipeline.test_story_crosslang import processed
from wiredesk.store import models
from wiredesk.store.feeds import add_feed
from wiredesk.store.models import utcnow

# Headlines the detector cannot place without a hint (tests/pipeline/stages/test_language.py).
HEADLINES = ("Lightroom-Alternative: DxO bringt PhotoLab 2", "Migrants")
RULES = """rules:
  - {name: no-language, action: review, when: {language: [none]}}
  - {name: publish-all, action: publish, when: {}}
"""


def undeclared(*titles: str) -> bytes:
    """An RSS 2.0 feed with no <language>, one item per title and no description."""
    when = format_datetime(utcnow())
    items = "".join(
        f"<item><title>{escape(t)}</title><guid isPermaLink='false'>g{n}</guid>"
        f"<link>https://wire.example/g{n}</link><pubDate>{when}</pubDate></item>"
        for n, t in enumerate(titles))
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>Wire</title><link>https://wire.example/</link><description>Test</description>"
            f"{items}</channel></rss>").encode()


def fetched(database: Any, feed_server: Any, rules: Any) -> None:
    """The headlines fetched from a feed that declares no language, under ``rules``, and
    processed."""
    from wiredesk.ingester.tasks import fetch_feed

    put_rules_in_force(database, rules)
    url = feed_server.serve("/undeclared.xml", undeclared(*HEADLINES))
    with database.session() as session:
        feed_id = add_feed(session, url, name="wire", trust="auto").id
    fetch_feed.delay(feed_id)
    wait_until(lambda: processed(database, len(HEADLINES)), message="the articles processed")


def test_an_undetermined_language_is_processed_routed_and_filed_in_no_language_feed(
        worker: Any, database: Any, feed_server: Any, publisher: Any) -> None:
    fetched(database, feed_server, RULES)

    with database.session() as session:
        rows = list(session.scalars(select(models.Article)))
        assert [(r.language, r.status, r.routing_rule, r.error) for r in rows] == [
            (None, "pending_review", "no-language", None)] * len(HEADLINES)


def test_published_without_a_language_in_no_language_feed(
        worker: Any, database: Any, feed_server: Any, publisher: Any) -> None:
    fetched(database, feed_server, PUBLISH_EVERYTHING)

    with database.session() as session:
        assert {(r.language, r.status) for r in session.scalars(select(models.Article))} == {
            (None, "published")}
    everything = feedparser.parse(publisher.get("/feeds/all.atom").data)
    assert sorted(e.title for e in everything.entries) == sorted(HEADLINES)
    for language in ("de", "en", "nl"):  # what the detector hesitated between
        assert feedparser.parse(publisher.get(f"/feeds/lang/{language}.atom").data).entries == []
    stories = publisher.get("/api/v1/stories").get_json()["data"]
    assert len(stories) == len(HEADLINES) and not any("language" in s for s in stories)
