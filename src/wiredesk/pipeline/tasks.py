"""The ``process`` task: load an article by id, run the stages, save, route, emit.
``process_batch`` runs it over a fetched feed's new articles, sent as one message.

Safe to run twice: an article already past processing returns at once, and every write is
keyed by the article's id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wiredesk import events, keys, metrics
from wiredesk.broker import Services, wiredesk_task
from wiredesk.config import Config
from wiredesk.pipeline.stages import dedupe, semantic
from wiredesk.pipeline.stages.categorize import categorize
from wiredesk.pipeline.stages.dateline import apply_dateline
from wiredesk.pipeline.stages.exact import resolve_exact
from wiredesk.pipeline.stages.language import detect_language
from wiredesk.pipeline.stages.route import FeedInfo, RoutingDecision, route
from wiredesk.pipeline.stages.tag import tag
from wiredesk.pipeline.story_decisions import Claim
from wiredesk.schemas import Article
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.models import utcnow
from wiredesk.store.rules import current_rules

log = logging.getLogger(__name__)

PENDING_STATUSES = ("received", "processed")
# The rule a report joining a killed story is recorded under: held, whatever routing said.
KILLED_STORY_RULE = "killed-story"
ACTION_STATUS = {"publish": "published", "review": "pending_review", "reject": "rejected"}
STATUS_ACTION = {**{s: a for a, s in ACTION_STATUS.items()}, "corrected": "publish"}


def enrich(article: Article, config: Config) -> Article:
    """The stages that need nothing but the article: language, then dateline, entities and
    keywords."""
    with metrics.stage_timer("language"):
        article = detect_language(article, config.news_languages)
    metrics.STAGE_ITEMS.labels("language", "ok").inc()
    with metrics.stage_timer("tag"):
        article = tag(apply_dateline(article))
    metrics.STAGE_ITEMS.labels("tag", "ok").inc()
    return article


def resolve_story(services: Services, session: Any, article: Article,
                  claim: Claim) -> tuple[Article, bytes | None]:
    """Dedupe: exact (database), near-duplicate (Redis index), same story (anchors).

    ``claim`` orders this article's tier-3 decision after those of same-story candidates
    still in flight (``story_decisions``); keep it until the article is committed. Also
    returns the article's embedding to store (``stages.semantic.pack``; None without
    WIREDESK_DEDUPE_SEMANTIC).
    """
    embedding = None
    with metrics.stage_timer("dedupe"):
        revision_of_known_article = article.story_id is not None
        article = resolve_exact(article, article_store.exact_candidates(session, article))
        if article.duplicate_tier is None and not revision_of_known_article:
            since = utcnow() - timedelta(seconds=services.config.dedupe_window_seconds)
            # Tiers 2 and 3 compare the text without what its feed repeats in every article.
            recent = article_store.recent_feed_texts(session, article, since,
                                                     dedupe.BOILERPLATE_ARTICLES)
            matching = dedupe.without_boilerplate(article, dedupe.feed_boilerplate(
                dedupe.sentence_keys(body, summary) for body, summary in recent))
            # Rivals in flight score it as they will once it is committed: as stored.
            in_flight = claim.decided_before(article)  # first: then the database is current
            committed = article_store.story_candidates(session, article, since,
                                                       keys=dedupe.candidate_keys)
            candidates = [*in_flight, *committed]
            vectors = (story_embeddings(session, matching, candidates)
                       if services.config.dedupe_semantic else None)
            if vectors is not None:
                embedding = semantic.pack(vectors[article.id], article.content_hash)
            same_story = dedupe.match_story(matching, candidates,
                                            window_seconds=services.config.dedupe_window_seconds,
                                            embeddings=vectors)
            match = services.dedupe_index.find_story(matching, fallback=same_story)
            claim.decide(match.story_id)
            article = dedupe.apply_match(article, match)
    metrics.STAGE_ITEMS.labels("dedupe", article.duplicate_tier or "unique").inc()
    return article, embedding


def story_embeddings(session: Any, article: Article,
                     candidates: list[Article]) -> semantic.StoryEmbeddings | None:
    """Tier 3's semantic signal (WIREDESK_DEDUPE_SEMANTIC): the embeddings of ``article`` and
    of its candidates (as stored, else computed once per process when tier 3 asks). None for
    an article no later one can have as a candidate (no candidate key)."""
    if not dedupe.candidate_keys([e.id for e in article.entities], article.keywords,
                                 article.language):
        return None
    own = semantic.encoder().embed([semantic.embedding_text(article)])[0]
    stored = article_store.stored_embeddings(session, [c.id for c in candidates])
    return semantic.StoryEmbeddings(article.id, own, candidates, stored)


def classify(services: Services, article: Article) -> Article:
    """Categorize: IPTC Media Topics with scores."""
    with metrics.stage_timer("categorize"):
        article = categorize(article, services.categorizer)
    metrics.STAGE_ITEMS.labels("categorize", "ok" if article.categories else "none").inc()
    for category in article.categories:
        if category.qcode.endswith("000000"):  # top level only: a small, fixed label set
            metrics.TOPICS.labels(category.qcode).inc()
    return article


@contextmanager
def story_locked(services: Services, article: Article) -> Iterator[None]:
    """Exact duplicates race on the content hash and on the canonical link: one story per
    hash and per link at a time (two feeds' teasers of one page differ in hash, not in link).
    Taken in key order, so two workers needing the same two locks never wait on each other.

    A lock that expired while held (a long wait for a rival's decision or a row lock) is no
    error on the way out: the article is committed by then, and failing would retry finished
    work and never emit its event."""
    names = {keys.story_lock(article.content_hash)}
    if article.url:
        names.add(keys.story_url_lock(article.url))
    held = []
    try:
        for name in sorted(names):
            lock = services.redis.lock(name, timeout=keys.STORY_LOCK_TTL_SECONDS,
                                       blocking_timeout=keys.STORY_LOCK_TTL_SECONDS)
            if not lock.acquire():
                raise LockError(f"story lock {name} still taken after "
                                f"{keys.STORY_LOCK_TTL_SECONDS} s")
            held.append(lock)
        yield
    finally:
        for lock in reversed(held):
            if not _released(lock):
                log.warning("process: the story lock %s expired before the commit", lock.name)


def _released(lock: Any) -> bool:
    """Release ``lock``; False when it had expired meanwhile (someone else may hold it now,
    and the work it guarded is idempotent)."""
    try:
        lock.release()
    except LockError:
        return False
    return True


def process_article(services: Services, article_id: str) -> str:
    """Process one article; returns its status afterwards."""
    lock = services.redis.lock(keys.article_process_lock(article_id),
                               timeout=keys.article_process_lock_ttl(services.config.task_time_limit),
                               blocking=False)
    if not lock.acquire():
        # Another worker has it now. Should that worker die, its lock expires and the
        # reconciler sends the article again; waiting here would only tie up this worker.
        return "busy"
    # A worker killed by the article never reaches the task's retries: count the runs that
    # died (they left their count behind), so it ends failed instead of killing the next.
    runs = keys.article_process_runs(article_id)
    try:
        pipe = services.redis.pipeline(transaction=False)
        pipe.incr(runs)
        pipe.expire(runs, keys.ARTICLE_PROCESS_RUNS_TTL_SECONDS)
        died = pipe.execute()[0] - 1
        if died > services.config.task_max_retries:
            return fail_article(services, article_id, f"the worker died {died} times processing "
                                "it (killed, out of memory or past the hard time limit)")
        return _process_locked(services, article_id, announce_done=died > 0)
    finally:
        services.redis.delete(runs)  # returned or raised: this run did not die
        _released(lock)  # expired while we worked: nothing to undo


def _process_locked(services: Services, article_id: str, announce_done: bool = False) -> str:
    """Process one article while holding its lock; from the start again when a fetch revised
    it meanwhile (that revision's own message found the article busy)."""
    while (status := _process_current(services, article_id, announce_done)) is None:
        log.info("process: %s was revised while processed; processing the revision", article_id)
    return status


def _process_current(services: Services, article_id: str,
                     announce_done: bool = False) -> str | None:
    """Process the article's current revision; None if another was committed meanwhile.
    ``announce_done``: a run before this one died, perhaps between its commit and its event."""
    with services.db.session() as session:
        row = session.get(models.Article, article_id)
        if row is None:
            log.warning("process: no article %s", article_id)
            return "missing"
        if row.status not in PENDING_STATUSES:
            if announce_done:  # its event may never have left: sent twice rather than never
                _announce(services, row.id, row.status, row.story_id, row.routing_rule,
                          row.error)
            return row.status  # done already: a redelivery changes nothing
        article = enrich(article_store.to_article(row), services.config)
        with story_locked(services, article), \
                services.story_decisions.claim() as claim:
            article, embedding = resolve_story(services, session, article, claim)
            article = classify(services, article)
            feed = session.get(models.Feed, article.feed_id)
            assert feed is not None
            with metrics.stage_timer("route"):
                decision = route(article, FeedInfo(feed.id, feed.name, feed.trust, feed.language),
                                 current_rules(session))
            # The row was read without a lock. Lock it now: the output is saved only over the
            # revision it was computed from, and no fetch revises it before this commits.
            current = session.execute(
                select(models.Article.revision, models.Article.status, models.Article.story_id)
                .where(models.Article.id == article_id).with_for_update()).one_or_none()
            if current is None:
                return "missing"  # deleted meanwhile
            if current.revision != row.revision or current.story_id != row.story_id:
                # Revised by a fetch, or moved to another story by an editor, meanwhile.
                session.rollback()
                return None
            if current.status not in (*PENDING_STATUSES, "failed"):
                # Another run finished it meanwhile: Redis lost this run's article lock (a
                # restart, a failover) and a redelivery took the article. It is done. (Failed
                # by another run's last retry meanwhile, it takes this run's success.)
                session.rollback()
                return current.status
            if current.status == "failed":
                session.expire(row, ["error"])  # read before it was set: clear it for real
            status = _apply(session, row, article, decision)
            if embedding is not None:  # written with the rest, under the row's lock
                row.embedding = embedding
            recorded_rule = row.routing_rule or decision.rule_name
            story_id = row.story_id
            session.commit()
    # What the article records: a copy or reprint joining a live story is counted under the
    # rule and action it was saved with (exact-duplicate / joined-*, publish).
    action = STATUS_ACTION[status]
    metrics.ROUTING.labels(recorded_rule, action).inc()
    metrics.STAGE_ITEMS.labels("route", action).inc()
    if status in models.PUBLISHED_STATUSES and article.fetched_at:
        metrics.INGEST_TO_PUBLISH.observe(
            max(0.0, (datetime.now(UTC) - article.fetched_at).total_seconds()))
    _announce(services, article_id, status, story_id, recorded_rule)
    return status


def _push_to_subscribers(story_id: str | None) -> None:
    from wiredesk.deliver.tasks import announce  # the publisher's side: loaded when used

    announce(story_id)


def _announce(services: Services, article_id: str, status: str, story_id: str | None = None,
              rule: str | None = None, error: str | None = None) -> None:
    """After the commit that set it: the event of the article's ``status`` and, published,
    the push of its story to subscribers."""
    if status == "failed":
        events.emit(services.redis, "article.failed", article_id=article_id,
                    error=(error or "")[:500])
        return
    events.emit(services.redis, f"article.{status}", article_id=article_id,
                story_id=story_id, rule=rule)
    if status in models.PUBLISHED_STATUSES:
        _push_to_subscribers(story_id)


def found_story(session: Any, article: Article, now: datetime) -> models.Story:
    """The story ``article`` founds; or, when another worker has just committed it (an article
    that joined this one's story before this one was committed, and finished first), that row.
    """
    try:
        # A savepoint: losing the race must not undo the rest of the article's transaction.
        # Flushed here too: no ORM relationship orders this insert before the article's update.
        with session.begin_nested():
            story = models.Story(id=article.story_id, canonical_article_id=article.id,
                                 status="received", created_at=now, updated_at=now)
            session.add(story)
        return story
    except IntegrityError:
        existing = session.get(models.Story, article.story_id)
        assert existing is not None  # the row that made the insert fail
        return existing


def _apply(session: Any, row: models.Article, article: Article, decision: RoutingDecision) -> str:
    """Save the stages' output, create or grow the story, and move the statuses on."""
    now = utcnow()
    # Locked and read afresh: members joining at once each compare themselves with the
    # canonical the previous one committed, and the story's status moves on in order.
    story = session.get(models.Story, article.story_id, with_for_update=True,
                        populate_existing=True) or found_story(session, article, now)
    while story.status == "merged" and story.merged_into:
        # An editor merged the story this article chose (from the near-duplicate index, or a
        # rival's decision in flight) into another: the article joins that one.
        article = article.replace(story_id=story.merged_into)
        story = session.get(models.Story, article.story_id, with_for_update=True,
                            populate_existing=True) or found_story(session, article, now)
    if story.canonical_article_id != article.id and story.status != models.KILLED:
        current = session.get(models.Article, story.canonical_article_id)
        if current is None or dedupe.canonical(
                [article_store.to_article(current), article]).id == article.id:
            story.canonical_article_id = article.id
    status = ACTION_STATUS[decision.action]
    rule, reason = decision.rule_name, decision.reason
    # Never publish the same copy twice: it becomes another source of the live story, unless
    # a rule about something else (its feed, a keyword...) held or rejected it.
    copy_joins = decision.action == "publish" or "exact" in decision.duplicate_tiers
    if story.status == models.KILLED:
        # A report of a killed story (a copy of the withdrawn text, or more on its event) is
        # never published with it: an editor sees it, and may split it into a story of its own.
        if decision.action != "reject":
            status, rule = "pending_review", KILLED_STORY_RULE
        reason = f"joins story {story.id}, which was killed; {reason}"
    elif (article.duplicate_tier == "exact" and copy_joins
            and story.status in models.PUBLISHED_STATUSES):
        status, rule = "published", "exact-duplicate"
        reason = f"exact duplicate; added as a source of published story {story.id}"
        story.touch(now)
    elif row.revision > 1 and story.status in models.PUBLISHED_STATUSES and status == "published":
        status = "corrected"
        reason = f"revision {row.revision} of a published article; {reason}"
        story.status = "corrected"
        story.touch(now)
    elif (article.duplicate_tier and status == "published"
          and story.status in models.PUBLISHED_STATUSES):
        # A reprint or another outlet's report: the live story gains a source, not a twin.
        rule = f"joined-{article.duplicate_tier}"
        reason = (f"{article.duplicate_tier} duplicate (score {article.duplicate_score}) "
                  f"joined published story {story.id}; {reason}")
        story.touch(now)
    elif status == "published" and story.status not in models.PUBLISHED_STATUSES:
        story.status, story.published_at, story.updated_at = "published", now, now
    elif story.status == "received":
        story.status = status
    article = article.replace(status=status, routing_rule=rule, routing_reason=reason)
    article_store.write_enrichment(row, article)
    article_store.set_status(row, status)
    if article.duplicate_tier:
        session.flush()
        metrics.STORY_SIZE.observe(article_store.story_size(session, story.id))
    return status


def fail_article(services: Services, article_id: str, error: str) -> str:
    """The article is ``failed``, with the error kept for replay, unless it is done already;
    returns its status."""
    with services.db.session() as session:
        # Locked: another run of the article (the reconciler re-sent it during the retries'
        # backoff) may be committing its success; read what it committed, never overwrite it.
        row = session.get(models.Article, article_id, with_for_update=True)
        if row is None or row.status not in PENDING_STATUSES:
            return row.status if row is not None else "missing"
        article_store.set_status(row, "failed", error=error[:2000])
    metrics.ARTICLES_FAILED.inc()
    _announce(services, article_id, "failed", error=error)
    return "failed"


def replay_failed(services: Services, article_ids: list[str] | None = None) -> list[str]:
    """Send failed articles (those given, or all) through the pipeline again, error cleared;
    returns their ids. The reconciler leaves ``failed`` alone: an operator decides."""
    query = select(models.Article).where(models.Article.status == "failed")
    if article_ids is not None:
        query = query.where(models.Article.id.in_(article_ids))
    with services.db.session() as session:
        rows = list(session.scalars(query.order_by(models.Article.id).with_for_update()))
        for row in rows:
            article_store.set_status(row, "received")
        ids = [row.id for row in rows]
    for article_id in ids:  # after the commit: the task must find them received
        process.delay(article_id)
    return ids


# What the stages make of an article's copy; an editor's edit has them made again.
_COPY_ENRICHMENT = ("language", "language_confidence", "entities", "keywords", "dateline",
                    "categories")


def reenrich_article(services: Services, article_id: str, revision: int) -> str:
    """After an editor's edit (``revision``): language, dateline, entities, keywords and
    topics made again from the editor's copy, so consumers are not told what the feed's copy
    was about. The story, status and routing stay (the editor decides); topics an editor
    corrected stay. Returns ``done``, or ``stale`` when the article has another revision now
    (or ``missing``)."""
    with services.db.session() as session:
        row = session.get(models.Article, article_id)
        if row is None:
            return "missing"
        if row.revision != revision or row.edited_by is None:
            return "stale"
        current = article_store.to_article(row)
        article = classify(services, enrich(current, services.config))
        if session.scalar(select(models.TopicCorrection.id).where(
                models.TopicCorrection.article_id == article_id).limit(1)) is not None:
            article = article.replace(categories=current.categories)  # the editor's topics
        row = session.get(models.Article, article_id, with_for_update=True,
                          populate_existing=True)
        if row is None:
            return "missing"
        if row.revision != revision:
            return "stale"  # revised meanwhile: that revision is processed on its own
        before = {name: getattr(row, name) for name in _COPY_ENRICHMENT}
        article_store.write_copy_enrichment(row, article)
        changed = any(getattr(row, name) != before[name] for name in _COPY_ENRICHMENT)
        if changed and row.status in models.PUBLISHED_STATUSES and row.story_id:
            story = session.get(models.Story, row.story_id, with_for_update=True)
            if story is not None:
                story.touch(utcnow())  # approved before this ran: consumers see new subjects
    return "done"


@wiredesk_task(queue="process", name="pipeline.reenrich")
def reenrich(self: Any, article_id: str, revision: int) -> str:
    """Run the enrichment stages again on an article an editor edited."""
    return reenrich_article(self.wiredesk, article_id, revision)


def _fail_article(task: Any, exc: BaseException, args: tuple[Any, ...]) -> None:
    """After the last retry: the article is ``failed``."""
    fail_article(task.wiredesk, args[0], f"{type(exc).__name__}: {exc}")



@wiredesk_task(queue="process", name="pipeline.process", on_final_failure=_fail_article)
def process(self: Any, article_id: str) -> str:
    """Run the pipeline on one article."""
    return process_article(self.wiredesk, article_id)


@wiredesk_task(queue="process", name="pipeline.process_batch")
def process_batch(self: Any, article_ids: list[str]) -> int:
    """Run the pipeline on several articles (one fetch's new entries), one after the other.

    One message per feed instead of one per article (the ingester's cost was the messages).
    An article that fails goes on alone as a ``process`` message, so it gets that task's
    retries and final-failure record; near the time limit, so does everything left.
    """
    for n, article_id in enumerate(article_ids):
        try:
            process_article(self.wiredesk, article_id)
        except SoftTimeLimitExceeded:
            for rest in article_ids[n:]:
                process.delay(rest)
            break
        except Exception as exc:  # noqa: BLE001 - retried on its own, with the task policy
            log.warning("process_batch: %s failed (%s); sent on alone", article_id, exc)
            process.delay(article_id)
    return len(article_ids)


def stuck_article_ids(services: Services, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Articles sitting in a non-final status for too long; touched so they are not re-sent."""
    cutoff = utcnow() - older_than
    with services.db.session() as session:
        rows = list(session.scalars(
            select(models.Article)
            .where(models.Article.status.in_(PENDING_STATUSES),
                   models.Article.status_changed_at < cutoff)
            .order_by(models.Article.status_changed_at)
            .limit(limit)
        ))
        for row in rows:
            row.status_changed_at = utcnow()
        return [row.id for row in rows]


@wiredesk_task(queue="process", name="pipeline.reconcile")
def reconcile(self: Any) -> int:
    """Beat: re-enqueue articles a lost message or dead worker left behind."""
    ids = stuck_article_ids(self.wiredesk,
                            timedelta(seconds=self.wiredesk.config.reconcile_after_seconds))
    for article_id in ids:
        process.delay(article_id)
    metrics.RECONCILED.inc(len(ids))
    if ids:
        log.info("reconciler re-enqueued %d stuck articles", len(ids))
    return len(ids)
