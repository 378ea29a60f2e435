"""Real services for tests: Redis and PostgreSQL on this machine when they answer, else an
embedded Valkey and SQLite. CI sets WIREDESK_TEST_REQUIRE_POSTGRES=1 so it cannot silently
fall back. Celery workers are real workers consuming from real Redis."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from wiredesk.config import Config

LOCAL_REDIS = "redis://127.0.0.1:6379/15"
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("WIREDESK_TEST_REDIS_URL", LOCAL_REDIS)
    if _redis_answers(url):
        yield url
        return
    from wiredesk.embedded import start_valkey

    server = start_valkey(tmp_path_factory.mktemp("valkey"))
    try:
        yield server.connection_url + "/0"
    finally:
        server.stop()


def _postgres_answers(url: str) -> bool:
    try:
        with create_engine(url, connect_args={"connect_timeout": 2}).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means: not available
        return False


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("WIREDESK_TEST_DATABASE_URL", LOCAL_POSTGRES)
    if _postgres_answers(url):
        return url
    if os.environ.get("WIREDESK_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL at {url} does not answer and WIREDESK_TEST_REQUIRE_POSTGRES=1")
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'wiredesk.db'}"


@pytest.fixture
def config(redis_url: str, database_url: str, tmp_path: Path) -> Config:
    return Config(
        redis_url=redis_url,
        database_url=database_url,
        data_dir=tmp_path / "data",
        fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
        fetch_read_timeout=5.0,
        fetch_connect_timeout=2.0,
        task_max_retries=2,
        # Every test feed lives on one loopback host; tests about politeness turn these on.
        host_max_concurrency=0,
        host_max_per_second=0,
    )


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        names = inspect(conn).get_table_names()
        if conn.dialect.name == "postgresql":
            if names:
                conn.execute(text("DROP TABLE IF EXISTS " + ", ".join(
                    f'"{n}"' for n in names) + " CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()


@pytest.fixture
def database(config: Config) -> Iterator[Any]:
    """A database with a fresh schema, built by the real migrations."""
    from wiredesk.store.db import Database

    _drop_everything(config.sqlalchemy_url)
    db = Database(config)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def celery_app(config: Config, database: Any, redis_client: redis.Redis) -> Any:
    from wiredesk.broker import create_celery

    app = create_celery(config)
    app.wiredesk.__dict__["db"] = database  # share the test's engine
    return app


@pytest.fixture
def worker(celery_app: Any) -> Iterator[Any]:
    """A real Celery worker (threads pool) consuming the ingest and process queues."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,
                      queues=["ingest", "process"], shutdown_timeout=30.0,
                      loglevel="WARNING") as running:
        yield running


@pytest.fixture
def feed_server() -> Iterator[Any]:
    from tests.helpers import FeedHTTPServer

    server = FeedHTTPServer()
    yield server
    server.stop()


@pytest.fixture
def publisher(config: Config, database: Any) -> Any:
    """A test client of the real publisher app on the test database."""
    from wiredesk.publisher.app import create_app

    app = create_app(config)
    app.extensions["wiredesk_db"] = database
    return app.test_client()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless chromium (Selenium), its console log kept; fails where none is installed,
    unless WIREDESK_TEST_ALLOW_NO_BROWSER=1, so CI cannot skip the browser tests by accident."""
    from tests.helpers import BROWSER_WAIT_SECONDS, CHROMEDRIVER, CHROMIUM, missing_browser

    missing = missing_browser()
    if missing:
        if os.environ.get("WIREDESK_TEST_ALLOW_NO_BROWSER") == "1":
            pytest.skip(missing)
        pytest.fail(f"{missing}: run deploy/install-tools.sh (Debian's chromium and "
                    "chromium-driver), or set WIREDESK_TEST_ALLOW_NO_BROWSER=1 to skip")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,1000", "--lang=en"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(BROWSER_WAIT_SECONDS)
    yield driver
    driver.quit()
