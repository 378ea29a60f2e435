"""The Celery app, built from config, and the one place task policy is set.

Tasks are declared with ``@wiredesk_task(queue=...)``; no task sets its own retry, ack or time
limit options. Messages carry ids only; tasks re-read state and are safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any

import redis
from celery import Celery, Task, shared_task
from marshmallow import ValidationError

from wiredesk.config import Config, load

log = logging.getLogger(__name__)

QUEUES = ("ingest", "process", "deliver")
TASK_MODULES = ("wiredesk.ingester.tasks", "wiredesk.pipeline.tasks", "wiredesk.deliver.tasks")


# Task name -> queue, filled by @wiredesk_task; create_celery turns it into task_routes.
TASK_QUEUES: dict[str, str] = {}


class PermanentError(Exception):
    """An error retrying cannot fix (bad data, a refused feed): fail at once, keep the reason."""


class WiredeskTask(Task):  # type: ignore[misc]
    """Policy for every task: late acks, requeue on lost worker, retries with backoff+jitter."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    autoretry_for = (Exception,)
    dont_autoretry_for = (PermanentError, ValidationError)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True

    @property
    def wiredesk(self) -> Services:
        return self.app.wiredesk  # type: ignore[no-any-return]

    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None,
              throw: bool = True, eta: Any = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any) -> Any:
        """Retry as Celery does, but no sooner than an error's ``retry_after`` (seconds: what
        the server asked, a 429's or 503's Retry-After), and no later than the longest
        backoff: past it the reconcilers would take the task's work for lost."""
        asked = getattr(exc, "retry_after", None)
        if asked is not None and eta is None:
            countdown = max(countdown or 0.0, min(float(asked), float(self.retry_backoff_max)))
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)

    def on_final_failure(self, exc: BaseException, args: tuple[Any, ...]) -> None:
        """Hook: record a task's permanent failure where a person will see it."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        log.error("task %s%r failed for good: %s", self.name, tuple(args), exc)
        self.on_final_failure(exc, tuple(args))


def wiredesk_task(queue: str, name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task on ``queue`` under the one policy (``options`` may set on_final_failure)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn: Callable[..., Any]) -> Any:
        TASK_QUEUES[name] = queue
        return shared_task(base=WiredeskTask, bind=True, name=name, **options)(fn)

    return decorate


class Services:
    """Connections a worker needs, opened on first use (never at import)."""

    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def db(self) -> Any:
        from wiredesk.store.db import Database

        return Database(self.config)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.config.redis_url)

    @property
    def categorizer(self) -> Any:
        from wiredesk.pipeline.stages.categorize import default_model_path, load_categorizer

        # Cached per process by load_categorizer, which reloads only after a retrain.
        return load_categorizer(default_model_path(self.config))

    @cached_property
    def dedupe_index(self) -> Any:
        from wiredesk.pipeline.dedupe_index import DedupeIndex

        return DedupeIndex.from_config(self.redis, self.config)

    @cached_property
    def story_decisions(self) -> Any:
        from wiredesk import keys
        from wiredesk.pipeline.story_decisions import StoryDecisions

        return StoryDecisions(self.redis,
                              keys.article_process_lock_ttl(self.config.task_time_limit))


def create_celery(config: Config | None = None) -> Celery:
    """A Celery app for ``config``: broker on Redis, queues by name, policy from config."""
    config = config or load()
    app = Celery("wiredesk", broker=config.redis_url, include=list(TASK_MODULES))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=config.task_time_limit,
        task_soft_time_limit=max(1, config.task_time_limit - 10),
        task_ignore_result=True,
        task_default_queue="process",
        task_routes=lambda name, *_args, **_kw: (
            {"queue": TASK_QUEUES[name]} if name in TASK_QUEUES else None),
        task_annotations={"*": {"max_retries": config.task_max_retries}},
        # A message unacked this long (its worker died hard) is delivered again.
        broker_transport_options={"visibility_timeout": max(300, config.task_time_limit * 3)},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        beat_schedule={
            "ingest.schedule": {
                "task": "ingest.schedule",
                "schedule": config.schedule_every_seconds,
                "options": {"queue": "ingest", "expires": config.schedule_every_seconds},
            },
            "pipeline.reconcile": {
                "task": "pipeline.reconcile",
                "schedule": config.reconcile_every_seconds,
                "options": {"queue": "process", "expires": config.reconcile_every_seconds},
            },
            "deliver.reconcile": {
                "task": "deliver.reconcile",
                "schedule": config.reconcile_every_seconds,
                "options": {"queue": "deliver", "expires": config.reconcile_every_seconds},
            },
        },
    )
    app.wiredesk = Services(config)  # type: ignore[attr-defined]
    app.set_default()
    return app
