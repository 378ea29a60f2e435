"""A worker killed with SIGKILL mid-stream loses nothing: late acks plus the reconciler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import wait_until
from tests.test_make_run import free_port
from wiredesk.ingester.parse import parse_feed
from wiredesk.pipeline.tasks import process, reconcile
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

ITEMS = 40
TIME_LIMIT = 15


def generated_feed() -> bytes:
    items = "".join(
        f"<item><title>Council vote number {i} on the harbour budget</title>"
        f"<guid>kill-test-{i}</guid><link>http://127.0.0.1/kill/{i}</link>"
        f"<description>The city council voted {i} times on item {i * 7} of the harbour "
        f"budget, officials said on Tuesday.</description></item>"
        for i in range(ITEMS))
    return f'<rss version="2.0"><channel><title>Kill test</title>{items}</channel></rss>'.encode()


def counts(database: Any) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(select(models.Article.status, func.count())
                               .group_by(models.Article.status))
        return dict(rows.all())


@pytest.mark.slow
def test_sigkilled_worker_loses_no_article(celery_app: Any, database: Any, config: Any,
                                           tmp_path: Path) -> None:
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/kill.xml", trust="auto").id
    parsed = parse_feed(generated_feed(), feed_id=feed_id, url="http://127.0.0.1/kill.xml")
    with database.session() as session:
        for article in parsed.articles:
            article_store.upsert(session, article)
    for article in parsed.articles:
        process.delay(article.id)

    env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.sqlalchemy_url,
           "WIREDESK_DATA_DIR": str(tmp_path / "data"), "WIREDESK_WORKER_CONCURRENCY": "2",
           "WIREDESK_PIPELINE_METRICS_PORT": str(free_port()), "WIREDESK_LOG_LEVEL": "WARNING",
           # A short hard limit keeps the dead worker's article lock short-lived too.
           "WIREDESK_TASK_TIME_LIMIT": str(TIME_LIMIT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen([sys.executable, "-m", "wiredesk", "serve", "pipeline"], env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: counts(database).get("published", 0) >= 3, timeout=120,
                   message="the doomed worker to publish a few articles")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # parent and children, no goodbye
        worker.wait(timeout=30)
    assert counts(database).get("published", 0) < ITEMS, "killed too late to prove anything"

    # A fresh worker takes what is queued; the reconciler re-sends what the dead one held.
    from celery.contrib.testing.worker import start_worker

    celery_app.wiredesk.config = config.replace(reconcile_after_seconds=0,
                                                task_time_limit=TIME_LIMIT)
    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,
                      queues=["process"], loglevel="WARNING"):
        def all_published() -> bool:
            if counts(database).get("published", 0) == ITEMS:
                return True
            reconcile.delay()
            return False

        wait_until(all_published, timeout=120, interval=1.0, message="every article published")
    with database.session() as session:  # templated copy: dedupe groups it, but nothing is lost
        orphans = session.scalar(select(func.count()).select_from(models.Article).where(
            models.Article.story_id.is_(None)))
    assert orphans == 0
