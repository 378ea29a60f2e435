"""The desk app on the test database and Redis, and an editor to log in as."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wiredesk.config import Config

SECRET = "desk-test-secret"
EDITOR, PASSWORD = "amal", "correct horse battery"


@pytest.fixture
def desk_app(config: Config, database: Any, redis_client: Any) -> Any:
    from wiredesk.desk.app import create_app
    from wiredesk.store.editors import add_editor

    with database.session() as session:
        add_editor(session, EDITOR, PASSWORD)
    app = create_app(config.replace(desk_secret_key=SECRET))
    app.extensions["wiredesk_db"] = database
    return app


def csrf_token(client: Any, path: str = "/login") -> str:
    """The CSRF token a page's forms carry (the session's, so one per client)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client: Any, name: str = EDITOR, password: str = PASSWORD, **extra: str) -> Any:
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf_token(client), **extra})


@pytest.fixture
def editor(desk_app: Any) -> Any:
    """A test client logged in as EDITOR."""
    client = desk_app.test_client()
    assert log_in(client).status_code == 303
    return client


def store_sample(database: Any, name: str) -> list[str]:
    """The articles of one bundled sample feed, stored as the ingester stores them, from a
    feed (named after the file) whose copy routing holds for review."""
    from tests.helpers import store_sample_feed

    return store_sample_feed(database, name, trust="review", name=name.removesuffix(".xml"))


def hold(celery_app: Any, article_ids: list[str]) -> list[str]:
    """Run the pipeline on each article, as a worker would: routing holds it for review."""
    from wiredesk.pipeline.tasks import process_article

    for article_id in article_ids:
        assert process_article(celery_app.wiredesk, article_id) == "pending_review"
    return article_ids
