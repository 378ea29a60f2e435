"""Engine and sessions, and the one call that brings a database's schema up to date."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Table,
    create_engine,
    event,
    exc,
    inspect,
    text,
)
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
    connect_timeout = max(1, round(config.db_connect_timeout_seconds))  # libpq: whole seconds
    engine = create_engine(url, connect_args={"options": f"-c statement_timeout={timeout_ms}",
                                              "connect_timeout": connect_timeout})
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


@dataclass(frozen=True)
class _Compiled:
    """A statement as the driver takes it: SQL text, and the type conversions Core would apply
    to its parameters and result columns."""

    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    results: tuple[Callable[[Any], Any] | None, ...] | None


def runs_on_psycopg(dialect: Any) -> bool:
    """Whether statements may go to the driver directly (named %(x)s parameters, ``COPY``,
    unprepared execution): PostgreSQL through psycopg."""
    return bool(dialect.name == "postgresql" and dialect.driver == "psycopg")


@contextmanager
def _as_core_errors(dialect: Any, sql: str, params: Any, conn: Any,
                    on_lost: Callable[[], Any]) -> Iterator[None]:
    """Driver errors raised as Core raises them; ``on_lost`` called first when the driver
    connection ``conn`` is gone (as Core does on a disconnect: it is never handed out again)."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        lost = bool(conn.closed or conn.broken)
        if lost:
            on_lost()
        raise exc.DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost) from error


def fetch_unprepared(connection: Connection, statement: Executable,
                     params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of one statement run on the driver in ``connection``'s transaction, never as a
    prepared statement (psycopg prepares a statement run often, and PostgreSQL may then keep
    one generic plan for it): for a statement whose best plan depends on a table's size.
    PostgreSQL and psycopg only; no result type conversion (for text and number columns)."""
    dialect = connection.dialect
    sql = _unprepared_sql.get(statement)
    if sql is None:
        sql = _unprepared_sql[statement] = str(
            statement.compile(dialect=dialect))  # type: ignore[attr-defined]  # a ClauseElement
    driver: Any = connection.connection.driver_connection  # psycopg's connection
    with _as_core_errors(dialect, sql, params, driver, connection.invalidate), \
            driver.cursor() as cursor:
        cursor.execute(sql, params, prepare=False)
        return cursor.fetchall()  # type: ignore[no-any-return]


_unprepared_sql: dict[Executable, str] = {}


def copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts, each with the first one's keys) into ``table`` in ``connection``'s transaction
    with PostgreSQL's COPY: for a feed's new articles, Core's executemany spent more CPU on
    each row (here and in the server) than the row itself. Values go through the columns'
    types as Core would bind them; a column missing from the rows takes the server's default,
    not a Python-side one. PostgreSQL and psycopg only."""
    if not rows:
        return
    dialect = connection.dialect
    names = tuple(rows[0])
    plan = _copy_plans.get((table, names))
    if plan is None:
        # A Python-side default COPY would skip silently (e.g. a column added later): refuse.
        skipped = [c.name for c in table.columns if c.default is not None and c.name not in names]
        if skipped:
            raise ValueError(f"copy_rows into {table.name} must be given {', '.join(skipped)}")
        quote = dialect.identifier_preparer.quote
        sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
               f"({', '.join(quote(name) for name in names)}) FROM STDIN")
        binds = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in names)
        plan = _copy_plans[(table, names)] = (sql, binds)
    sql, binds = plan
    driver: Any = connection.connection.driver_connection  # psycopg's connection
    with _as_core_errors(dialect, sql, rows, driver, connection.invalidate), \
            driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            values = map(row.__getitem__, names)
            copy.write_row([value if bind is None else bind(value)
                            for bind, value in zip(binds, values, strict=True)])


_copy_plans: dict[tuple[Table, tuple[str, ...]], tuple[str, tuple[Any, ...]]] = {}


def _fetchone(cursor: Any) -> Any:
    return cursor.fetchone()


def _rowcount(cursor: Any) -> int:
    return int(cursor.rowcount)


class Database:
    """An engine and its session factory, built from config; importing this connects nowhere."""

    def __init__(self, config: Config):
        self.config = config
        self.engine = make_engine(config)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; no BEGIN/COMMIT round trips for a statement that stands alone.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # Direct execution (see ``first``) only where the driver takes named %(x)s parameters.
        self._direct = runs_on_psycopg(self.engine.dialect)
        self._compiled: dict[Executable, _Compiled] = {}

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

    def first(self, statement: Executable, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run one autocommit statement; its first row (as Core would convert it), or None."""
        if not self._direct:
            with self.autocommit() as conn:
                row = conn.execute(statement, params).first()
            return None if row is None else tuple(row)
        compiled = self._compile(statement)
        row = self._run(compiled, params, _fetchone)
        if row is None or compiled.results is None:
            return None if row is None else tuple(row)
        return tuple(value if convert is None or value is None else convert(value)
                     for convert, value in zip(compiled.results, row, strict=True))

    def rowcount(self, statement: Executable, params: dict[str, Any],
                 connection: Connection | None = None) -> int:
        """Run one statement (an UPDATE, a DELETE); the rows it touched. In autocommit, or in
        the transaction of ``connection`` (a session's) when one is given."""
        if not self._direct:
            if connection is not None:
                return connection.execute(statement, params).rowcount
            with self.autocommit() as conn:
                return conn.execute(statement, params).rowcount
        if connection is not None:
            return int(self._run_in(connection, self._compile(statement), params, _rowcount))
        return int(self._run(self._compile(statement), params, _rowcount))

    # ``first`` and ``rowcount`` run a statement built once on the driver's own connection, in
    # autocommit: for the ingester's feed read and schedule UPDATE, run once per fetch, Core's
    # execution layer (context, events, result wrapping) cost more CPU than the database spent
    # on the statement. Compiled once by SQLAlchemy, with its types' conversions applied here.

    def _compile(self, statement: Executable) -> _Compiled:
        compiled = self._compiled.get(statement)
        if compiled is None:
            dialect = self.engine.dialect
            core = statement.compile(dialect=dialect)  # type: ignore[attr-defined]  # a ClauseElement
            binds = tuple((name, convert) for name, bind in core.binds.items()
                          if (convert := bind.type.bind_processor(dialect)) is not None)
            columns = getattr(statement, "selected_columns", None)
            results = None if columns is None else tuple(
                column.type.result_processor(dialect, None) for column in columns)
            if results is not None and not any(results):
                results = None  # nothing to convert (text, numbers, booleans on psycopg)
            compiled = self._compiled[statement] = _Compiled(str(core), binds, results)
        return compiled

    @staticmethod
    def _bind(compiled: _Compiled, params: dict[str, Any]) -> dict[str, Any]:
        if not compiled.binds:
            return params
        params = dict(params)
        for name, convert in compiled.binds:
            if name in params:
                params[name] = convert(params[name])
        return params

    def _run(self, compiled: _Compiled, params: dict[str, Any],
             result: Callable[[Any], Any]) -> Any:
        """Execute on a pooled driver connection (checkout events run: the idle ping), in
        autocommit; driver errors raised as Core raises them, a lost connection discarded."""
        bound = self._bound(compiled, params)
        pooled = self.engine.raw_connection()
        conn: Any = pooled.driver_connection
        try:
            conn.autocommit = True
            try:
                return self._execute(pooled, compiled, bound, result, pooled.invalidate)
            finally:
                if not (conn.closed or conn.broken):
                    conn.autocommit = False  # back to the pool as Core left it
        finally:
            pooled.close()

    def _run_in(self, connection: Connection, compiled: _Compiled, params: dict[str, Any],
                result: Callable[[Any], Any]) -> Any:
        """Execute on the driver connection under ``connection``, in its transaction."""
        return self._execute(connection.connection, compiled, self._bound(compiled, params),
                             result, connection.invalidate)

    def _bound(self, compiled: _Compiled, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._bind(compiled, params)
        except Exception as error:  # a value its column's type refuses, as Core reports it
            raise exc.StatementError(str(error), compiled.sql, params, error) from error

    def _execute(self, pooled: Any, compiled: _Compiled, bound: dict[str, Any],
                 result: Callable[[Any], Any], on_lost: Callable[[], Any]) -> Any:
        """Run on ``pooled``'s driver connection; driver errors raised as Core raises them,
        ``on_lost`` called when the connection is gone."""
        conn: Any = pooled.driver_connection
        with _as_core_errors(self.engine.dialect, compiled.sql, bound, conn, on_lost):
            # A cursor kept with its connection (a new one per statement cost 10 us).
            cursor = pooled.info.get("wiredesk_cursor")
            if cursor is None or cursor.connection is not conn:
                cursor = pooled.info["wiredesk_cursor"] = conn.cursor()
            cursor.execute(compiled.sql, bound)
            return result(cursor)

    def schema_ready(self) -> bool:
        """Whether the database holds this release's schema (readiness): migrated, with none of
        this code's migrations pending. A revision this code does not know is a newer release's
        (its migrate Job ran before this pod stopped): still ready, so a rollout serves on."""
        # Read directly: alembic's MigrationContext logs a line at INFO on every probe.
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            current = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
        pending = _known_revisions() - _head_revisions()
        return bool(current) and not current & pending

    def upgrade(self) -> None:
        """Run Alembic migrations up to head (idempotent)."""
        alembic_config = _alembic_config()
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # An index build on a big table may take longer than any query should.
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config() -> AlembicConfig:
    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return alembic_config


@functools.cache
def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(_alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


@functools.cache
def _head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads())
