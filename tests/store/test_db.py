"""Engine and pool: a connection that died while idle in the pool is replaced, not used."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from wiredesk.store import db as db_module


def _server_ends_the_pooled_connection(database: Any) -> int:
    """PostgreSQL terminates the backend of the pool's one connection; returns its pid."""
    with database.autocommit() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    other = db_module.create_engine(database.config.sqlalchemy_url)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim}).scalar()
    other.dispose()
    return victim


def test_a_connection_killed_while_idle_is_replaced(database: Any, monkeypatch: Any) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (a server that can end a client's connection)")
    # The pool's one connection is now idle; the server ends it (as a restart would).
    victim = _server_ends_the_pooled_connection(database)
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # as if it had idled long enough
    with database.autocommit() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim
    with database.session() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_a_hung_statement_is_cancelled_by_the_statement_timeout(config: Any) -> None:
    """The ingester's threads have no task time limit: the database bounds a stuck query."""
    from sqlalchemy import exc

    if not config.sqlalchemy_url.startswith("postgresql"):
        pytest.skip("statement_timeout is PostgreSQL's")
    quick = db_module.Database(config.replace(db_statement_timeout_seconds=0.2))
    try:
        with pytest.raises(exc.OperationalError, match="statement timeout"):
            with quick.autocommit() as conn:
                conn.execute(text("SELECT pg_sleep(5)"))
        quick.upgrade()  # migrations run without it
        with quick.autocommit() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "200ms"
    finally:
        quick.dispose()


def _feed_statements() -> tuple[Any, Any]:
    from sqlalchemy import bindparam, select, update

    from wiredesk.store.models import Feed

    read = select(Feed.url, Feed.next_fetch_at, Feed.enabled).where(Feed.id == bindparam("id"))
    write = update(Feed).where(Feed.id == bindparam("id_")).values(
        next_fetch_at=bindparam("next_fetch_at"), last_error=bindparam("last_error"))
    return read, write


def test_first_and_rowcount_convert_types_as_core_does(database: Any) -> None:
    """The direct path (PostgreSQL) and the Core path give the same rows and counts."""
    from datetime import UTC, datetime, timedelta, timezone

    from wiredesk.store.models import Feed

    with database.session() as session:
        session.add(Feed(url="http://example.test/feed", enabled=True))
        session.flush()
        feed_id = session.get(Feed, 1).id
    read, write = _feed_statements()
    assert database.first(read, {"id": feed_id}) == ("http://example.test/feed", None, True)
    assert database.first(read, {"id": feed_id + 1}) is None
    # A UTC+2 time is stored as UTC (UTCDateTime's bind conversion) and read back UTC-aware.
    local = datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert database.rowcount(write, {"id_": feed_id, "next_fetch_at": local,
                                     "last_error": None}) == 1
    url, at, enabled = database.first(read, {"id": feed_id})
    assert at == local and at.tzinfo == UTC and enabled is True
    assert database.rowcount(write, {"id_": feed_id + 1, "next_fetch_at": local,
                                     "last_error": "x"}) == 0
    from sqlalchemy import exc

    with pytest.raises(exc.StatementError, match="naive"):
        database.rowcount(write, {"id_": feed_id, "next_fetch_at": datetime(2026, 1, 2),
                                  "last_error": None})
    # The connections went back to the pool transactional: a rolled-back session leaves no trace.
    for _ in range(3):
        with pytest.raises(RuntimeError), database.session() as session:
            session.get(Feed, feed_id).last_error = "rolled back"
            raise RuntimeError
    assert database.first(read, {"id": feed_id})[1] == local
    with database.session() as session:
        assert session.get(Feed, feed_id).last_error is None


def test_a_connection_lost_under_a_direct_statement_is_not_reused(database: Any) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (the direct path is PostgreSQL's)")
    from sqlalchemy import exc

    read, _ = _feed_statements()
    assert database.first(read, {"id": 1}) is None
    # The one pooled connection is ended by the server; it was used a moment ago, so no idle
    # ping catches it: the next statement fails, and the one after gets a new connection.
    victim = _server_ends_the_pooled_connection(database)
    with pytest.raises(exc.OperationalError) as raised:  # what Core raises
        database.first(read, {"id": 1})
    assert raised.value.connection_invalidated
    assert database.first(read, {"id": 1}) is None
    with database.autocommit() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim


def test_copy_rows_stores_what_cores_insert_stores(database: Any) -> None:
    """COPY (new articles on PostgreSQL) and Core's INSERT give the same rows: UTC times,
    JSON, NULLs, and text that COPY must escape (tabs, newlines, backslashes)."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import insert, select

    from wiredesk.store.models import Article, Feed

    local = datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    awkward = "tab\there\nnew line \\N back\\slash 'quote' \"dq\" \u00e9\u4e2d"

    def row(article_id: str) -> dict[str, Any]:
        return {"id": article_id, "feed_id": 1, "guid": None, "url": "http://example.test/a",
                "title": awkward, "summary": "", "body_html": "<p>\\</p>", "body_text": awkward,
                "authors": ["A\tB", "C"], "published_at": local, "updated_at": None,
                "fetched_at": local, "content_hash": "c1", "language_hint": None,
                "published_raw": "Fri, 02 Jan 2026 12:00:00 +0200", "updated_raw": None,
                "date_flags": ["zone_assumed"], "revision": 1, "status": "received",
                "status_changed_at": local, "created_at": local, "entities": [],
                "keywords": [], "categories": [{"qcode": "medtop:1", "score": 0.5}]}

    with database.session() as session:
        session.add(Feed(id=1, url="http://example.test/feed", enabled=True))
        session.flush()
        db_module.copy_rows(session.connection(), Article.__table__, [row("copied")])
        session.execute(insert(Article.__table__), [row("core")])
    with database.session() as session:
        copied, core = (session.execute(select(Article.__table__).where(Article.id == name)).one()
                        for name in ("copied", "core"))
    assert copied._asdict() == {**core._asdict(), "id": "copied"}
    assert copied.title == awkward and copied.published_at == local
    assert copied.published_at.tzinfo == UTC and copied.authors == ["A\tB", "C"]

    # A column with a Python-side default left out would silently take the server's: refused.
    without_status = {k: v for k, v in row("short").items() if k != "status"}
    with database.session() as session, pytest.raises(ValueError, match="status"):
        db_module.copy_rows(session.connection(), Article.__table__, [without_status])


def test_rowcount_in_a_sessions_transaction_commits_and_rolls_back_with_it(
        database: Any) -> None:
    from datetime import UTC, datetime

    from wiredesk.store.models import Feed

    with database.session() as session:
        session.add(Feed(url="http://example.test/feed", enabled=True))
    read, write = _feed_statements()
    at = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError), database.session() as session:
        assert database.rowcount(write, {"id_": 1, "next_fetch_at": at, "last_error": "x"},
                                 connection=session.connection()) == 1
        raise RuntimeError
    assert database.first(read, {"id": 1})[1] is None
    with database.session() as session:
        assert database.rowcount(write, {"id_": 2, "next_fetch_at": at, "last_error": None},
                                 connection=session.connection()) == 0
        assert database.rowcount(write, {"id_": 1, "next_fetch_at": at, "last_error": None},
                                 connection=session.connection()) == 1
    assert database.first(read, {"id": 1})[1] == at


def test_a_connection_lost_under_rowcount_in_a_session_is_not_reused(database: Any) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (the direct path is PostgreSQL's)")
    from datetime import UTC, datetime

    from sqlalchemy import exc

    _, write = _feed_statements()
    params = {"id_": 1, "next_fetch_at": datetime(2026, 1, 2, tzinfo=UTC), "last_error": None}
    with pytest.raises(exc.OperationalError) as raised, database.session() as session:
        victim = session.execute(text("SELECT pg_backend_pid()")).scalar()
        other = db_module.create_engine(database.config.sqlalchemy_url)
        with other.connect() as conn:  # waits (up to 5 s) until the backend is gone
            assert conn.execute(text("SELECT pg_terminate_backend(:p, 5000)"),
                                {"p": victim}).scalar()
        other.dispose()
        database.rowcount(write, params, connection=session.connection())
    assert raised.value.connection_invalidated
    with database.session() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() != victim
        assert database.rowcount(write, params, connection=session.connection()) == 0



def test_a_feeds_recent_articles_are_read_from_an_index_in_order(database: Any) -> None:
    """Dedupe reads each processed article's feed's ten most recent articles
    (``recent_feed_texts``): with only an index of feed_id, PostgreSQL read every article of
    the feed in the window and sorted them."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("reads PostgreSQL's plan")
    from datetime import timedelta

    from sqlalchemy import event

    from tests.helpers import store_sample_article
    from wiredesk.pipeline.stages.dedupe import BOILERPLATE_ARTICLES
    from wiredesk.store.articles import recent_feed_texts
    from wiredesk.store.models import utcnow

    article = store_sample_article(database)
    ran: list[tuple[str, Any]] = []  # the statement the code sends, as the driver gets it

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    with database.session() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a small table, else a scan
        event.listen(database.engine, "before_cursor_execute", capture)
        try:
            recent_feed_texts(session, article, utcnow() - timedelta(days=3),
                              BOILERPLATE_ARTICLES)
        finally:
            event.remove(database.engine, "before_cursor_execute", capture)
        (statement, parameters), = ran
        plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(
            "EXPLAIN " + statement, parameters))
    assert "ix_articles_feed_created" in plan and "Sort" not in plan, plan
