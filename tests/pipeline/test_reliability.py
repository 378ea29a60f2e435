"""Idempotency, the reconciler, and articles that fail for good."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import (
    events_of,
    pause_after,
    processing_paused,
    second_waits_for_first,
    store_reprint,
    store_sample_feed,
    wait_until,
)
from wiredesk.pipeline.tasks import process, process_article, process_batch, reconcile
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.models import utcnow


def _status(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).status


def test_processing_twice_changes_nothing(celery_app: Any, database: Any) -> None:
    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    assert process_article(services, article_id) == "published"
    with database.session() as session:
        story_id = session.get(models.Article, article_id).story_id
        before = session.get(models.Story, story_id).updated_at
    assert process_article(services, article_id) == "published"
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert session.get(models.Story, row.story_id).updated_at == before
        assert len(list(session.scalars(select(models.Story)))) == 1


def test_untrusted_feed_waits_for_review(celery_app: Any, database: Any) -> None:
    article_id = store_sample_feed(database, trust="review")[0]
    assert process_article(celery_app.wiredesk, article_id) == "pending_review"
    with database.session() as session:
        assert session.get(models.Article, article_id).routing_rule == "default-review"


def test_reconciler_re_enqueues_stuck_articles(worker: Any, celery_app: Any,
                                               database: Any) -> None:
    ids = store_sample_feed(database)
    # As if the process messages were lost: nothing was enqueued, and time has passed.
    with database.session() as session:
        for row in session.scalars(select(models.Article)):
            row.status_changed_at = utcnow() - timedelta(hours=1)
    reconcile.delay()
    wait_until(lambda: all(_status(database, i) == "published" for i in ids),
               message="the reconciler to finish the stuck articles")


def test_an_article_that_cannot_be_processed_fails_visibly(worker: Any, database: Any) -> None:
    article_id = store_sample_feed(database)[0]
    with database.session() as session:  # a row no stage can read: the schema refuses it
        session.get(models.Article, article_id).entities = [{"type": "alien", "name": "x"}]
    process.delay(article_id)
    wait_until(lambda: _status(database, article_id) == "failed", timeout=60,
               message="the article to fail after its retries")
    with database.session() as session:
        assert "ValidationError" in session.get(models.Article, article_id).error


def test_a_batch_message_processes_each_article_and_sends_a_failure_on_alone(
        worker: Any, database: Any) -> None:
    """What the ingester sends per fetch: one message for the feed's new articles."""
    ids = store_sample_feed(database)
    broken, rest = ids[0], ids[1:]
    with database.session() as session:
        session.get(models.Article, broken).entities = [{"type": "alien", "name": "x"}]
    process_batch.delay(ids)
    wait_until(lambda: all(_status(database, i) == "published" for i in rest),
               message="the batch's good articles to be published")
    wait_until(lambda: _status(database, broken) == "failed", timeout=60,
               message="the broken article to fail after its own retries")


def test_a_story_founded_meanwhile_by_another_worker_is_joined_not_failed(
        database: Any) -> None:
    """A joins-before-the-founder-commits race: this worker found no story row, another
    worker committed it, then this one creates it. It gets that row; its transaction lives on."""
    from wiredesk.pipeline.tasks import found_story
    from wiredesk.schemas import Article

    now = utcnow()
    founder = Article(id="a1-founder", feed_id=1, guid=None, url=None, title="t",
                      content_hash="c", story_id="s1-founder")
    joiner = founder.replace(id="a1-joiner")
    with database.session() as other_worker:
        found_story(other_worker, joiner, now)  # the joiner finished first
    with database.session() as session:
        session.add(models.RoutingRuleset(rules=[], source="in the same transaction"))
        story = found_story(session, founder, now)
        assert (story.id, story.canonical_article_id) == ("s1-founder", "a1-joiner")
    with database.session() as session:
        assert session.scalar(select(models.RoutingRuleset.source).where(
            models.RoutingRuleset.source == "in the same transaction")) is not None
        assert len(list(session.scalars(select(models.Story)))) == 1


def test_two_reports_joining_a_story_at_once_leave_the_earliest_canonical(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """Two reprints join a published story side by side. Each compared itself with the
    canonical it had read; the one that committed last won even when it was not the earliest."""
    from wiredesk.identity import content_hash
    from wiredesk.pipeline.stages import dedupe

    if database.engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL (SQLite runs one writer)")
    services = celery_app.wiredesk
    founder_id = store_sample_feed(database)[0]
    assert process_article(services, founder_id) == "published"
    with database.session() as session:
        founder = article_store.to_article(session.get(models.Article, founder_id))
    reprints = {}
    ids = {"earliest": "a1-" + "e" * 32, "between": "a1-" + "b" * 32}
    for name, hours_earlier, note in (("earliest", 5, "Officials confirmed the plan."),
                                      ("between", 2, "The ministry gave no cost.")):
        body = f"{founder.body_text}\n\n{note}"
        reprints[name] = founder.replace(
            id=ids[name], guid=name, url=f"http://127.0.0.1/{name}", body_text=body,
            body_html=f"<p>{body}</p>", content_hash=content_hash(founder.title, body),
            published_at=founder.published_at - timedelta(hours=hours_earlier),
            story_id=None, status="received")
    with database.session() as session:
        for article in reprints.values():
            article_store.upsert(session, article)

    # "between" stops once it has read the story's canonical and decided to replace it.
    decided, go = pause_after(monkeypatch, dedupe, "canonical", "between")
    # The earliest report either commits meanwhile (the defect) or waits for the story.
    results = second_waits_for_first(
        database, ("between", lambda: process_article(services, ids["between"])),
        ("earliest", lambda: process_article(services, ids["earliest"])), decided, go)
    assert results == {"between": "published", "earliest": "published"}
    with database.session() as session:
        story = session.get(models.Story, session.get(models.Article, founder_id).story_id)
        members = {row.id for row in session.scalars(
            select(models.Article).where(models.Article.story_id == story.id))}
        assert members == {founder_id, *ids.values()}
        assert story.canonical_article_id == ids["earliest"]


def test_a_story_lock_that_expired_before_the_commit_does_not_fail_the_committed_article(
        celery_app: Any, database: Any, redis_client: Any, monkeypatch: Any) -> None:
    """A slow article outlives its story lock (a long wait for a rival's decision, a row lock).
    The article is committed all the same; releasing the lost lock must not then fail the
    task: the event would never be sent, and the committed work reported as failed."""
    from wiredesk import keys
    from wiredesk.pipeline import tasks

    article_id = store_sample_feed(database)[0]
    monkeypatch.setattr(keys, "STORY_LOCK_TTL_SECONDS", 1)
    classify = tasks.classify

    def classify_until_the_lock_expires(services: Any, article: Any) -> Any:
        classified = classify(services, article)
        wait_until(lambda: not redis_client.exists(keys.story_lock(article.content_hash)),
                   timeout=10, message="the story lock to expire")
        return classified

    monkeypatch.setattr(tasks, "classify", classify_until_the_lock_expires)
    assert process_article(celery_app.wiredesk, article_id) == "published"
    assert _status(database, article_id) == "published"
    assert [e["article_id"] for e in events_of(redis_client, "article.published")] == [article_id]


def _die_mid_article(config: Any, article_id: str) -> None:
    """A fresh worker process (spawned: a fork would inherit the test's broker connections)
    that dies without a goodbye in the middle of processing ``article_id``."""
    import os
    import signal

    from wiredesk.broker import create_celery
    from wiredesk.pipeline import tasks

    def enrich_and_die(article: Any, config: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)

    tasks.enrich = enrich_and_die
    process_article(create_celery(config).wiredesk, article_id)


def test_an_article_that_kills_its_worker_every_time_ends_failed(
        celery_app: Any, database: Any, redis_client: Any) -> None:
    """An article whose processing kills the worker (out of memory, a crash in native code,
    the hard time limit) never reaches the task's retries: its message is redelivered or the
    reconciler sends it again, and it kills the next worker too. After the task's retries'
    worth of deaths it must end ``failed``, visibly, instead of going round for ever."""
    import multiprocessing
    import signal

    from wiredesk import keys

    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    spawn = multiprocessing.get_context("spawn")
    for _ in range(services.config.task_max_retries + 1):
        worker = spawn.Process(target=_die_mid_article, args=(services.config, article_id))
        worker.start()
        worker.join(timeout=120)
        if worker.exitcode is None:
            worker.kill()
        assert worker.exitcode == -signal.SIGKILL
        # The dead worker's lock expires (task time limit + 10 s); the article is sent again.
        redis_client.delete(keys.article_process_lock(article_id))
        assert _status(database, article_id) == "received"

    assert process_article(services, article_id) == "failed"
    with database.session() as session:
        assert "died" in session.get(models.Article, article_id).error
    assert [e["article_id"] for e in events_of(redis_client, "article.failed")] == [article_id]


def test_a_near_duplicate_redelivered_after_a_crash_is_stored_as_a_first_run_stores_it(
        celery_app: Any, database: Any, redis_client: Any, monkeypatch: Any) -> None:
    """The first attempt indexed the reprint in Redis, then died before its commit (here: a
    stage raised). The redelivery finds it in the index already; it must still be stored as
    the near duplicate it is, with its score, as a run that never crashed stores it."""
    from wiredesk.pipeline import tasks

    services = celery_app.wiredesk
    original_id = store_sample_feed(database)[0]
    assert process_article(services, original_id) == "published"
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, original_id))
    reprint_id = store_reprint(database, original)

    first_run: list[Any] = []
    classify = tasks.classify

    def classify_then_die(services: Any, article: Any) -> Any:
        first_run.append(article)
        raise ConnectionError("the worker lost its database before the commit")

    monkeypatch.setattr(tasks, "classify", classify_then_die)
    with pytest.raises(ConnectionError):
        process_article(services, reprint_id)
    monkeypatch.setattr(tasks, "classify", classify)
    assert _status(database, reprint_id) == "received"
    assert first_run[0].duplicate_tier == "near" and first_run[0].duplicate_score

    assert process_article(services, reprint_id) == "published"
    with database.session() as session:
        row = session.get(models.Article, reprint_id)
        assert (row.story_id, row.duplicate_tier, row.duplicate_score) == (
            original.story_id, "near", first_run[0].duplicate_score)
        assert row.routing_rule == "joined-near"


def test_a_failed_article_is_replayed_by_the_operator_once_the_cause_is_fixed(
        worker: Any, config: Any, database: Any, monkeypatch: Any) -> None:
    """Failed after its last retry (here: a stage's dependency down the whole time), the
    article waits, error kept, until an operator replays it; then it is processed anew."""
    from click.testing import CliRunner

    from wiredesk.cli import main
    from wiredesk.pipeline import tasks

    article_id, other_id = store_sample_feed(database)[:2]
    classify = tasks.classify

    def classify_down(services: Any, article: Any) -> Any:
        raise ConnectionError("the categorizer's store is down")

    monkeypatch.setattr(tasks, "classify", classify_down)
    process.delay(article_id)
    wait_until(lambda: _status(database, article_id) == "failed", timeout=60,
               message="the article to fail after its retries")
    monkeypatch.setattr(tasks, "classify", classify)  # the cause is fixed

    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url,
           "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, ["articles", "replay", "--failed"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert article_id in result.output and other_id not in result.output  # failed ones only
    wait_until(lambda: _status(database, article_id) == "published",
               message="the replayed article to be published")
    with database.session() as session:
        assert session.get(models.Article, article_id).error is None
    assert _status(database, other_id) == "received"


def test_a_final_failure_does_not_overwrite_an_article_another_worker_publishes_meanwhile(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """Two runs of one article at once (the reconciler re-sent it during its retries' backoff):
    one succeeds while the other's last retry fails. The success is committed; the failure's
    record must not then mark the published article failed."""
    from wiredesk.pipeline import tasks

    if database.engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL (SQLite runs one writer)")
    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    saving, go = threading.Event(), threading.Event()
    apply = tasks._apply

    def apply_then_wait(*args: Any) -> Any:
        status = apply(*args)
        saving.set()  # the row is locked and written, not yet committed
        assert go.wait(timeout=30), "the test never released the worker"
        return status

    monkeypatch.setattr(tasks, "_apply", apply_then_wait)
    # The failure record either commits meanwhile (the defect) or waits for the row.
    results = second_waits_for_first(
        database, ("ok", lambda: process_article(services, article_id)),
        ("failed", lambda: tasks.fail_article(services, article_id, "ConnectionError: gone")),
        saving, go)
    assert results == {"ok": "published", "failed": "published"}
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.status, row.error) == ("published", None)


def test_a_run_whose_article_lock_was_lost_does_not_save_over_the_run_that_finished(
        celery_app: Any, database: Any, redis_client: Any, monkeypatch: Any) -> None:
    """Redis lost the article's lock while a worker held it (a restart, a Sentinel failover:
    replication is asynchronous). A redelivered message then ran the article to the end. The
    first run, still at work, must find the article done when it saves, and leave it: no
    second write, no second event."""
    from wiredesk import keys
    from wiredesk.pipeline import tasks

    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    reached, go = pause_after(monkeypatch, tasks, "enrich", "first")
    outcome: list[str] = []
    first = threading.Thread(target=lambda: outcome.append(
        process_article(services, article_id)), name="first")
    first.start()
    try:
        assert reached.wait(timeout=30), "the first run never read the article"
        redis_client.delete(keys.article_process_lock(article_id))  # lost with Redis
        assert process_article(services, article_id) == "published"
        with database.session() as session:
            done_at = session.get(models.Article, article_id).status_changed_at
    finally:
        go.set()
        first.join(timeout=60)
    assert outcome == ["published"]
    with database.session() as session:
        assert session.get(models.Article, article_id).status_changed_at == done_at
    assert [e["article_id"] for e in events_of(redis_client, "article.published")] == [article_id]


def _die_after_the_commit(config: Any, article_id: str) -> None:
    """A fresh worker process that dies without a goodbye once ``article_id`` is committed,
    before its event is sent."""
    import os
    import signal

    from wiredesk import events
    from wiredesk.broker import create_celery

    def die(*_: Any, **__: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    events.emit = die
    process_article(create_celery(config).wiredesk, article_id)


def test_a_worker_killed_between_the_commit_and_the_event_leaves_the_event_to_the_redelivery(
        celery_app: Any, database: Any, redis_client: Any) -> None:
    """Late acks redeliver the message of a worker that died after committing the article
    but before announcing it. The redelivery finds the article done; it must still send the
    event the dead run never sent, or the article is published and nobody is told."""
    import multiprocessing
    import signal

    from wiredesk import keys

    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    worker = multiprocessing.get_context("spawn").Process(
        target=_die_after_the_commit, args=(services.config, article_id))
    worker.start()
    worker.join(timeout=120)
    if worker.exitcode is None:
        worker.kill()
    assert worker.exitcode == -signal.SIGKILL
    assert _status(database, article_id) == "published"
    assert events_of(redis_client, "article.published") == []
    redis_client.delete(keys.article_process_lock(article_id))  # expired by the redelivery

    assert process_article(services, article_id) == "published"
    with database.session() as session:
        story_id = session.get(models.Article, article_id).story_id
    assert [(e["article_id"], e["story_id"]) for e in events_of(
        redis_client, "article.published")] == [(article_id, story_id)]
    # A redelivery with no death before it (a duplicate message) sends nothing more.
    assert process_article(services, article_id) == "published"
    assert len(events_of(redis_client, "article.published")) == 1


def test_a_run_that_succeeds_after_another_run_failed_the_article_meanwhile_saves_its_work(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """Two runs of one article at once (the reconciler re-sent it during its retries'
    backoff): the retries' last attempt fails it while the other run is at work. That run's
    success is saved: the article is published, not left failed."""
    from wiredesk.pipeline import tasks

    services = celery_app.wiredesk
    article_id = store_sample_feed(database)[0]
    with processing_paused(monkeypatch, services, article_id) as outcome:
        assert tasks.fail_article(services, article_id, "ConnectionError: gone") == "failed"
    assert outcome == ["published"]
    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert (row.status, row.error) == ("published", None)
