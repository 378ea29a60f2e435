"""Migration 0002 on a database that already holds feeds: existing rows get the defaults."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from wiredesk.store.db import MIGRATIONS_DIR


def _migrate(database: Any, target: str, downgrade: bool = False) -> None:
    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(alembic_config, target)


def test_0002_upgrades_existing_feeds_and_downgrades(database: Any) -> None:
    _migrate(database, "0001", downgrade=True)
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO feeds (url, name, trust, interval_seconds, enabled, error_count, "
            "created_at) VALUES ('https://example.org/rss', 'x', 'review', 900, true, 0, "
            "CURRENT_TIMESTAMP)"))
    _migrate(database, "head")
    with database.engine.connect() as connection:
        row = connection.execute(text(
            "SELECT date_zone, identity_rule, full_text, websub_state FROM feeds")).one()
    assert tuple(row) == ("UTC", "guid", False, None)


def test_migrations_build_exactly_the_models(database: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from wiredesk.store.models import Base

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # Type-only differences between dialect reflections are not drift; structure is.
    structural = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert structural == [], structural


def test_0007_keeps_only_earlier_versions_in_the_history_and_downgrades(database: Any) -> None:
    from wiredesk.store.feeds import add_feed

    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed").id
    _migrate(database, "0006", downgrade=True)
    with database.engine.begin() as connection:  # as 0006 stored them: every version
        for article_id, revision in (("a1-once", 1), ("a1-twice", 2)):
            connection.execute(text(
                "INSERT INTO articles (id, feed_id, title, summary, body_html, body_text,"
                " authors, revision, status, content_hash, entities, keywords, categories,"
                " date_flags, status_changed_at, created_at) VALUES (:id, :feed, 't', '', '',"
                " '', '[]', :revision, 'published', :hash, '[]', '[]', '[]', '[]',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": article_id, "feed": feed_id, "revision": revision,
                 "hash": f"h{revision}"})
            for n in range(1, revision + 1):
                connection.execute(text(
                    "INSERT INTO article_revisions (article_id, revision, content_hash, title,"
                    " summary, body_html, created_at) VALUES (:id, :n, :hash, 't', '', '',"
                    " CURRENT_TIMESTAMP)"), {"id": article_id, "n": n, "hash": f"h{n}"})

    def history() -> list[tuple[str, int]]:
        with database.engine.connect() as connection:
            return sorted(tuple(row) for row in connection.execute(text(
                "SELECT article_id, revision FROM article_revisions")))

    _migrate(database, "head")
    assert history() == [("a1-twice", 1)]
    _migrate(database, "0006", downgrade=True)
    assert history() == [("a1-once", 1), ("a1-twice", 1), ("a1-twice", 2)]
    _migrate(database, "head")


def test_0008_starts_story_versions_where_consumers_saw_them_and_downgrades(
        database: Any) -> None:
    from wiredesk.store.feeds import add_feed

    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed").id
    _migrate(database, "0007", downgrade=True)
    with database.engine.begin() as connection:
        for story_id in ("s1-two-sources", "s1-none"):
            connection.execute(text(
                "INSERT INTO stories (id, canonical_article_id, status, created_at, updated_at)"
                " VALUES (:id, 'a1-x', 'published', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": story_id})
        for article_id, revision in (("a1-x", 2), ("a1-y", 1)):  # shown as version 2 + 2 - 1
            connection.execute(text(
                "INSERT INTO articles (id, feed_id, title, summary, body_html, body_text,"
                " authors, revision, status, content_hash, entities, keywords, categories,"
                " date_flags, status_changed_at, created_at, story_id) VALUES (:id, :feed, 't',"
                " '', '', '', '[]', :revision, 'published', 'h', '[]', '[]', '[]', '[]',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 's1-two-sources')"),
                {"id": article_id, "feed": feed_id, "revision": revision})
    _migrate(database, "head")
    with database.engine.connect() as connection:
        versions = dict(connection.execute(text("SELECT id, version FROM stories")).all())
    assert versions == {"s1-two-sources": 3, "s1-none": 1}
    _migrate(database, "0007", downgrade=True)
    _migrate(database, "head")


def test_0010_keeps_earlier_versions_without_enrichment_and_downgrades(database: Any) -> None:
    """Versions stored before 0010 keep NULL enrichment, which reads as "not kept": the
    publisher and the review's restore then go on with the row's own."""
    from wiredesk.store import models
    from wiredesk.store.articles import version_content
    from wiredesk.store.feeds import add_feed

    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/feed").id
    _migrate(database, "0009", downgrade=True)
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO articles (id, feed_id, title, summary, body_html, body_text, authors,"
            " revision, status, content_hash, entities, keywords, categories, date_flags,"
            " status_changed_at, created_at) VALUES ('a1-x', :feed, 't2', '', '', '', '[]', 2,"
            " 'pending_review', 'h2', '[]', '[]', '[]', '[]', CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP)"), {"feed": feed_id})
        connection.execute(text(
            "INSERT INTO article_revisions (article_id, revision, content_hash, title, summary,"
            " body_html, status, created_at) VALUES ('a1-x', 1, 'h1', 't1', '', '<p>one</p>',"
            " 'published', CURRENT_TIMESTAMP)"))
    _migrate(database, "head")
    with database.session() as session:
        version = session.query(models.ArticleRevision).one()
        assert version.categories is None and version.language is None
        assert version_content(version) == {"title": "t1", "summary": "", "body_html":
                                            "<p>one</p>", "body_text": "one",
                                            "content_hash": "h1", "edited_by": None}
    _migrate(database, "0009", downgrade=True)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT title FROM article_revisions")).scalar() == "t1"
    _migrate(database, "head")


def test_0012_adds_editors_and_the_audit_trail_and_downgrades(database: Any) -> None:
    from sqlalchemy import inspect

    from wiredesk.store.editors import add_editor, audit, audit_trail

    with database.session() as session:
        add_editor(session, "amal", "a long password")
        audit(session, "amal", "approve", "a1-x", "s1-x", "checked")
    with database.session() as session:
        assert [(e.editor, e.action, e.note) for e in audit_trail(session, "a1-x")] == [
            ("amal", "approve", "checked")]
    _migrate(database, "0011", downgrade=True)
    tables = inspect(database.engine).get_table_names()
    assert "editors" not in tables and "audit_log" not in tables
    _migrate(database, "head")
    assert {"editors", "audit_log"} <= set(inspect(database.engine).get_table_names())


def test_0015_adds_hub_subscriptions_and_deliveries_and_downgrades(database: Any) -> None:
    from sqlalchemy import inspect

    from wiredesk.store.subscriptions import request

    with database.session() as session:
        pending = request(session, mode="subscribe", topic="http://127.0.0.1:8000/feeds/all.atom",
                          callback="http://127.0.0.1:9/cb", secret="s", lease_seconds=3600)
    assert pending is not None
    _migrate(database, "0014", downgrade=True)
    tables = set(inspect(database.engine).get_table_names())
    assert not {"hub_subscriptions", "hub_deliveries"} & tables
    assert "audit_log" in tables
    _migrate(database, "head")
    assert {"hub_subscriptions", "hub_deliveries"} <= set(
        inspect(database.engine).get_table_names())


def test_0016_adds_story_kills_and_downgrades(database: Any) -> None:
    from sqlalchemy import inspect

    def columns() -> set[str]:
        return {c["name"] for c in inspect(database.engine).get_columns("stories")}

    assert {"killed_at", "last_shown"} <= columns()
    _migrate(database, "0015", downgrade=True)
    assert not {"killed_at", "last_shown"} & columns()
    _migrate(database, "head")
    assert {"killed_at", "last_shown"} <= columns()


def test_0017_adds_article_embeddings_and_downgrades(database: Any) -> None:
    from sqlalchemy import inspect

    def columns() -> set[str]:
        return {c["name"] for c in inspect(database.engine).get_columns("articles")}

    assert "embedding" in columns()
    _migrate(database, "0016", downgrade=True)
    assert "embedding" not in columns() and "edited_by" in columns()
    _migrate(database, "head")
    assert "embedding" in columns()
