"""Deleting an article (admin API, CLI) of a published story: subscribers learn what consumers
now see. Before, the story's version moved (a source fewer, perhaps another canonical report)
and nothing was pushed, so subscribers kept the deleted copy as the story's."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from tests.deliver.subscriber import Subscriber
from tests.deliver.test_kills import TOKEN, publisher_client
from tests.deliver.test_push import subscribed
from tests.helpers import celery_worker, killed, store_reprint, store_sample_feed, wait_until
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import models


def two_source_story(celery_app: Any, database: Any) -> tuple[str, str, str]:
    """A published story of two reports (an original and a reprint): (story, canonical, other)."""
    original_id = store_sample_feed(database)[0]
    assert process_article(celery_app.wiredesk, original_id) == "published"
    with database.session() as session:
        original = session.get(models.Article, original_id)
        from wiredesk.store.articles import to_article

        reprint_id = store_reprint(database, to_article(original))
    assert process_article(celery_app.wiredesk, reprint_id) == "published"
    with database.session() as session:
        story = session.get(models.Story, original.story_id)
        assert session.get(models.Article, reprint_id).story_id == story.id
        canonical = story.canonical_article_id
    other = reprint_id if canonical == original_id else original_id
    return story.id, canonical, other


def quiet_story(celery_app: Any, database: Any, redis_client: Any) -> tuple[str, str, str]:
    """``two_source_story``, its own announcements dropped (no worker ran yet): what a test
    sees pushed comes after."""
    made = two_source_story(celery_app, database)
    redis_client.delete("deliver")
    return made


def delete(via: str, config: Any, database: Any, celery_app: Any, article_id: str,
           reason: str = "wrong") -> None:
    """Delete an article as an operator does: through the admin API or the CLI."""
    if via == "api":
        answer = publisher_client(config, database, celery_app).delete(
            f"/admin/api/articles/{article_id}", json={"reason": reason},
            headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200, answer.text
    else:
        from tests.test_cli import run

        done = run(config, "articles", "delete", article_id, "--reason", reason)
        assert done.exit_code == 0, done.output


@pytest.mark.parametrize("via", ["api", "cli"])
def test_deleting_a_published_storys_canonical_report_pushes_the_story_without_it(
        via: str, config: Any, celery_app: Any, database: Any, redis_client: Any,
        subscriber: Subscriber) -> None:
    story_id, canonical, other = quiet_story(celery_app, database, redis_client)
    subscribed(database, subscriber.url())
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        delete(via, config, database, celery_app, canonical)
        (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the new version")
    (entry,) = feedparser.parse(push.body).entries
    with database.session() as session:
        assert entry.title == session.get(models.Article, other).title
        assert session.get(models.Story, story_id).canonical_article_id == other


@pytest.mark.parametrize("via", ["api", "cli"])
def test_deleting_the_only_report_of_a_published_story_withdraws_it_and_says_so(
        via: str, config: Any, celery_app: Any, database: Any, redis_client: Any,
        subscriber: Subscriber) -> None:
    """Before, the story's row went with its last article: its URI answered 404, it left the
    feeds, and subscribers, who had it, were never told."""
    from tests.deliver.test_kills import (
        assert_tells_of_the_kill,
        assert_withdrawn,
        quiet_published,
    )
    article_id, story_id = quiet_published(celery_app, database, redis_client)
    subscribed(database, subscriber.url())
    deletes = killed(redis_client, "delete")
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        delete(via, config, database, celery_app, article_id, reason="copyright claim")
        (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the withdrawal")
    assert_tells_of_the_kill(push, story_id)
    assert_withdrawn(publisher_client(config, database, celery_app), story_id)
    assert killed(redis_client, "delete") == deletes + 1
    with database.session() as session:
        assert session.get(models.Article, article_id) is None
        assert session.get(models.ArticleTombstone, article_id).reason == "copyright claim"


def test_deleting_the_last_shown_report_of_a_story_withdraws_it_though_a_held_one_stays(
        config: Any, celery_app: Any, database: Any, redis_client: Any) -> None:
    """The story's other report waits for an editor: nothing of the story is left to show.
    Before, the story stayed ``published`` with nothing to show: gone from the feeds, its URI
    404, and nobody told."""
    from tests.deliver.test_kills import assert_withdrawn

    story_id, canonical, other = quiet_story(celery_app, database, redis_client)
    with database.session() as session:
        session.get(models.Article, other).status = "pending_review"
    delete("api", config, database, celery_app, canonical)
    assert_withdrawn(publisher_client(config, database, celery_app), story_id)
    with database.session() as session:
        assert session.get(models.Article, other).status == "pending_review"
