"""An article that changes while a worker processes it: the worker's output must not land on
content it was not computed from."""

from __future__ import annotations

from typing import Any

from tests.helpers import processing_paused, put_rules_in_force
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.ingester.tasks import ingest_feed
from wiredesk.pipeline import tasks
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

BODY = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()
TITLE = b"Central bank holds interest rates steady as inflation cools"
NO_HOAXES = """rules:
  - {name: no-hoaxes, action: reject, when: {keyword: [hoax]}}
  - {name: publish-all, action: publish, when: {}}
"""


def test_a_revision_fetched_while_the_article_is_processed_is_processed_too(
        celery_app: Any, database: Any, feed_server: Any, monkeypatch: Any) -> None:
    """A worker reads revision 1; a fetch commits revision 2 (its process message finds the
    article busy); the worker then saves. Revision 2 must be routed, not inherit revision 1's
    decision: here it is a hoax the rules reject."""
    put_rules_in_force(database, NO_HOAXES)
    url = feed_server.serve("/w.xml", BODY)
    with database.session() as session:
        feed_id = add_feed(session, url, trust="auto").id
    services = celery_app.wiredesk
    assert ingest_feed(services, feed_id, enqueue=list).counts == {"new": 3}
    article_id = parse_feed(BODY, feed_id=feed_id, url=url).articles[1].id

    with processing_paused(monkeypatch, services, article_id) as outcome:
        feed_server.serve("/w.xml", BODY.replace(TITLE, TITLE + b" (a hoax, officials say)"))
        report = ingest_feed(services, feed_id, enqueue=list)
        assert report.counts == {"unchanged": 2, "updated": 1}
        assert report.enqueued == [article_id]
        # The revision's message, delivered now: the first worker still holds the article.
        assert tasks.process_article(services, article_id) == "busy"
    assert outcome == ["rejected"]
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.revision, row.status, row.routing_rule) == (2, "rejected", "no-hoaxes")
