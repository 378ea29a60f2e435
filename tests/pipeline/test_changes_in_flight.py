"""An article that changes while a worker processes it: the worker's output must not land on
content it was not computed from."""

from __future__ import annotations

import threading
from typing import Any

from tests.helpers import put_rules_in_force
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


class Paused:
    """Wraps ``tasks.enrich`` so the worker stops after reading the article, until released."""

    def __init__(self, monkeypatch: Any):
        self.reached, self.go = threading.Event(), threading.Event()
        enrich = tasks.enrich

        def paused_enrich(article: Any, config: Any) -> Any:
            enriched = enrich(article, config)
            if not self.go.is_set():
                self.reached.set()
                assert self.go.wait(timeout=30), "the test never released the worker"
            return enriched

        monkeypatch.setattr(tasks, "enrich", paused_enrich)


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

    paused = Paused(monkeypatch)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(
        tasks.process_article(services, article_id)))
    worker.start()
    try:
        assert paused.reached.wait(timeout=30), "the worker never read the article"
        feed_server.serve("/w.xml", BODY.replace(TITLE, TITLE + b" (a hoax, officials say)"))
        report = ingest_feed(services, feed_id, enqueue=list)
        assert report.counts == {"unchanged": 2, "updated": 1}
        assert report.enqueued == [article_id]
        # The revision's message, delivered now: the first worker still holds the article.
        assert tasks.process_article(services, article_id) == "busy"
    finally:
        paused.go.set()
        worker.join(timeout=60)
    assert outcome == ["rejected"]
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.revision, row.status, row.routing_rule) == (2, "rejected", "no-hoaxes")
