"""Storing a feed's entries in one go: new, unchanged and revised rows, and repeats."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from wiredesk.identity import content_hash
from wiredesk.schemas import Article
from wiredesk.store import models
from wiredesk.store.articles import to_article, upsert_many
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
        # Only replaced versions are history: y's first and z's first (the row holds the rest).
        assert revisions == {again[1].id: 1, again[2].id: 1}
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


def test_story_candidates_share_an_entity_id_or_a_keyword_stem(database: Any) -> None:
    from datetime import timedelta

    from wiredesk.pipeline.stages.dedupe import candidate_keys
    from wiredesk.schemas import Entity
    from wiredesk.store.articles import story_candidates, write_enrichment

    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed-candidates").id
    rubio = Entity("person", "Marco Rubio", "Q324546")
    stored = {
        "entity": ([rubio], ["Gulf talks"]),
        "keyword": ([], ["Riyadh summit", "ministers"]),  # shares stems "riyad" and "summi"
        "both": ([rubio], ["Riyadh summit"]),
        "unrelated": ([], ["football final"]),
    }
    with database.session() as session:
        upsert_many(session, [_article(feed_id, key, key) for key in stored])
        for key, (entities, keywords) in stored.items():
            row = session.get(models.Article, f"a1-{key:0>32}")
            session.add(models.Story(id=f"s1-{key:0>32}", canonical_article_id=row.id))
            session.flush()
            write_enrichment(row, to_article(row).replace(
                entities=entities, keywords=keywords, language="en", story_id=f"s1-{key:0>32}"))
    new = _article(feed_id, "new", "new").replace(entities=[rubio], language="en-US",
                                                  keywords=["Riyadh summits"])
    with database.session() as session:
        found = story_candidates(session, new, models.utcnow() - timedelta(hours=1),
                                 keys=candidate_keys)
    # The article sharing most keys first; no shared key, no candidate.
    assert [a.guid for a in found][0] == "both"
    assert {a.guid for a in found} == {"both", "entity", "keyword"}


def test_a_new_normalizer_version_makes_no_revision_of_unchanged_entries(database: Any) -> None:
    """Content hashes carry the normalizer's version: after an upgrade that changed it, every
    entry still in every feed hashed differently from its row, and each came back as a revision
    at its next fetch (reprocessed, its story's version moved for consumers). A row whose stored
    text hashes, under the new version, to the incoming hash takes that hash; a real change is
    still a revision."""
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed-renormalized").id
    kept, edited = _article(feed_id, "k", "İstanbul talks"), _article(feed_id, "e", "one")
    with database.session() as session:
        assert upsert_many(session, [kept, edited]) == ["new", "new"]
        for row in session.scalars(select(models.Article)):  # as an older normalizer stored them
            row.content_hash = "c1n0-" + row.content_hash.split("-", 1)[1]
    again = [kept, _article(feed_id, "e", "one, corrected")]
    with database.session() as session:
        assert upsert_many(session, again) == ["unchanged", "updated"]
    with database.session() as session:
        row = session.get(models.Article, kept.id)
        assert (row.revision, row.content_hash) == (1, kept.content_hash)
        assert session.get(models.Article, edited.id).revision == 2
        assert upsert_many(session, [kept]) == ["unchanged"]
