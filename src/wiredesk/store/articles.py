"""Reading and writing Articles: rows in, validated ``schemas.Article`` out, and back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, delete, insert, null, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from wiredesk import identity, schemas
from wiredesk.store import models
from wiredesk.store.db import copy_rows, fetch_unprepared, runs_on_psycopg
from wiredesk.store.models import utcnow
from wiredesk.text.html import html_to_text

_CONTENT_FIELDS = ("title", "summary", "body_html", "body_text", "authors", "url", "guid",
                   "published_at", "updated_at", "fetched_at", "content_hash", "language_hint",
                   "published_raw", "updated_raw", "date_flags")
_ENRICHMENT_FIELDS = ("language", "language_confidence", "keywords", "story_id", "duplicate_tier",
                      "duplicate_score", "status", "routing_rule", "routing_reason")


# Built once: a marshmallow schema is costly to instantiate, and these run for every article.
_ARTICLE_FIELDS = tuple(schemas.article_schema.fields)
_ENTITIES = schemas.EntitySchema(many=True)
_CATEGORIES = schemas.CategorySchema(many=True)
_DATELINE = schemas.DatelineSchema()


def to_article(row: models.Article, **overrides: Any) -> schemas.Article:
    """The row as a validated Article (the schema guards the boundary), with ``overrides``
    (column values) in place of the row's own."""
    data: dict[str, Any] = {}
    for name in _ARTICLE_FIELDS:
        value = overrides[name] if name in overrides else getattr(row, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    return schemas.article_schema.load(data)  # type: ignore[no-any-return]


def write_enrichment(row: models.Article, article: schemas.Article) -> None:
    """Store what the stages added to ``article`` on its row."""
    for name in _ENRICHMENT_FIELDS:
        setattr(row, name, getattr(article, name))
    write_copy_enrichment(row, article)


def write_copy_enrichment(row: models.Article, article: schemas.Article) -> None:
    """Store what the stages made of ``article``'s copy (language, keywords, entities, topics,
    dateline) on its row, and nothing of its story, status or routing."""
    row.language, row.language_confidence = article.language, article.language_confidence
    row.keywords = article.keywords
    row.entities = _ENTITIES.dump(article.entities)
    row.categories = _CATEGORIES.dump(article.categories)
    row.dateline = _DATELINE.dump(article.dateline) if article.dateline else None


def set_status(row: models.Article, status: str, *, error: str | None = None) -> None:
    row.status = status
    row.error = error
    row.status_changed_at = utcnow()


def upsert(session: Session, article: schemas.Article) -> str:
    """Insert or revise one incoming Article; its outcome (see ``upsert_many``)."""
    return upsert_many(session, [article])[0]


# A feed whose output is not byte-stable can make an entry "change" forever; past this many
# revisions further changes are counted and dropped (an editor can still correct the story).
MAX_REVISIONS = 25


def _hash_version(digest: str) -> str:
    return digest.split("-", 1)[0]  # "c1n2": content hash and normalizer versions


def _revise(session: Session, row: models.Article, article: schemas.Article) -> str:
    """Apply a changed entry to its row as a new revision, unless it is no real change."""
    if row.content_hash == article.content_hash:
        return "unchanged"
    if row.status == models.KILLED:
        return "killed"  # an editor killed it: no later version of the entry brings it back
    if (_hash_version(row.content_hash) != _hash_version(article.content_hash)
            and _rehashed(session, row, article.content_hash)):
        return "unchanged"  # the normalizer changed, not the entry
    flip_flop = session.scalar(select(models.ArticleRevision.id).where(
        models.ArticleRevision.article_id == row.id,
        models.ArticleRevision.content_hash == article.content_hash).limit(1))
    if flip_flop is not None:
        return "unchanged"  # back to a version we already had: the feed wavers, nothing new
    if row.revision >= MAX_REVISIONS:
        return "capped"
    session.add(revision_of(row))  # the version being replaced joins the history
    for name in _CONTENT_FIELDS:
        setattr(row, name, getattr(article, name))
    row.edited_by = None  # the feed's own copy again (an editor's edit joined the history)
    row.revision += 1
    set_status(row, "received")
    return "updated"


def _rehashed(session: Session, row: models.Article, new_hash: str) -> bool:
    """After a normalizer upgrade: whether the row, or else a version in its history (an
    editor's copy on the row replaced it, or the feed wavers), is the entry's content hashed
    anew. Then the row and that version take hashes of the new normalizer, so the next fetch
    matches them directly."""
    row_hash = identity.content_hash(row.title, row.body_text)
    if row_hash != new_hash:
        history = session.scalars(select(models.ArticleRevision).where(
            models.ArticleRevision.article_id == row.id,
            models.ArticleRevision.content_hash != new_hash))
        version = next((v for v in history
                        if identity.content_hash(v.title, html_to_text(v.body_html)) == new_hash),
                       None)
        if version is None:
            return False
        version.content_hash = new_hash
    row.content_hash = row_hash
    return True


# The lock a transaction writing a feed's articles holds on the feed's row (an UPDATE of the
# row takes the same): a delete and a fetch of one feed then run one after the other.
# FOR NO KEY UPDATE: the FK checks of the feed's new articles (FOR KEY SHARE) do not wait on it.
FEED_ROW_LOCK = {"key_share": True}


@dataclass(frozen=True)
class Deleted:
    """What deleting an article did to what consumers see: ``story_id``, the published story
    that changed (announce it to subscribers after the commit), or None; ``withdrawn``: that
    story had nothing else to show, and is withdrawn (killed) with it."""

    story_id: str | None = None
    withdrawn: bool = False


def delete_article(session: Session, article_id: str, reason: str) -> Deleted | None:
    """Delete an article for good and leave a tombstone; None if there was no such article."""
    feed_id = session.scalar(select(models.Article.feed_id).where(models.Article.id == article_id))
    if feed_id is None:
        return None
    # Without the feed's lock, a fetch of this feed storing meanwhile would wait on the row,
    # then read the tombstones as they were before this commit, and insert the entry anew.
    session.execute(select(models.Feed.id).where(models.Feed.id == feed_id)
                    .with_for_update(**FEED_ROW_LOCK))
    # Read under the lock: another delete that held it first has removed the row meanwhile.
    row = session.get(models.Article, article_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    session.merge(models.ArticleTombstone(article_id=row.id, feed_id=row.feed_id,
                                          reason=reason[:2000]))
    story_id = row.story_id
    # Locked after the article, as the pipeline locks them: a report joining it meanwhile
    # is committed first, or joins what this leaves.
    story = session.get(models.Story, story_id, with_for_update=True,
                        populate_existing=True) if story_id else None
    shown = _shown_before_delete(session, story)
    session.execute(delete(models.ArticleRevision).where(
        models.ArticleRevision.article_id == row.id))
    session.delete(row)
    session.flush()
    if story is None or story.status == models.KILLED:
        return Deleted()  # a killed story stays killed (its URI says so), whatever is left
    rest = list(session.scalars(select(models.Article).where(
        models.Article.story_id == story.id).order_by(models.Article.created_at,
                                                      models.Article.id)))
    if not rest and shown is None:
        session.delete(story)
        return Deleted()
    now = utcnow()
    if rest and story.canonical_article_id == article_id:
        from wiredesk.pipeline.stages.dedupe import canonical  # numpy: only here

        story.canonical_article_id = canonical([to_article(r) for r in rest]).id
    if shown is None:
        story.touch(now)  # a source fewer, of a story consumers do not see
        return Deleted()
    from wiredesk.publisher.stories import get_story
    from wiredesk.store.stories import withdraw

    if get_story(session, story.id) is None:
        # Consumers saw the story, and nothing of it is left to show: it is withdrawn (its
        # URI says canceled, its feeds' subscribers are told), not gone without a word.
        withdraw(session, story, shown, now)
        return Deleted(story.id, withdrawn=True)
    story.touch(now)  # a source fewer: consumers see a new version
    return Deleted(story.id)


def _shown_before_delete(session: Session, story: models.Story | None) -> dict[str, Any] | None:
    """What consumers see of ``story`` now (``publisher.stories.last_shown``); None: nothing."""
    if story is None or story.status not in models.PUBLISHED_STATUSES:
        return None
    from wiredesk.publisher.stories import get_story, last_shown  # what consumers see

    view = get_story(session, story.id)
    return last_shown(view) if view is not None else None


# Built once (they run for every fetched feed); the id list is an expanding parameter.
_TOMBSTONED = select(models.ArticleTombstone.article_id).where(
    models.ArticleTombstone.article_id.in_(bindparam("ids", expanding=True)))
_HELD = (select(models.Article.id, models.Article.content_hash)
         .where(models.Article.id.in_(bindparam("ids", expanding=True)))
         .order_by(models.Article.id).with_for_update())
# Both in one statement on PostgreSQL, the ids as one array (see ``_held_and_dead``): the
# rows that exist, locked in id order, with their hashes; then the tombstones (a NULL hash).
_IDS = bindparam("ids", type_=ARRAY(String))
_HELD_CTE = (select(models.Article.id, models.Article.content_hash)
             .where(models.Article.id == any_(_IDS))
             .order_by(models.Article.id).with_for_update()).cte("held")
_HELD_AND_DEAD = union_all(
    select(_HELD_CTE.c.id, _HELD_CTE.c.content_hash),
    select(models.ArticleTombstone.article_id, null())
    .where(models.ArticleTombstone.article_id == any_(_IDS)))


def _held_and_dead(session: Session, ids: list[str]) -> tuple[dict[str, str], set[str]]:
    """Lock the rows of ``ids`` that exist (in id order): their content hashes; and which of
    ``ids`` were deleted for good (tombstones)."""
    connection = session.connection()
    if not runs_on_psycopg(connection.dialect):
        dead = set(session.scalars(_TOMBSTONED, {"ids": ids}))
        return dict(session.execute(_HELD, {"ids": ids}).tuples().all()), dead
    # One round trip, on the driver's connection (Core's execution layer cost more than the
    # statement), and never a prepared statement: PostgreSQL keeps the generic plan it chose
    # for one, and a plan chosen while ``articles`` was nearly empty (a new database) can be a
    # sequential scan, run on every fetch from then on as the table grows. Planned for its
    # ids each time, the SELECT probes the primary key.
    hashes: dict[str, str] = {}
    dead = set()
    for article_id, content_hash in fetch_unprepared(connection, _HELD_AND_DEAD, {"ids": ids}):
        if content_hash is None:
            dead.add(article_id)
        else:
            hashes[article_id] = content_hash
    return hashes, dead


def upsert_many(session: Session, articles: list[schemas.Article]) -> list[str]:
    """``upsert`` for a whole feed at once: one locking SELECT of ids and hashes, and new rows
    inserted in bulk (one COPY or executemany) instead of one unit-of-work object per entry.
    Only rows whose content changed are loaded whole (a second SELECT, when any).

    Returns the outcome of each article, in order: new, updated, unchanged, capped (too many
    revisions), tombstoned (deleted) or killed (a change to an article killed with its story).
    Rows are locked in id order, so two sessions touching overlapping ids cannot deadlock.
    The caller's transaction already holds the feed's row lock (``FEED_ROW_LOCK``, or an
    UPDATE of the row), as ``delete_article`` takes it: so the tombstones read here include
    any delete that committed meanwhile.
    """
    ids = sorted({a.id for a in articles})
    hashes, dead = _held_and_dead(session, ids) if ids else ({}, set())
    changed = sorted({a.id for a in articles
                      if a.id in hashes and hashes[a.id] != a.content_hash})
    # Already locked by the SELECT above; these rows are the ones a revision will be written for.
    rows = {row.id: row for row in session.scalars(
        select(models.Article).where(models.Article.id.in_(changed)))} if changed else {}
    now = utcnow()
    new_rows: dict[str, dict[str, Any]] = {}
    outcomes = []
    for article in articles:
        if article.id in dead:
            outcomes.append("tombstoned")
            continue
        row = rows.get(article.id)
        if row is None and article.id in hashes:
            outcomes.append("unchanged")  # held, same content: the row is never loaded
            continue
        if row is None and article.id in new_rows:
            row = _flush_new(session, new_rows, article.id)  # same id twice in one document
            rows[article.id] = row
        if row is None:
            values = {name: getattr(article, name) for name in _CONTENT_FIELDS}
            # Every column with a Python-side default is given: COPY would take the server's.
            values.update(id=article.id, feed_id=article.feed_id, revision=1, status="received",
                          status_changed_at=now, created_at=now, entities=[], keywords=[],
                          categories=[])
            new_rows[article.id] = values
            outcomes.append("new")
        else:
            outcomes.append(_revise(session, row, article))
    _insert_new(session, list(new_rows.values()))
    return outcomes


def _insert_new(session: Session, values: list[dict[str, Any]]) -> None:
    # No revision rows: the row is the current version; a version joins the history only
    # when a newer one replaces it (``_revise``).
    if not values:
        return
    connection = session.connection()
    if runs_on_psycopg(connection.dialect):
        copy_rows(connection, models.Article.__table__, values)
        return
    # A Core insert on the table (executemany): the ORM's bulk layer cost more than the rows.
    session.execute(insert(models.Article.__table__), values)


def _flush_new(session: Session, new_rows: dict[str, dict[str, Any]],
               article_id: str) -> models.Article:
    """Insert the pending new rows now and return the row for ``article_id``."""
    _insert_new(session, list(new_rows.values()))
    new_rows.clear()
    row = session.get(models.Article, article_id)
    assert row is not None
    return row


# What the stages made of a version, kept with it in the history.
_VERSION_ENRICHMENT = ("language", "language_confidence", "entities", "keywords", "dateline",
                       "categories")


def version_content(version: models.ArticleRevision) -> dict[str, Any]:
    """An earlier version as the article's columns: its content (body text derived again from
    its HTML, as the ingester derives it) and, when the history kept it, its enrichment."""
    content = {"title": version.title, "summary": version.summary,
               "body_html": version.body_html, "body_text": html_to_text(version.body_html),
               "content_hash": version.content_hash, "edited_by": version.edited_by}
    if version.categories is not None:  # None: stored before migration 0010
        content.update({name: getattr(version, name) for name in _VERSION_ENRICHMENT})
    return content


def revision_of(row: models.Article) -> models.ArticleRevision:
    """The row's current version, as a history entry."""
    return models.ArticleRevision(
        article_id=row.id, revision=row.revision, content_hash=row.content_hash,
        title=row.title, summary=row.summary, body_html=row.body_html, status=row.status,
        created_at=row.fetched_at or utcnow(),  # when this version came in, as before
        edited_by=row.edited_by,
        **{name: getattr(row, name) for name in _VERSION_ENRICHMENT},
    )


CandidateKeys = Callable[[Iterable[str], Iterable[str], str | None], frozenset[str]]


def story_candidates(session: Session, article: schemas.Article, since: datetime,
                     keys: CandidateKeys, scan: int = 500,
                     limit: int = 50) -> list[schemas.Article]:
    """Recent articles already in a story that share a candidate key with ``article`` (tier 3).

    ``keys(entity_ids, keywords, language)`` is the dedupe stage's ``candidate_keys``; the
    articles sharing most keys come first, then the most recent.
    """
    own = keys([e.id for e in article.entities], article.keywords, article.language)
    if not own:
        return []
    recent = session.execute(
        select(models.Article.id, models.Article.entities, models.Article.keywords,
               models.Article.language)
        .where(models.Article.created_at >= since, models.Article.id != article.id,
               models.Article.story_id.is_not(None))
        .order_by(models.Article.created_at.desc())
        .limit(scan)
    ).all()
    shared = []
    for rank, row in enumerate(recent):
        theirs = keys([e.get("id") for e in row.entities or [] if e.get("id")],
                      row.keywords or [], row.language)
        if n := len(own & theirs):
            shared.append((-n, rank, row.id))
    ids = [row_id for _, _, row_id in sorted(shared)[:limit]]
    if not ids:
        return []
    rows = {row.id: row for row in
            session.scalars(select(models.Article).where(models.Article.id.in_(ids)))}
    return [to_article(rows[i]) for i in ids if i in rows]


def stored_embeddings(session: Session, ids: Iterable[str]) -> dict[str, bytes]:
    """The stored tier-3 embeddings (``stages.semantic.pack``) of the articles that have one."""
    ids = list(ids)
    if not ids:
        return {}
    return {row.id: row.embedding for row in session.execute(
        select(models.Article.id, models.Article.embedding)
        .where(models.Article.id.in_(ids), models.Article.embedding.is_not(None)))}


def recent_feed_texts(session: Session, article: schemas.Article, since: datetime,
                      limit: int) -> list[tuple[str, str]]:
    """(body text, summary) of the most recent other articles of ``article``'s feed."""
    return [(row.body_text, row.summary) for row in session.execute(
        select(models.Article.body_text, models.Article.summary)
        .where(models.Article.feed_id == article.feed_id, models.Article.id != article.id,
               models.Article.created_at >= since)
        .order_by(models.Article.created_at.desc()).limit(limit))]


def story_size(session: Session, story_id: str) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(models.Article).where(
        models.Article.story_id == story_id)) or 0


def exact_candidates(session: Session, article: schemas.Article) -> list[schemas.Article]:
    """Other articles sharing the canonical link or content hash, already in a story."""
    clauses = [models.Article.content_hash == article.content_hash]
    if article.url:
        clauses.append(models.Article.url == article.url)
    from sqlalchemy import or_

    rows = session.scalars(
        select(models.Article)
        .where(or_(*clauses), models.Article.id != article.id,
               models.Article.story_id.is_not(None))
        .order_by(models.Article.created_at, models.Article.id)
        .limit(20)
    )
    return [to_article(row) for row in rows]
