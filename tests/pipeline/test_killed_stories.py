"""A killed story stays killed: its feed serving the entry again (as it was, or changed) brings
nothing back; another report of it is held for an editor, who cannot approve it into the
killed story (a split gives it a story of its own); no editor's story change mixes killed copy
with live copy; and a report committed while the kill runs waits for it, then is held."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    PUBLISH_EVERYTHING,
    pause_after,
    put_rules_in_force,
    second_waits_for_first,
    store_reprint,
    store_sample_feed,
)
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.tasks import ingest_feed
from wiredesk.pipeline.tasks import KILLED_STORY_RULE, process_article
from wiredesk.publisher.stories import get_killed, get_story
from wiredesk.store import articles as article_store
from wiredesk.store import models, review
from wiredesk.store import stories as story_store
from wiredesk.store.feeds import add_feed

BODY = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes()
TITLE = b"Central bank holds interest rates steady as inflation cools"


def _story_of(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).story_id  # type: ignore[union-attr]


def _article(database: Any, article_id: str) -> models.Article:
    with database.session() as session:
        row = session.get(models.Article, article_id)
        session.expunge(row)
        return row  # type: ignore[return-value]


def _kill(database: Any, story_id: str) -> story_store.Killed:
    with database.session() as session:
        return story_store.kill(session, story_id, "amal", "wrong figures")


def _published_story(celery_app: Any, database: Any) -> tuple[str, str]:
    """The sample wire's first article, published: (article id, story id)."""
    article_id = store_sample_feed(database)[0]
    assert process_article(celery_app.wiredesk, article_id) == "published"
    return article_id, _story_of(database, article_id)


def test_the_feed_serving_a_killed_entry_again_brings_nothing_back(
        celery_app: Any, database: Any, feed_server: Any, publisher: Any) -> None:
    """The real ingester path: fetched over HTTP, stored, processed; killed; fetched again
    as it was (a new ETag), then with the killed entry changed by its source."""
    put_rules_in_force(database, PUBLISH_EVERYTHING)
    url = feed_server.serve("/w.xml", BODY)
    with database.session() as session:
        feed_id = add_feed(session, url, trust="auto").id
    services = celery_app.wiredesk
    first = ingest_feed(services, feed_id, enqueue=list)
    assert first.counts == {"new": 3}
    for article_id in first.enqueued:
        assert process_article(services, article_id) == "published"
    victim = next(a for a in first.enqueued if TITLE.decode() in _article(database, a).title)
    story_id = _story_of(database, victim)
    assert _kill(database, story_id).articles == [victim]

    feed_server.serve("/w.xml", BODY + b"\n")
    again = ingest_feed(services, feed_id, enqueue=list)
    assert again.counts == {"unchanged": 3} and again.enqueued == []
    feed_server.serve("/w.xml", BODY.replace(TITLE, TITLE + b" (updated)"))
    changed = ingest_feed(services, feed_id, enqueue=list)
    assert changed.counts == {"unchanged": 2, "killed": 1} and changed.enqueued == []

    row = _article(database, victim)
    assert (row.status, row.revision, row.title) == ("retracted", 1, TITLE.decode())
    with database.session() as session:
        assert get_story(session, story_id) is None
        assert get_killed(session, story_id) is not None
    listed = publisher.get("/api/v1/stories").get_json()["data"]
    assert len(listed) == 2 and story_id not in str(listed)
    assert publisher.get(f"/api/v1/stories/{story_id}").get_json()["pubStatus"] == "canceled"


def test_a_report_joining_a_killed_story_is_held_and_never_publishes_it(
        celery_app: Any, database: Any, publisher: Any) -> None:
    services = celery_app.wiredesk
    original_id, killed_id = _published_story(celery_app, database)
    _kill(database, killed_id)
    reprint_id = store_reprint(database, article_store.to_article(
        _article(database, original_id)))
    # Routing would publish it (the reprints feed is trusted): the kill holds it.
    assert process_article(services, reprint_id) == "pending_review"
    reprint = _article(database, reprint_id)
    assert reprint.story_id == killed_id and reprint.routing_rule == KILLED_STORY_RULE
    assert f"joins story {killed_id}, which was killed" in (reprint.routing_reason or "")

    with database.session() as session, pytest.raises(review.StoryKilled):
        review.decide(session, reprint_id, "approve", "amal")
    # Its own story first: then an approval publishes that one, and the killed stays so.
    with database.session() as session:
        split = story_store.split(session, reprint_id)
    with database.session() as session:
        assert review.decide(session, reprint_id, "approve", "amal") == "published"
    with database.session() as session:
        assert get_story(session, killed_id) is None and get_killed(session, killed_id)
        assert get_story(session, split.story_id) is not None
    listed = publisher.get("/api/v1/stories").get_json()["data"]
    assert [d["uri"].rsplit("/", 1)[1] for d in listed] == [split.story_id]


def test_no_story_change_mixes_killed_copy_with_live_copy(celery_app: Any,
                                                          database: Any) -> None:
    """Nor does a delete of the killed article make the killed story's row go (its URI 404)."""
    ids = store_sample_feed(database)
    for article_id in ids[:2]:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    killed_article, live_article = ids[:2]
    killed_id, live_id = _story_of(database, killed_article), _story_of(database, live_article)
    _kill(database, killed_id)
    refusals = {
        "merge": lambda s: story_store.merge(s, live_id, killed_id),
        "move into": lambda s: story_store.move(s, live_article, killed_id),
        "move out": lambda s: story_store.move(s, killed_article, live_id),
        "split": lambda s: story_store.split(s, killed_article),
        "kill again": lambda s: story_store.kill(s, killed_id, "amal", "again"),
        "kill unpublished": lambda s: story_store.kill(s, _unpublished(s), "amal", "x"),
    }
    for what, act in refusals.items():
        with database.session() as session, pytest.raises(story_store.StoryChangeRefused):
            act(session)
            pytest.fail(f"{what} was not refused")
    with database.session() as session:
        assert session.get(models.Story, killed_id).status == "retracted"  # type: ignore[union-attr]
        assert get_story(session, live_id) is not None
    with database.session() as session:  # its last article deleted: the story stays killed
        assert article_store.delete_article(session, killed_article, "legal") is not None
    with database.session() as session:
        assert get_killed(session, killed_id) is not None


def _unpublished(session: Any) -> str:
    story = models.Story(id="s1-" + "f" * 32, canonical_article_id="none", status="received")
    session.add(story)
    session.flush()
    return story.id


def test_a_report_committed_while_the_kill_runs_waits_for_it_then_is_held(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """The kill holds the story's lock while it works; a worker saving a report of the story
    meanwhile waits, then reads the story killed. Without the lock (or reading the story
    before it), the report was published and the killed story with it."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL (SQLite runs one writer)")
    from wiredesk.publisher import stories as publisher_stories

    original_id, story_id = _published_story(celery_app, database)
    reprint_id = store_reprint(database, article_store.to_article(
        _article(database, original_id)))
    paused, go = pause_after(monkeypatch, publisher_stories, "get_story", "kill")
    results = second_waits_for_first(
        database, ("kill", lambda: _kill(database, story_id)),
        ("worker", lambda: process_article(celery_app.wiredesk, reprint_id)), paused, go)
    assert isinstance(results["kill"], story_store.Killed), results
    assert results["worker"] == "pending_review"
    with database.session() as session:
        assert session.get(models.Story, story_id).status == "retracted"  # type: ignore[union-attr]
        assert get_story(session, story_id) is None


def test_a_topic_correction_of_killed_copy_leaves_the_killed_story_as_it_was(
        celery_app: Any, database: Any) -> None:
    """The editor's topics are kept (training data), but the killed story's version no longer
    moves: it did, and the announcement after the correction pushed every subscriber a second
    tombstone, and a kill's push still being retried was skipped as an earlier version."""
    from wiredesk.store.corrections import correct_topics

    article_id, story_id = _published_story(celery_app, database)
    _kill(database, story_id)
    with database.session() as session:
        before = get_killed(session, story_id)
    with database.session() as session:
        correct_topics(session, article_id, ["medtop:04000000"], "amal")
    with database.session() as session:
        assert get_killed(session, story_id) == before
        assert "medtop:04000000" in {c["qcode"] for c in _article(database, article_id).categories}
