"""Entries that waver or were deleted: no endless revisions, no resurrection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import lock_waiters, wait_until
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.ingester.tasks import ingest_feed
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

BODY = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()
TITLE = b"Central bank holds interest rates steady as inflation cools"


def _articles(feed_id: int, body: bytes) -> list[Any]:
    return parse_feed(body, feed_id=feed_id, url="http://127.0.0.1/w.xml").articles


def _fed_once(celery_app: Any, database: Any, feed_server: Any) -> tuple[Any, int, str]:
    """A feed fetched once (3 new entries): the services, the feed's id, its second entry's id."""
    url = feed_server.serve("/w.xml", BODY)
    with database.session() as session:
        feed_id = add_feed(session, url, trust="auto").id
    services = celery_app.wiredesk
    assert ingest_feed(services, feed_id, enqueue=list).counts == {"new": 3}
    return services, feed_id, _articles(feed_id, BODY)[1].id


def test_a_feed_that_flip_flops_makes_no_new_revisions(database: Any) -> None:
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/w.xml").id
    edited = BODY.replace(TITLE, TITLE + b" (updated)")
    outcomes = []
    for body in (BODY, edited, BODY, edited):
        with database.session() as session:
            outcomes.append(article_store.upsert_many(session, _articles(feed_id, body))[1])
    assert outcomes == ["new", "updated", "unchanged", "unchanged"]


def test_revisions_are_capped(database: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(article_store, "MAX_REVISIONS", 3)
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/w.xml").id
    outcomes = []
    for n in range(5):
        body = BODY.replace(TITLE, TITLE + f" v{n}".encode())
        with database.session() as session:
            outcomes.append(article_store.upsert_many(session, _articles(feed_id, body))[1])
    assert outcomes == ["new", "updated", "updated", "capped", "capped"]


def test_deleted_articles_do_not_come_back(celery_app: Any, database: Any,
                                           feed_server: Any) -> None:
    services, feed_id, victim = _fed_once(celery_app, database, feed_server)
    with database.session() as session:
        assert article_store.delete_article(session, victim, "legal asked us to take it down")
    feed_server.serve("/w.xml", BODY + b"\n")  # a new ETag: the feed is read again in full
    report = ingest_feed(services, feed_id, enqueue=list)
    assert report.counts == {"unchanged": 2, "tombstoned": 1} and report.enqueued == []
    with database.session() as session:
        assert session.get(models.Article, victim) is None
        tombstone = session.get(models.ArticleTombstone, victim)
        assert tombstone.reason == "legal asked us to take it down"
        assert session.scalar(select(func.count()).select_from(models.ArticleRevision).where(
            models.ArticleRevision.article_id == victim)) == 0


def test_an_entry_deleted_while_its_feed_is_being_stored_stays_deleted(
        celery_app: Any, database: Any, feed_server: Any) -> None:
    """The delete commits while a fetch of its feed waits on it: the fetch must see the
    tombstone, not read the tombstones before the delete committed and insert the entry anew."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL (SQLite runs one writer)")
    services, feed_id, victim = _fed_once(celery_app, database, feed_server)
    feed_server.serve("/w.xml", BODY + b"\n")  # a new ETag: the feed is read again in full
    reports: list[Any] = []
    fetch = threading.Thread(target=lambda: reports.append(
        ingest_feed(services, feed_id, enqueue=list)))
    with database.session() as session:
        assert article_store.delete_article(session, victim, "taken down")
        fetch.start()
        # The fetch reaches the store and waits for the delete's transaction.
        wait_until(lambda: lock_waiters(database) > 0, timeout=30)
    fetch.join(timeout=30)
    assert reports and reports[0].counts == {"unchanged": 2, "tombstoned": 1}
    with database.session() as session:
        assert session.get(models.Article, victim) is None

