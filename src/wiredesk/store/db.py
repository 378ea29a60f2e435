"""Engine and sessions, and the one call that brings a database's schema up to date."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from wiredesk.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# A pooled connection idle longer than this is pinged before use. pool_pre_ping pinged every
# checkout: a round trip per statement for the ingester's one-statement reads and writes.
IDLE_PING_SECONDS = 10.0


def make_engine(config: Config) -> Engine:
    """An engine for the configured database; SQLite gets WAL and a busy timeout."""
    url = config.sqlalchemy_url
    if url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Several worker processes share one file: WAL lets readers run beside a writer.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    timeout_ms = int(config.db_statement_timeout_seconds * 1000)
    engine = create_engine(url, connect_args={"options": f"-c statement_timeout={timeout_ms}"})
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only if it sat idle (a database restart, a server
    idle timeout): a dead one is replaced there and then, as pool_pre_ping would."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means: use another connection
            raise exc.DisconnectionError(str(error)) from error


class Database:
    """An engine and its session factory, built from config; importing this connects nowhere."""

    def __init__(self, config: Config):
        self.config = config
        self.engine = make_engine(config)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; no BEGIN/COMMIT round trips for a statement that stands alone.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose every statement commits on its own: for one-statement reads and
        writes (a single UPDATE is atomic by itself), one round trip instead of three."""
        with self._autocommit.connect() as connection:
            yield connection

    def upgrade(self) -> None:
        """Run Alembic migrations up to head (idempotent)."""
        alembic_config = AlembicConfig()
        alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # An index build on a big table may take longer than any query should.
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
