"""Editors correct an article's IPTC topics: the article and its published story change, and
the correction is kept as a labeled example the categorizer's next training reads."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.helpers import store_sample_feed
from wiredesk.cli import main
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import models
from wiredesk.store.corrections import (
    NoArticle,
    UnknownTopic,
    correct_topics,
    labeled_examples,
)
from wiredesk.training import categorizer as training

TOKEN = "corrections-token"
SPORT, HEALTH = "medtop:15000000", "medtop:07000000"


@pytest.fixture
def published(celery_app: Any, database: Any) -> list[str]:
    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    return ids


def _story(publisher: Any, article_id: str, database: Any) -> dict[str, Any]:
    with database.session() as session:
        story_id = session.get(models.Article, article_id).story_id
    return publisher.get(f"/api/v1/stories/{story_id}").get_json()


def test_admin_api_corrects_topics_and_the_story_shows_them(
    published: list[str], database: Any, publisher: Any, config: Any
) -> None:
    from wiredesk.publisher.app import create_app

    article_id = published[0]
    before = _story(publisher, article_id, database)
    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/admin/api/articles/{article_id}/topics"
    assert client.put(path, json={"qcodes": [SPORT], "editor": "amal"}).status_code == 401
    assert client.put(path, json={"qcodes": ["medtop:99999999"], "editor": "amal"},
                      headers=auth).status_code == 422
    assert client.put(path, json={"qcodes": [SPORT]}, headers=auth).status_code == 422
    assert client.put("/admin/api/articles/nope/topics", json={"qcodes": [SPORT],
                      "editor": "amal"}, headers=auth).status_code == 404
    reply = client.put(path, json={"qcodes": [SPORT, "medtop:20000822"], "editor": "amal"},
                       headers=auth)
    assert reply.status_code == 200, reply.get_json()
    assert [c["qcode"] for c in reply.get_json()["categories"]] == [SPORT, "medtop:20000822"]

    after = _story(publisher, article_id, database)
    assert [s["literal"] for s in after["subjects"]] == [SPORT, "medtop:20000822"]
    assert after["subjects"][0]["relevance"] == 100
    assert after["versionCreated"] > before["versionCreated"]


def test_cli_and_labeled_examples_keep_the_latest_correction(
    published: list[str], database: Any, config: Any
) -> None:
    runner = CliRunner(env={"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url})
    first = runner.invoke(main, ["review", "topics", published[0], SPORT, "--editor", "amal"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["review", "topics", published[0], HEALTH, "--editor", "omar"])
    assert again.exit_code == 0 and HEALTH in again.output
    bad = runner.invoke(main, ["review", "topics", published[1], "sport", "--editor", "omar"])
    assert bad.exit_code != 0 and "not IPTC" in bad.output
    with database.session() as session:
        with pytest.raises(NoArticle):
            correct_topics(session, "missing", [SPORT], "omar")
        with pytest.raises(UnknownTopic):
            correct_topics(session, published[1], [], "omar")
        examples = labeled_examples(session)
        title = session.get(models.Article, published[0]).title
        corrections = session.query(models.TopicCorrection).order_by(
            models.TopicCorrection.id).all()
    assert [(lang, qcodes) for _, lang, qcodes in examples] == [("en", [HEALTH])]
    assert examples[0][0].startswith(title) and len(examples[0][0]) > len(title)
    assert [c.editor for c in corrections] == ["amal", "omar"]
    assert corrections[1].previous == [SPORT]


def test_training_reads_the_stored_corrections(
    published: list[str], database: Any, config: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    with database.session() as session:
        for article_id in published:
            correct_topics(session, article_id, [SPORT], "amal")
    monkeypatch.setenv("DATABASE_URL", config.sqlalchemy_url)
    assert len(training.stored_corrections()) == len(published)
    out = tmp_path / "model.joblib"
    training.main(["--no-corpus", "--out", str(out)])
    from wiredesk.pipeline.stages.categorize import load_categorizer

    assert load_categorizer(out).metadata["corrections"] == len(published)
    training.main(["--no-corpus", "--no-corrections", "--out", str(out)])
    assert load_categorizer(out).metadata["corrections"] == 0


def test_a_subtopic_alone_keeps_the_story_in_its_top_level_topic_feed(
    published: list[str], database: Any, publisher: Any
) -> None:
    economy, its_subtopic = "medtop:04000000", "medtop:20000344"
    with database.session() as session:
        categories = correct_topics(session, published[0], [its_subtopic], "amal")
    assert [c["qcode"] for c in categories] == [its_subtopic, economy]
    story = _story(publisher, published[0], database)
    feed = publisher.get("/feeds/topic/04000000.json").get_json()
    assert story["uri"] in {item["id"] for item in feed["items"]}


def test_the_ninjs_version_only_counts_up(
    published: list[str], database: Any, publisher: Any, celery_app: Any
) -> None:
    from wiredesk.store.articles import delete_article, upsert
    from wiredesk.store.feeds import add_feed

    # The same wire copy from a second feed: each becomes another source of a published story.
    with database.session() as session:
        other = add_feed(session, "http://127.0.0.1/reprints.xml", trust="auto").id
    reprints = parse_feed((SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes(), feed_id=other,
                          url="http://127.0.0.1/reprints.xml").articles[:1]
    with database.session() as session:
        upsert(session, reprints[0])
    assert process_article(celery_app.wiredesk, reprints[0].id) == "published"
    with database.session() as session:
        grown = session.get(models.Article, reprints[0].id).story_id
        members = session.scalars(select(models.Article.id).where(
            models.Article.story_id == grown).order_by(models.Article.id)).all()
    assert len(members) > 1
    versions = [int(_story(publisher, members[0], database)["version"])]
    with database.session() as session:  # a correction consumers should notice
        correct_topics(session, members[0], [SPORT], "amal")
    versions.append(int(_story(publisher, members[0], database)["version"]))
    with database.session() as session:  # a source leaves the story
        assert delete_article(session, members[-1], "withdrawn by the outlet")
    versions.append(int(_story(publisher, members[0], database)["version"]))
    assert versions == sorted(set(versions)), versions  # strictly increasing
