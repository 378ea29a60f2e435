"""Storing a feed's entries in one go: new, unchanged and revised rows, and repeats."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from wiredesk.identity import content_hash
from wiredesk.schemas import Article
from wiredesk.store import models
from wiredesk.store.articles import upsert_many
from wiredesk.store.feeds import add_feed


def _article(feed_id: int, key: str, text: str) -> Article:
    return Article(id=f"a1-{key:0>32}", feed_id=feed_id, guid=key, url=None, title=key,
                   body_text=text, content_hash=content_hash(key, text))


def test_upsert_many_inserts_revises_and_skips(database: Any) -> None:
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed").id
    first = [_article(feed_id, "x", "one"), _article(feed_id, "y", "two")]
    with database.session() as session:
        assert upsert_many(session, first) == ["new", "new"]
    again = [_article(feed_id, "x", "one"), _article(feed_id, "y", "two, corrected"),
             _article(feed_id, "z", "three"), _article(feed_id, "z", "three, again")]
    with database.session() as session:
        assert upsert_many(session, again) == ["unchanged", "updated", "new", "updated"]
    with database.session() as session:
        revisions = dict(session.execute(
            select(models.ArticleRevision.article_id, func.count())
            .group_by(models.ArticleRevision.article_id)).all())
        assert sorted(revisions.values()) == [1, 2, 2]
        row = session.get(models.Article, again[1].id)
        assert row.revision == 2 and row.body_text == "two, corrected" and row.status == "received"


def test_upsert_many_repeated_known_id_compares_with_the_latest_content(database: Any) -> None:
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed-repeat").id
    with database.session() as session:
        assert upsert_many(session, [_article(feed_id, "r", "one")]) == ["new"]
    # Only the row whose content changed is loaded; a repeat then compares with what was written.
    repeated = [_article(feed_id, "r", "one"), _article(feed_id, "r", "two"),
                _article(feed_id, "r", "two")]
    with database.session() as session:
        assert upsert_many(session, repeated) == ["unchanged", "updated", "unchanged"]
    with database.session() as session:
        assert session.get(models.Article, repeated[0].id).revision == 2
