"""Deleting an article through the admin API leaves a tombstone and says why."""

from __future__ import annotations

from typing import Any

from tests.helpers import store_sample_article
from wiredesk.store import models

TOKEN = "admin-token-for-tests"


def test_delete_article(config: Any, database: Any) -> None:
    from wiredesk.publisher.app import create_app

    article = store_sample_article(database)
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


def test_deleting_an_article_twice_at_once_is_one_delete_and_one_404(config: Any,
                                                                     database: Any) -> None:
    """Two deletes of one article at once (a double click, a client's retry): the second waited
    on the feed's lock, then deleted the row already gone and answered 200 too, its reason
    replacing the first's on the tombstone and the story's version moving a second time."""
    import threading

    import httpx
    import pytest
    from sqlalchemy import text

    from tests.helpers import lock_waiters, serving_app, wait_until
    from wiredesk.publisher.app import create_app

    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    article = store_sample_article(database)
    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    statuses: list[int] = []
    with serving_app(app) as base:
        url = f"{base}/admin/api/articles/{article.id}"

        def delete() -> None:
            statuses.append(httpx.request("DELETE", url, json={"reason": "duplicate"}, timeout=30,
                                          headers={"Authorization": f"Bearer {TOKEN}"}).status_code)

        with database.engine.connect() as holder:  # a fetch of the feed, storing
            holder.execute(text("SELECT id FROM feeds WHERE id = :id FOR UPDATE"),
                           {"id": article.feed_id})
            threads = [threading.Thread(target=delete) for _ in range(2)]
            for thread in threads:
                thread.start()
            wait_until(lambda: lock_waiters(database) == 2,
                       message="both deletes waiting on the feed's lock")
            holder.rollback()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(statuses) == [200, 404]
    with database.session() as session:
        assert session.get(models.Article, article.id) is None
        assert session.get(models.ArticleTombstone, article.id).reason == "duplicate"
