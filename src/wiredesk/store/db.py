"""Engine and sessions, and the one call that brings a database's schema up to date."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from wiredesk.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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
    return create_engine(url, pool_pre_ping=True)


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
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
