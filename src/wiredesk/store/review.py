"""Editors' decisions on articles routing held for review: approve (publish) or reject.

The desk, the CLI and the admin API call these. Every decision and edit records who made it
and why in the audit trail, in the same transaction (one trail whatever the channel), and a
decision also in the article's routing rule and reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wiredesk import identity
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.editors import audit, check_editor_name
from wiredesk.store.models import utcnow
from wiredesk.text.html import html_to_text

DECISIONS = ("approve", "reject")
DECIDED = {"approve": "approved", "reject": "rejected"}


class NotPending(ValueError):
    """The article is not waiting for an editor (missing, or decided already)."""


class CopyChanged(ValueError):
    """The article's copy is not the revision the editor saw (another editor, or the feed,
    changed it since): deciding on it or editing it would act on text they never read."""


class NoSuchArticle(NotPending):
    """There is no article with that id (so it is not waiting for an editor either)."""


class StoryKilled(ValueError):
    """Approving would publish a killed story again: the held report must leave it first."""


def _held_row(session: Session, article_id: str, seen: int | None) -> models.Article:
    """The held article's row, locked, when it is the revision the editor saw (``seen``;
    None: any). NoSuchArticle, NotPending, CopyChanged: it is not one to act on."""
    row = session.get(models.Article, article_id, with_for_update=True)
    if row is None:
        raise NoSuchArticle(f"no article {article_id}")
    if row.status != "pending_review":
        raise NotPending(f"article {article_id} is not waiting for review")
    if seen is not None and row.revision != seen:
        by = f" (edited by {row.edited_by})" if row.edited_by else ""
        raise CopyChanged(f"the copy changed since you opened it: it is revision "
                          f"{row.revision}{by} now, you saw revision {seen}")
    return row


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


# What an editor may write into an article's copy (characters).
EDIT_LIMITS = {"title": 1000, "summary": 5000, "body": 200_000}


def paragraphs_html(text: str) -> str:
    """Plain text as HTML: each line that is not blank a ``<p>``, escaped."""
    return "".join(f"<p>{escape(line.strip(), quote=False)}</p>"
                   for line in text.splitlines() if line.strip())


def edit(session: Session, article_id: str, editor: str, title: str, summary: str,
         body: str, seen_revision: int | None = None, note: str = "") -> list[str]:
    """An editor's copy of a held article, saved as a new revision the way a feed's correction
    is (the replaced version joins the history) and marked as the editor's; the article stays
    held. ``body`` is plain text, a paragraph a line. Returns what changed (title, summary,
    body); nothing changed, nothing is saved. ValueError: the copy is refused (empty title,
    too long); CopyChanged: ``seen_revision`` (the one the editor edited) is not the current."""
    # Browsers send a textarea's lines with CRLF: an untouched summary is no change.
    title, summary = title.strip(), "\n".join(summary.strip().splitlines())
    editor = check_editor_name(editor)
    if not title:
        raise ValueError("an article needs a title")
    for name, value in (("title", title), ("summary", summary), ("body", body)):
        if len(value) > EDIT_LIMITS[name]:
            raise ValueError(f"the {name} is longer than {EDIT_LIMITS[name]} characters")
    row = _held_row(session, article_id, seen_revision)
    body_html = paragraphs_html(body)
    body_text = html_to_text(body_html)
    changed = [name for name, before, after in (
        ("title", row.title, title), ("summary", row.summary, summary),
        ("body", row.body_text, body_text)) if before != after]
    if not changed:
        return []
    session.add(article_store.revision_of(row))  # the version being replaced joins the history
    row.title, row.summary = title, summary
    if "body" in changed:  # an unchanged body keeps the feed's markup (links, images)
        row.body_html, row.body_text = body_html, body_text
    row.content_hash = identity.content_hash(row.title, row.body_text)
    row.edited_by = editor
    row.revision += 1
    audit(session, editor, "edit", article_id, row.story_id,
          f"revision {row.revision}: {', '.join(changed)} changed" + (f"; {note}" if note else ""))
    return changed


def published_before(session: Session, row: models.Article) -> bool:
    """Consumers have seen an earlier version of the article (its history holds a published
    one): approving this one corrects it."""
    return session.scalar(select(models.ArticleRevision.id).where(
        models.ArticleRevision.article_id == row.id,
        models.ArticleRevision.status.in_(models.PUBLISHED_STATUSES)).limit(1)) is not None


def decide(session: Session, article_id: str, decision: str, editor: str, note: str = "",
           seen_revision: int | None = None) -> str:
    """Apply an editor's decision; returns the article's new status. ``seen_revision``: the
    revision the editor read (the desk's forms); another one now raises CopyChanged."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    editor = check_editor_name(editor)
    row = _held_row(session, article_id, seen_revision)
    story = session.get(models.Story, row.story_id) if row.story_id else None
    now = utcnow()
    restored = None
    if decision == "approve" and story is not None and story.status == models.KILLED:
        raise StoryKilled(f"its story {story.id} was killed: split the article into a story "
                          "of its own to publish it")
    if decision == "approve":
        live = story is not None and story.status in models.PUBLISHED_STATUSES
        # An editor's edit, or a feed's correction before anyone saw the article, is no
        # correction: only a version consumers had seen is corrected.
        status = "corrected" if live and published_before(session, row) else "published"
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
    audit(session, editor, decision, article_id, row.story_id, note)
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
