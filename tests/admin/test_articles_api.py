"""Deleting an article through the admin API leaves a tombstone and says why."""

from __future__ import annotations

from typing import Any

from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

TOKEN = "admin-token-for-tests"


def test_delete_article(config: Any, database: Any) -> None:
    from wiredesk.publisher.app import create_app

    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/w.xml").id
    article = parse_feed((SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes(), feed_id=feed_id,
                         url="http://127.0.0.1/w.xml").articles[0]
    with database.session() as session:
        article_store.upsert(session, article)
    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/admin/api/articles/{article.id}"
    assert client.delete(path, json={"reason": "x"}).status_code == 401
    assert client.delete(path, json={}, headers=auth).status_code == 422
    assert client.delete(path, json={"reason": "duplicate of a wire story"},
                         headers=auth).status_code == 200
    assert client.delete(path, json={"reason": "again"}, headers=auth).status_code == 404
    with database.session() as session:
        assert session.get(models.ArticleTombstone, article.id).reason == "duplicate of a wire story"
