"""Test helpers: waiting on conditions with deadlines, the corpus, and a local feed server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    return Path(os.environ.get("WIREDESK_CORPUS_DIR", REPO.parent / "shared" / "corpus"))


def require_corpus(*parts: str) -> Path:
    """A path inside ../shared/corpus, or skip the test saying why."""
    path = corpus_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {path} is absent (tests read ../shared/corpus in place)")
    return path


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nothing listens on now (for a service a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def serve_env(config: Any, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a `wiredesk serve` a test starts: the test's database and Redis, a
    data dir of its own, ``settings``, and metrics files of its own (not the test run's)."""
    env = {**os.environ, "DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url,
           "WIREDESK_DATA_DIR": str(data_dir), **settings}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextmanager
def served(service: str, env: dict[str, str],
           log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`wiredesk serve SERVICE` in a subprocess writing to ``log_path``; killed at the end if
    the test left it running."""
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "wiredesk", "serve", service], env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)


def stop(child: subprocess.Popen[bytes]) -> int:
    """SIGTERM a served service (a warm shutdown, as compose and Kubernetes stop it); its exit
    status."""
    child.send_signal(signal.SIGTERM)
    return child.wait(timeout=60)


class FeedHTTPServer:
    """A loopback HTTP server for tests: serves files with ETag/304 and records every request.

    ``routes`` maps a path to a callable(handler) for special behaviour (errors, slow bodies).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.files: dict[str, tuple[bytes, str]] = {}
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.log: list[tuple[str, int, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def send_response(self, code: int, message: str | None = None) -> None:
                server.log.append((self.path, code, dict(self.headers)))
                super().send_response(code, message)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path in server.routes:
                    server.routes[self.path](self)
                    return
                if self.path not in server.files:
                    self.send_error(404)
                    return
                body, content_type = server.files[self.path]
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        self.files[path] = (body, content_type)
        return self.url(path)

    def statuses(self, path: str) -> list[int]:
        return [status for p, status, _ in self.log if p == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# The browser tests drive Debian's chromium through its chromedriver (deploy/install-tools.sh).
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BROWSER_WAIT_SECONDS = 20


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed"
    return None


def put_rules_in_force(database: Any, yaml_text: str | None = None) -> None:
    """Save routing rules: the sample rules `make run` uses, or the YAML given."""
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.pipeline.stages.route import load_rules
    from wiredesk.store.rules import save_rules

    rules = load_rules(yaml_text if yaml_text is not None else SAMPLE_FEEDS_DIR / "routing.yaml")
    with database.session() as session:
        save_rules(session, rules, source="test")


def store_sample_article(database: Any, url: str = "http://127.0.0.1/w.xml") -> Any:
    """The sample wire's first entry stored (received, not processed) under a new feed at
    ``url``; returns the Article."""
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.ingester.parse import parse_feed
    from wiredesk.store import articles as article_store
    from wiredesk.store.feeds import add_feed

    with database.session() as session:
        feed_id = add_feed(session, url).id
    article = parse_feed((SAMPLE_FEEDS_DIR / "world-wire.xml").read_bytes(), feed_id=feed_id,
                         url=url).articles[0]
    with database.session() as session:
        article_store.upsert(session, article)
    return article


def store_sample_feed(database: Any, feed: str = "world-wire.xml", *, trust: str = "auto",
                      name: str = "") -> list[str]:
    """The articles of one bundled sample feed stored (received, not processed) as the
    ingester stores them, under a new feed at ``http://127.0.0.1/<feed>`` of that ``trust``
    and ``name``, with the sample routing rules in force; returns their ids, in feed order."""
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.ingester.parse import parse_feed
    from wiredesk.store import articles as article_store
    from wiredesk.store.feeds import add_feed

    put_rules_in_force(database)
    url = f"http://127.0.0.1/{feed}"
    with database.session() as session:
        feed_id = add_feed(session, url, name=name, trust=trust).id
    parsed = parse_feed((SAMPLE_FEEDS_DIR / feed).read_bytes(), feed_id=feed_id, url=url)
    with database.session() as session:
        for article in parsed.articles:
            article_store.upsert(session, article)
    return [a.id for a in parsed.articles]


def publish_first_entry(celery_app: Any, database: Any, body: bytes, url: str) -> str:
    """The first entry of the feed document ``body`` stored under a new auto-trusted feed at
    ``url`` and run through the pipeline under publish-everything; returns its article id."""
    from wiredesk.ingester.parse import parse_feed
    from wiredesk.pipeline.tasks import process_article
    from wiredesk.store import articles as article_store
    from wiredesk.store.feeds import add_feed

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    with database.session() as session:
        feed_id = add_feed(session, url, trust="auto").id
    article = parse_feed(body, feed_id=feed_id, url=url).articles[0]
    with database.session() as session:
        article_store.upsert(session, article)
    assert process_article(celery_app.wiredesk, article.id) == "published"
    return article.id


def store_reprint(database: Any, original: Any, url: str = "http://127.0.0.1/reprints.xml") -> str:
    """Another outlet's reprint of the Article ``original`` (a line added), stored under a
    new auto-trusted feed at ``url``: a near duplicate, not an exact one; returns its id."""
    from wiredesk.identity import article_id, content_hash
    from wiredesk.store import articles as article_store
    from wiredesk.store.feeds import add_feed

    with database.session() as session:
        feed_id = add_feed(session, url, trust="auto").id
    body = f"{original.body_text}\n\nOfficials gave no further details."
    reprint = original.replace(
        id=article_id(feed_id, "reprint-1", None), feed_id=feed_id, guid="reprint-1",
        url="http://127.0.0.1/reprint-1", body_text=body, body_html=f"<p>{body}</p>",
        content_hash=content_hash(original.title, body), story_id=None, status="received")
    with database.session() as session:
        article_store.upsert(session, reprint)
    return reprint.id


def killed(redis_client: Any, cause: str) -> int:
    """Stories withdrawn for ``cause`` (kill, delete) as the desk's /metrics will report them."""
    from wiredesk import keys

    return int(redis_client.hget(keys.STORIES_KILLED, cause) or 0)


def events_of(redis_client: Any, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the events stream's entries of ``event_type``, oldest first."""
    import json

    from wiredesk import keys

    return [json.loads(fields[b"data"]) for _, fields in redis_client.xrange(keys.EVENTS_STREAM)
            if fields[b"type"] == event_type.encode()]


PUBLISH_EVERYTHING = "rules:\n  - {name: publish-all, action: publish, when: {}}\n"


def respond(h: Any, status: int, body: bytes = b"", **headers: str) -> None:
    """Answer a FeedHTTPServer request (``content_type=...`` sends Content-Type)."""
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def reply(status: int, body: bytes = b"", **headers: str) -> Callable[[Any], None]:
    """A FeedHTTPServer route that always answers the same."""
    return lambda h: respond(h, status, body, **headers)


def trickled_head(status_line: str, done: threading.Event) -> Callable[[Any], None]:
    """A route (FeedHTTPServer's or FakeHub's) sending ``status_line`` then a header byte every
    50 ms until ``done`` is set: never a read timeout, never a whole head."""
    def trickle(h: Any) -> None:
        h.wfile.write(f"HTTP/1.1 {status_line}\r\nX-Slow: ".encode())
        try:
            while not done.wait(0.05):
                h.wfile.write(b"x")
                h.wfile.flush()
            h.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        h.close_connection = True

    return trickle


@contextmanager
def processing_paused(monkeypatch: Any, services: Any, article_id: str) -> Iterator[list[str]]:
    """``process_article`` on a worker thread, stopped once it has read and enriched the
    article (before it saves) while the block runs; then it goes on, and the list yielded
    holds its outcome. Runs the block makes itself are not paused."""
    from wiredesk.pipeline import tasks

    reached, go = threading.Event(), threading.Event()
    enrich = tasks.enrich

    def paused_enrich(article: Any, config: Any) -> Any:
        enriched = enrich(article, config)
        if threading.current_thread() is worker and not go.is_set():
            reached.set()
            assert go.wait(timeout=30), "the test never released the worker"
        return enriched

    monkeypatch.setattr(tasks, "enrich", paused_enrich)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(
        tasks.process_article(services, article_id)))
    worker.start()
    try:
        assert reached.wait(timeout=30), "the worker never read the article"
        yield outcome
    finally:
        go.set()
        worker.join(timeout=60)


def pause_after(monkeypatch: Any, owner: Any, name: str,
                thread: str) -> tuple[threading.Event, threading.Event]:
    """Make ``owner.<name>``, once it has returned in the thread named ``thread``, set the
    first event returned and wait (30 s at most) until the test sets the second: the writer
    stops at a chosen point, its locks held (see second_waits_for_first)."""
    real = getattr(owner, name)
    paused, go = threading.Event(), threading.Event()

    def then_wait(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if threading.current_thread().name == thread:
            paused.set()
            assert go.wait(timeout=30), f"the test never released {thread}"
        return result

    monkeypatch.setattr(owner, name, then_wait)
    return paused, go


def second_waits_for_first(database: Any, first: tuple[str, Callable[[], Any]],
                           second: tuple[str, Callable[[], Any]], paused: threading.Event,
                           go: threading.Event) -> dict[str, Any]:
    """Two writers at once on PostgreSQL: ``first`` (a thread name and what it runs) holds its
    locks until the test sets ``go``, and sets ``paused`` once there; then ``second`` runs on a
    thread of its own. Once it has finished or waits on a lock, ``first`` goes on. Returns each
    one's result (or the exception it raised) by name."""
    results: dict[str, Any] = {}

    def run(name: str, act: Callable[[], Any]) -> None:
        try:
            results[name] = act()
        except Exception as exc:  # noqa: BLE001 - the caller's assertions report it
            results[name] = exc

    threads = [threading.Thread(target=run, args=pair, name=pair[0]) for pair in (first, second)]
    threads[0].start()
    try:
        assert paused.wait(timeout=30), f"{first[0]} never reached the point it waits at"
        threads[1].start()
        wait_until(lambda: second[0] in results or lock_waiters(database) > 0,
                   message=f"{second[0]} to finish or wait for {first[0]}")
    finally:
        go.set()
        for thread in threads:
            if thread.ident:
                thread.join(timeout=60)
    return results


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """A WSGI ``app`` on a loopback port (threaded, as gunicorn serves it) while the block
    runs; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def celery_worker(celery_app: Any, queues: list[str], concurrency: int = 4) -> Iterator[Any]:
    """A real Celery worker (threads pool) consuming ``queues`` while the block runs."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=concurrency,
                      perform_ping_check=False, queues=queues, shutdown_timeout=30.0,
                      loglevel="WARNING") as running:
        yield running


@contextmanager
def publisher_and_worker(config: Any, database: Any, queue: str,
                         configure: Callable[[Any, str], Any]) -> Iterator[tuple[str, Any]]:
    """The publisher on a loopback port and a real worker on ``queue``, both on the
    configuration ``configure(config, base)`` makes (base: the publisher's URL, which that
    configuration names: its public URL, its WebSub callbacks); yields (base, celery app)."""
    from wiredesk.broker import create_celery
    from wiredesk.publisher.app import create_app

    publisher = create_app(config)
    with serving_app(publisher) as base:
        run_config = configure(config, base)
        celery_app = create_celery(run_config)
        celery_app.wiredesk.__dict__["db"] = database
        publisher.extensions.update(wiredesk_config=run_config, wiredesk_db=database,
                                    wiredesk_celery=celery_app)
        with celery_worker(celery_app, [queue]):
            yield base, celery_app


def lock_waiters(database: Any) -> int:
    """How many connections to the test's PostgreSQL database wait on a lock now (a new
    transaction each time: the view is a snapshot)."""
    from sqlalchemy import text

    with database.engine.connect() as watcher:
        return int(watcher.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")).scalar_one())

