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
