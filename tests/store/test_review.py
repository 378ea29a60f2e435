"""Editors decide what routing held: approve publishes the story, reject keeps it off."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers import store_sample_feed
from wiredesk.cli import main
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import models
from wiredesk.store.review import NotPending, decide, pending

TOKEN = "review-token"


@pytest.fixture
def held(celery_app: Any, database: Any) -> list[str]:
    ids = store_sample_feed(database, trust="review")
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "pending_review"
    return ids


def test_approve_and_reject(held: list[str], database: Any, publisher: Any) -> None:
    assert publisher.get("/api/v1/stories").get_json()["data"] == []
    with database.session() as session:
        assert [r.id for r in pending(session)] == held
        assert decide(session, held[0], "approve", "amal", "checked with the desk") == "published"
        assert decide(session, held[1], "reject", "amal") == "rejected"
    stories = publisher.get("/api/v1/stories").get_json()["data"]
    assert [s["altIds"][0]["value"] for s in stories] == ["wiredesk-sample-en-0001"]
    with database.session() as session:
        row = session.get(models.Article, held[0])
        assert row.routing_rule == "editor:amal"
        assert row.routing_reason == "approved by amal: checked with the desk"
        assert session.get(models.Story, session.get(models.Article, held[1]).story_id
                           ).status == "rejected"
        with pytest.raises(NotPending):  # decided already: a second click changes nothing
            decide(session, held[0], "reject", "omar")


def test_cli_and_admin_api(held: list[str], config: Any, database: Any) -> None:
    from wiredesk.publisher.app import create_app

    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url}
    listing = CliRunner().invoke(main, ["review", "list"], env=env)
    assert all(article_id in listing.output for article_id in held)
    done = CliRunner().invoke(main, ["review", "decide", held[0], "approve", "--editor", "amal"],
                              env=env)
    assert done.exit_code == 0 and "published" in done.output

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert [r["id"] for r in client.get("/admin/api/review", headers=auth).json["data"]] == held[1:]
    answer = client.post(f"/admin/api/review/{held[1]}", headers=auth,
                         json={"decision": "reject", "editor": "omar", "note": "off-topic"})
    assert answer.json == {"id": held[1], "status": "rejected"}
    assert client.post(f"/admin/api/review/{held[1]}", headers=auth,
                       json={"decision": "approve", "editor": "omar"}).status_code == 409


def test_decide_without_redis_url_says_so_and_decides_nothing(held: list[str], config: Any,
                                                              database: Any) -> None:
    """`make run` starts its own Valkey, so an operator's shell has no REDIS_URL: the decision
    was committed, then the event's Redis URL raised a traceback, and trying again said the
    article was not waiting for review."""
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": ""}
    done = CliRunner().invoke(main, ["review", "decide", held[0], "approve", "--editor", "amal"],
                              env=env)
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), done.exception
    assert "REDIS_URL" in done.output and "Traceback" not in done.output
    with database.session() as session:
        assert session.get(models.Article, held[0]).status == "pending_review"


def test_decisions_through_the_admin_api_are_events_like_the_cli_ones(
        held: list[str], config: Any, database: Any, redis_client: Any) -> None:
    """The desk and subscribers read decisions from the events stream: the CLI sent them, the
    admin API did not."""
    from tests.helpers import events_of
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = app.test_client().post(f"/admin/api/review/{held[0]}", headers=auth,
                                    json={"decision": "approve", "editor": "omar"})
    assert answer.json == {"id": held[0], "status": "published"}
    assert events_of(redis_client, "article.published")[-1] == {"article_id": held[0],
                                                              "editor": "omar"}


def test_a_rejection_reads_rejected(held: list[str], database: Any) -> None:
    with database.session() as session:
        decide(session, held[0], "reject", "amal", "off topic")
    with database.session() as session:
        assert session.get(models.Article, held[0]).routing_reason == "rejected by amal: off topic"


def test_rejecting_a_revision_of_a_rejected_article_brings_nothing_back(
        held: list[str], celery_app: Any, database: Any) -> None:
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.ingester.parse import parse_feed
    from wiredesk.store import articles as article_store

    with database.session() as session:
        assert decide(session, held[0], "reject", "amal") == "rejected"
        row = session.get(models.Article, held[0])
        feed_id, first_sentence = row.feed_id, row.body_text.split(".")[0]
    body = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_text(encoding="utf-8")
    revised = parse_feed(body.replace(first_sentence, first_sentence + ", it said").encode(),
                         feed_id=feed_id, url="http://127.0.0.1/world-wire.xml")
    with database.session() as session:
        assert article_store.upsert(
            session, next(a for a in revised.articles if a.id == held[0])) == "updated"
    assert process_article(celery_app.wiredesk, held[0]) == "pending_review"
    with database.session() as session:
        assert decide(session, held[0], "reject", "omar") == "rejected"
        assert "it said" in session.get(models.Article, held[0]).body_text
