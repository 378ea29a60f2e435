"""Editors' decisions on articles routing held for review: approve (publish) or reject.

The desk, the CLI and the admin API call these. Every decision records who made it and why in
the article's routing rule and reason (the desk also writes its audit trail).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.models import utcnow

DECISIONS = ("approve", "reject")
DECIDED = {"approve": "approved", "reject": "rejected"}


class NotPending(ValueError):
    """The article is not waiting for an editor (missing, or decided already)."""


class NoSuchArticle(NotPending):
    """There is no article with that id (so it is not waiting for an editor either)."""


def pending(session: Session, limit: int = 100) -> list[models.Article]:
    """Articles waiting for an editor, oldest first."""
    return list(session.scalars(
        select(models.Article).where(models.Article.status == "pending_review")
        .order_by(models.Article.status_changed_at, models.Article.id).limit(limit)))


def queue_health(session: Session, now: datetime | None = None) -> tuple[int, float]:
    """(articles waiting for an editor, seconds the oldest of them has waited; 0: none)."""
    count, oldest = session.execute(
        select(func.count(), func.min(models.Article.status_changed_at))
        .where(models.Article.status == "pending_review")).one()
    if oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:  # SQLite's aggregate skips the type
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, ((now or utcnow()) - oldest).total_seconds())


def decide(session: Session, article_id: str, decision: str, editor: str, note: str = "") -> str:
    """Apply an editor's decision; returns the article's new status."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    row = session.get(models.Article, article_id, with_for_update=True)
    if row is None:
        raise NoSuchArticle(f"no article {article_id}")
    if row.status != "pending_review":
        raise NotPending(f"article {article_id} is not waiting for review")
    story = session.get(models.Story, row.story_id) if row.story_id else None
    now = utcnow()
    restored = None
    if decision == "approve":
        live = story is not None and story.status in models.PUBLISHED_STATUSES
        status = "corrected" if live and row.revision > 1 else "published"
        if story is not None and live:
            story.touch(now)  # a revision consumers had seen before
        elif story is not None:
            story.status, story.published_at, story.updated_at = "published", now, now
    elif (restored := _restore_published_version(session, row)) is not None:
        status = restored
        if story is not None:
            story.touch(now)  # back to the copy consumers had
    else:
        status = "rejected"
        if story is not None and story.status == "pending_review":
            others = session.scalar(select(models.Article.id).where(
                models.Article.story_id == story.id, models.Article.id != row.id,
                models.Article.status.in_(("pending_review", "published", "corrected"))).limit(1))
            if others is None:
                story.status = "rejected"
    row.routing_rule = f"editor:{editor}"[:200]
    reason = f"{DECIDED[decision]} by {editor}" + (f": {note}" if note else "")
    if restored is not None:
        reason = f"revision {row.revision - 1} {reason}; the published version is back"
    row.routing_reason = reason[:1000]
    article_store.set_status(row, status)
    return status


def _restore_published_version(session: Session, row: models.Article) -> str | None:
    """A rejected revision of an article that was published: its last published version (the
    one consumers saw meanwhile, whatever failed or was rejected since) comes back as a new
    revision (the status it had), and the rejected one joins the history, so the feed serving
    it again is no new revision. None when no version was ever published: then the article is
    simply rejected."""
    previous = session.scalars(
        select(models.ArticleRevision).where(
            models.ArticleRevision.article_id == row.id,
            models.ArticleRevision.status.in_(models.PUBLISHED_STATUSES))
        .order_by(models.ArticleRevision.revision.desc()).limit(1)).first()
    if previous is None:
        return None
    rejected = article_store.revision_of(row)
    rejected.status = "rejected"
    session.add(rejected)
    for name, value in article_store.version_content(previous).items():
        setattr(row, name, value)
    row.revision += 1
    return previous.status
