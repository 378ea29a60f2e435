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
