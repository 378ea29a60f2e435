"""Engine and pool: a connection that died while idle in the pool is replaced, not used."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from wiredesk.store import db as db_module


def test_a_connection_killed_while_idle_is_replaced(database: Any, monkeypatch: Any) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (a server that can end a client's connection)")
    with database.autocommit() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    # The pool's one connection is now idle; the server ends it (as a restart would).
    other = db_module.create_engine(database.config.sqlalchemy_url)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim}).scalar()
    other.dispose()
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
