"""Reading published stories from the database, with the sources each one came from."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, exists, or_, select
from sqlalchemy.orm import Session

from wiredesk.identity import without_password
from wiredesk.schemas import Article
from wiredesk.store import articles as article_store
from wiredesk.store import models


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

    def filed_under(self) -> tuple[frozenset[str], str | None]:
        """The topics (qcodes) and language the feeds file the story under: its shown
        canonical report's, as published."""
        return (frozenset(c.qcode for c in self.canonical.categories),
                self.canonical.language)


@dataclass
class KilledStory:
    """A story withdrawn from consumers (an editor killed it, or its last shown report was
    deleted): what its URI answers and what the pushes telling its feeds' subscribers say."""

    id: str
    version: int
    published_at: datetime
    killed_at: datetime
    topics: frozenset[str]
    language: str | None

    def filed_under(self) -> tuple[frozenset[str], str | None]:
        """What the story was filed under when it was last shown."""
        return self.topics, self.language


def last_shown(view: StoryView) -> dict[str, Any]:
    """What to keep of a story about to be withdrawn (``Story.last_shown``): what the feeds
    filed it under, so they can tell their subscribers once nothing of it is shown."""
    topics, language = view.filed_under()
    return {"topics": sorted(topics), "language": language}


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
# an editor or failed, as its last published version (kept in the history); never once killed.
_PUBLISHED_BEFORE = exists().where(
    models.ArticleRevision.article_id == models.Article.id,
    models.ArticleRevision.status.in_(models.PUBLISHED_STATUSES))
SHOWN = or_(models.Article.status.in_(models.PUBLISHED_STATUSES),
            and_(models.Article.status != models.KILLED, _PUBLISHED_BEFORE))


def _shown(session: Session, story_ids: list[str]) -> dict[str, list[Article]]:
    """The stories' articles as consumers see them, oldest first, by story id."""
    rows = list(session.scalars(
        select(models.Article).where(models.Article.story_id.in_(story_ids), SHOWN)
        .order_by(models.Article.created_at, models.Article.id)))
    pending = [r.id for r in rows if r.status not in models.PUBLISHED_STATUSES]
    last_published: dict[str, models.ArticleRevision] = {}
    if pending:
        # In revision order: each article's last published version is the one left.
        last_published = {v.article_id: v for v in session.scalars(
            select(models.ArticleRevision).where(
                models.ArticleRevision.article_id.in_(pending),
                models.ArticleRevision.status.in_(models.PUBLISHED_STATUSES))
            .order_by(models.ArticleRevision.revision))}
    shown: dict[str, list[Article]] = {story_id: [] for story_id in story_ids}
    for row in rows:
        shown[row.story_id].append(_as_published(row, last_published.get(row.id)))
    return shown


def _as_published(row: models.Article, version: models.ArticleRevision | None) -> Article:
    if version is None:
        return article_store.to_article(row)
    return article_store.to_article(row, **article_store.version_content(version),
                                    revision=version.revision, status=version.status)


def _views(session: Session, stories: list[models.Story]) -> list[StoryView | None]:
    """Each story as consumers see it (None: nothing to show), in a fixed number of queries
    whatever the page size: one per story made a 50-story page 100 round trips."""
    shown = _shown(session, [story.id for story in stories])
    feed_ids = {a.feed_id for articles in shown.values() for a in articles}
    feeds = {f.id: f for f in session.scalars(
        select(models.Feed).where(models.Feed.id.in_(feed_ids)))} if feed_ids else {}
    return [_view(story, shown[story.id], feeds) for story in stories]


def _view(story: models.Story, articles: list[Article],
          feeds: dict[int, models.Feed]) -> StoryView | None:
    if not articles:
        return None
    canonical = next((a for a in articles if a.id == story.canonical_article_id), None)
    if canonical is None:  # held or rejected: the shown report the same rule would choose
        from wiredesk.pipeline.stages.dedupe import canonical as choose  # numpy: only here

        canonical = choose(articles)
    sources = [Source(a, _public_name(feeds[a.feed_id]), without_password(feeds[a.feed_id].url))
               for a in articles]
    return StoryView(story.id, story.status, story.created_at, story.updated_at,
                     story.published_at or story.created_at, canonical, sources, story.version)


def _public_name(feed: models.Feed) -> str:
    """The feed's name for consumers; a feed registered without one is named by its URL."""
    name = feed.title or feed.name
    return without_password(name) if name == feed.url else name


def _may_match(topic: str | None, language: str | None) -> list[Any]:
    """Conditions on a story's shown article that hold for every story ``in_feed`` keeps (and
    for few others): its current row or a published version has the topic and language."""
    conditions: list[Any] = []
    versions = models.ArticleRevision
    if topic:
        # Categories are JSON; matching the quoted qcode in its text works on every backend.
        quoted = f'%"{topic}"%'
        conditions.append(or_(
            cast(models.Article.categories, String).like(quoted),
            exists().where(versions.article_id == models.Article.id,
                           versions.status.in_(models.PUBLISHED_STATUSES),
                           cast(versions.categories, String).like(quoted))))
    if language:
        conditions.append(or_(
            models.Article.language == language,
            exists().where(versions.article_id == models.Article.id,
                           versions.status.in_(models.PUBLISHED_STATUSES),
                           versions.language == language)))
    return conditions


def in_feed(view: StoryView | KilledStory, topic: str | None = None,
            language: str | None = None) -> bool:
    """Whether the story belongs in the feed of ``topic`` and ``language`` (None: any): judged
    by the story as consumers see it (its shown canonical report, as published), or, killed,
    as they last saw it. The feeds (``list_stories``) and the pushes to their subscribers
    both ask here."""
    topics, shown_language = view.filed_under()
    return (not topic or topic in topics) and (not language or shown_language == language)


def list_stories(session: Session, limit: int = 50, cursor: str | None = None, *,
                 topic: str | None = None, language: str | None = None) -> list[StoryView]:
    """Visible stories, newest first, starting after ``cursor``; optionally of one IPTC topic
    (``medtop:NNNNNNNN``) or one language, judged by the report the story shows (its canonical,
    or the one shown while that waits for an editor) as it was published."""
    # Only stories with a copy to show (as ``_views`` decides): skipped after the LIMIT, a
    # story without one shortened the page and ended the cursors there.
    query = select(models.Story).where(
        models.Story.status.in_(models.PUBLISHED_STATUSES),
        exists().where(models.Article.story_id == models.Story.id, SHOWN,
                       *_may_match(topic, language)).correlate(models.Story)
    ).order_by(models.Story.published_at.desc(), models.Story.id.desc())
    after = decode_cursor(cursor) if cursor else None
    views: list[StoryView] = []
    while True:  # the database narrows the stories down; the shown report decides
        page = query if after is None else query.where(or_(
            models.Story.published_at < after[0],
            and_(models.Story.published_at == after[0], models.Story.id < after[1])))
        stories = list(session.scalars(page.limit(limit)))
        for view in _views(session, stories):
            if view is not None and in_feed(view, topic, language):
                views.append(view)
                if len(views) == limit:
                    return views
        if len(stories) < limit:
            return views
        after = (stories[-1].published_at, stories[-1].id)


def merged_into(session: Session, story_id: str) -> str | None:
    """The visible (or killed) story an editor merged ``story_id`` into (through any later
    merges of that one), or None: not a merged story, or what it went into is not visible."""
    story = session.get(models.Story, story_id) if _storable(story_id) else None
    for _ in range(100):  # merges only point at older stories; a bound all the same
        if story is None or story.status != "merged" or not story.merged_into:
            break
        story = session.get(models.Story, story.merged_into)
    else:
        return None
    if story is None or story.id == story_id or (
            get_story(session, story.id) is None and get_killed(session, story.id) is None):
        return None
    return story.id


def get_story(session: Session, story_id: str) -> StoryView | None:
    story = session.get(models.Story, story_id) if _storable(story_id) else None
    if story is None or story.status not in models.PUBLISHED_STATUSES:
        return None
    return _views(session, [story])[0]


def get_killed(session: Session, story_id: str) -> KilledStory | None:
    """The story, if it was withdrawn from consumers after publication (None: it was not)."""
    story = session.get(models.Story, story_id) if _storable(story_id) else None
    if story is None or story.status != models.KILLED or story.killed_at is None:
        return None
    shown = story.last_shown or {}
    return KilledStory(story.id, story.version, story.published_at or story.created_at,
                       story.killed_at, frozenset(shown.get("topics") or ()),
                       shown.get("language"))
