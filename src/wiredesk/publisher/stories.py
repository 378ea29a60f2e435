"""Reading published stories from the database, with the sources each one came from."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, case, cast, exists, or_, select
from sqlalchemy.orm import Session, aliased

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


# An article shows when it is published, or, while a newer revision is processed, waits for
# an editor or failed, as its last published version (kept in the history).
_PUBLISHED_BEFORE = exists().where(
    models.ArticleRevision.article_id == models.Article.id,
    models.ArticleRevision.status.in_(VISIBLE_ARTICLE_STATUSES))
SHOWN = or_(models.Article.status.in_(VISIBLE_ARTICLE_STATUSES), _PUBLISHED_BEFORE)


_SHOWN_VERSION = aliased(models.ArticleRevision)
_NEWER = aliased(models.ArticleRevision)
# The last published version of a canonical article that is not published itself (as
# ``_shown`` picks it); no row when the article is published.
_SHOWN_VERSION_OF_CANONICAL = and_(
    _SHOWN_VERSION.article_id == models.Article.id,
    models.Article.status.not_in(VISIBLE_ARTICLE_STATUSES),
    _SHOWN_VERSION.status.in_(VISIBLE_ARTICLE_STATUSES),
    ~exists().where(_NEWER.article_id == _SHOWN_VERSION.article_id,
                    _NEWER.status.in_(VISIBLE_ARTICLE_STATUSES),
                    _NEWER.revision > _SHOWN_VERSION.revision))


def _shown(session: Session, story_id: str) -> list[Article]:
    """The story's articles as consumers see them, oldest first."""
    rows = list(session.scalars(
        select(models.Article).where(models.Article.story_id == story_id, SHOWN)
        .order_by(models.Article.created_at, models.Article.id)))
    pending = [r.id for r in rows if r.status not in VISIBLE_ARTICLE_STATUSES]
    last_published: dict[str, models.ArticleRevision] = {}
    if pending:
        # In revision order: each article's last published version is the one left.
        last_published = {v.article_id: v for v in session.scalars(
            select(models.ArticleRevision).where(
                models.ArticleRevision.article_id.in_(pending),
                models.ArticleRevision.status.in_(VISIBLE_ARTICLE_STATUSES))
            .order_by(models.ArticleRevision.revision))}
    return [_as_published(r, last_published.get(r.id)) for r in rows]


def _as_published(row: models.Article, version: models.ArticleRevision | None) -> Article:
    if version is None:
        return article_store.to_article(row)
    return article_store.to_article(row, **article_store.version_content(version),
                                    revision=version.revision, status=version.status)


def _view(session: Session, story: models.Story) -> StoryView | None:
    articles = _shown(session, story.id)
    if not articles:
        return None
    canonical = next((a for a in articles if a.id == story.canonical_article_id), None)
    if canonical is None:  # held or rejected: the shown report the same rule would choose
        from wiredesk.pipeline.stages.dedupe import canonical as choose  # numpy: only here

        canonical = choose(articles)
    feeds = {f.id: f for f in session.scalars(
        select(models.Feed).where(models.Feed.id.in_({a.feed_id for a in articles})))}
    sources = [Source(a, feeds[a.feed_id].title or feeds[a.feed_id].name, feeds[a.feed_id].url)
               for a in articles]
    return StoryView(story.id, story.status, story.created_at, story.updated_at,
                     story.published_at or story.created_at, canonical, sources, story.version)


def list_stories(session: Session, limit: int = 50, cursor: str | None = None, *,
                 topic: str | None = None, language: str | None = None) -> list[StoryView]:
    """Visible stories, newest first, starting after ``cursor``; optionally of one IPTC topic
    (``medtop:NNNNNNNN``) or one language, judged by the story's canonical article."""
    # Only stories with a copy to show (as ``_view`` decides): skipped after the LIMIT, a
    # story without one shortened the page and ended the cursors there.
    query = select(models.Story).where(
        models.Story.status.in_(VISIBLE_STATUSES),
        exists().where(models.Article.story_id == models.Story.id, SHOWN)
        .correlate(models.Story))
    if topic or language:
        query = query.join(models.Article,
                           models.Article.id == models.Story.canonical_article_id)
        # While a revision waits, the canonical shows as its last published version, with
        # that version's topics and language when the history kept them.
        query = query.outerjoin(_SHOWN_VERSION, _SHOWN_VERSION_OF_CANONICAL)
        kept = _SHOWN_VERSION.categories.is_not(None)
    if topic:
        # Categories are JSON; matching the quoted qcode in its text works on every backend.
        categories = case((kept, _SHOWN_VERSION.categories), else_=models.Article.categories)
        query = query.where(cast(categories, String).like(f'%"{topic}"%'))
    if language:
        query = query.where(
            case((kept, _SHOWN_VERSION.language), else_=models.Article.language) == language)
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
