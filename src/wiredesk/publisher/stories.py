"""Reading published stories from the database, with the sources each one came from."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, cast, exists, or_, select
from sqlalchemy.orm import Session

from wiredesk.schemas import Article
from wiredesk.store import articles as article_store
from wiredesk.store import models

VISIBLE_STATUSES = ("published", "corrected")
VISIBLE_ARTICLE_STATUSES = ("published", "corrected")


@dataclass
class Source:
    article: Article
    feed_name: str
    feed_url: str


@dataclass
class StoryView:
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime
    canonical: Article
    sources: list[Source]
    version: int = 1


def encode_cursor(published_at: datetime, story_id: str) -> str:
    raw = f"{published_at.isoformat()}|{story_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raise ValueError for a cursor this publisher did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, story_id = raw.split("|", 1)
        published_at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("bad cursor") from exc
    # Ours always carry a zone and a story id; the database refuses a naive time or a NUL.
    if published_at.tzinfo is None or not _storable(story_id):
        raise ValueError("bad cursor")
    return published_at, story_id


def _storable(story_id: str) -> bool:
    """Whether the database can take ``story_id`` as a parameter (PostgreSQL refuses a NUL)."""
    return "\x00" not in story_id


def _view(session: Session, story: models.Story) -> StoryView | None:
    rows = list(session.scalars(
        select(models.Article)
        .where(models.Article.story_id == story.id,
               models.Article.status.in_(VISIBLE_ARTICLE_STATUSES))
        .order_by(models.Article.created_at, models.Article.id)
    ))
    if not rows:
        return None
    canonical_row = next((r for r in rows if r.id == story.canonical_article_id), rows[0])
    feeds = {f.id: f for f in session.scalars(
        select(models.Feed).where(models.Feed.id.in_({r.feed_id for r in rows})))}
    sources = [Source(article_store.to_article(r), feeds[r.feed_id].title or feeds[r.feed_id].name,
                      feeds[r.feed_id].url) for r in rows]
    return StoryView(story.id, story.status, story.created_at, story.updated_at,
                     story.published_at or story.created_at,
                     article_store.to_article(canonical_row), sources, story.version)


def list_stories(session: Session, limit: int = 50, cursor: str | None = None, *,
                 topic: str | None = None, language: str | None = None) -> list[StoryView]:
    """Visible stories, newest first, starting after ``cursor``; optionally of one IPTC topic
    (``medtop:NNNNNNNN``) or one language, judged by the story's canonical article."""
    # Only stories with a copy to show: one whose only article is being revised, or whose
    # revision waits for an editor, has none; skipped after the LIMIT, it shortened the page
    # and ended the cursors there.
    query = select(models.Story).where(
        models.Story.status.in_(VISIBLE_STATUSES),
        exists().where(models.Article.story_id == models.Story.id,
                       models.Article.status.in_(VISIBLE_ARTICLE_STATUSES))
        .correlate(models.Story))
    if topic or language:
        query = query.join(models.Article,
                           models.Article.id == models.Story.canonical_article_id)
    if topic:
        # Categories are JSON; matching the quoted qcode in its text works on every backend.
        query = query.where(cast(models.Article.categories, String).like(f'%"{topic}"%'))
    if language:
        query = query.where(models.Article.language == language)
    if cursor:
        stamp, story_id = decode_cursor(cursor)
        query = query.where(or_(models.Story.published_at < stamp,
                                and_(models.Story.published_at == stamp,
                                     models.Story.id < story_id)))
    query = query.order_by(models.Story.published_at.desc(), models.Story.id.desc()).limit(limit)
    views = (_view(session, story) for story in session.scalars(query))
    return [v for v in views if v is not None]


def get_story(session: Session, story_id: str) -> StoryView | None:
    story = session.get(models.Story, story_id) if _storable(story_id) else None
    if story is None or story.status not in VISIBLE_STATUSES:
        return None
    return _view(session, story)
