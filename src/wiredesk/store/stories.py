"""Editors' changes to stories: merge two stories into one, split an article into a story of
its own. The database's business (docs/dedupe.md, "Stories"); the desk then points the
near-duplicate index at the new stories (``DedupeIndex.move``).

Locks: the stories' articles first (in id order), then the stories (in id order), as the
pipeline locks an article and then its story; two editors acting on the same stories, or an
editor and a worker, run one after the other, and what was read before the locks is read again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wiredesk.identity import story_id_for
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.editors import audit, check_editor_name
from wiredesk.store.models import utcnow
from wiredesk.store.review import published_before

# Which status a merged story takes: the furthest along of the two.
_STATUS_RANK = {"corrected": 5, "published": 4, "pending_review": 3, "processed": 2,
                "received": 1, "rejected": 0}


def _furthest(*statuses: str) -> str:
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 0))


class StoryChangeRefused(ValueError):
    """The merge or split cannot be done as asked (the message says why)."""


class NoSuchStory(StoryChangeRefused):
    """No story (or article) of that id."""


@dataclass
class StoryChange:
    """What a merge or split did: the story that has the articles now, the one merged away (a
    merge), the articles that moved, and the stories whose version moved."""

    story_id: str
    merged_story_id: str | None = None
    moved: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    previous_story_id: str | None = None  # a split: the story the article left


def _members(session: Session, story_ids: list[str], *, lock: bool) -> list[models.Article]:
    query = (select(models.Article).where(models.Article.story_id.in_(story_ids))
             .order_by(models.Article.id))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(query))


def _lock(session: Session, story_ids: list[str], *, merged: bool = False,
          killed: bool = False) -> dict[str, models.Story]:
    """Lock the stories' articles, then the stories; the stories as they are now (a story
    merged away is refused, unless ``merged``; a killed one, unless ``killed``)."""
    ids = sorted(set(story_ids))
    _members(session, ids, lock=True)
    stories = {story.id: story for story in session.scalars(
        select(models.Story).where(models.Story.id.in_(ids)).order_by(models.Story.id)
        .with_for_update().execution_options(populate_existing=True))}
    for story_id in ids:
        story = stories.get(story_id)
        if story is None:
            raise NoSuchStory(f"no story {story_id}")
        if story.status == "merged" and not merged:
            raise StoryChangeRefused(f"story {story_id} was merged into {story.merged_into}")
        if story.status == models.KILLED and not killed:
            # Its articles joining a live story, or a live story's joining it, would bring
            # killed copy back, or bury live copy under a canceled URI.
            raise StoryChangeRefused(f"story {story_id} was killed")
    return stories


def _shown(session: Session, row: models.Article) -> bool:
    """Consumers see the article (published, or a version of it was)."""
    return row.status in models.PUBLISHED_STATUSES or published_before(session, row)


def _set_canonical(story: models.Story, members: list[models.Article]) -> None:
    from wiredesk.pipeline.stages.dedupe import canonical  # numpy: only here

    story.canonical_article_id = canonical([article_store.to_article(r) for r in members]).id


def _first_seen(story: models.Story) -> tuple[bool, datetime, str]:
    # The story consumers had first keeps its id; else the older one.
    return (story.published_at is None, story.published_at or story.created_at, story.id)


def _merged_into(session: Session, gone: models.Story, kept_id: str) -> None:
    """``gone`` is merged into ``kept_id``, and so are the stories merged into it before: a
    merged story's URI leads straight to the one that has its articles now."""
    gone.status, gone.merged_into = "merged", kept_id
    session.execute(update(models.Story).where(models.Story.merged_into == gone.id)
                    .values(merged_into=kept_id))


def merge(session: Session, story_id: str, other_id: str,
          now: datetime | None = None) -> StoryChange:
    """Merge two stories: the one published first (else created first) keeps its id and takes
    the other's articles; the other becomes ``merged`` into it. Canonical: the same rule as
    the pipeline's (earliest, then most complete)."""
    if story_id == other_id:
        raise StoryChangeRefused("a story cannot be merged with itself")
    now = now or utcnow()
    stories = _lock(session, [story_id, other_id])
    kept, gone = sorted(stories.values(), key=_first_seen)
    moving = _members(session, [gone.id], lock=False)
    shown_moved = any(_shown(session, row) for row in moving)
    for row in moving:
        row.story_id = kept.id
    session.flush()
    _set_canonical(kept, _members(session, [kept.id], lock=False))
    # The story published first stays: it is the live one whenever either is.
    was_live = {s.id: s.status in models.PUBLISHED_STATUSES for s in (kept, gone)}
    kept.status = _furthest(kept.status, gone.status)
    touched = []
    if was_live[kept.id] and shown_moved:
        kept.touch(now)  # sources joined
        touched.append(kept.id)
    if was_live[gone.id]:
        gone.touch(now)  # consumers see it go away
        touched.append(gone.id)
    _merged_into(session, gone, kept.id)
    return StoryChange(kept.id, gone.id, [row.id for row in moving], touched)


def new_story_id(session: Session, article_id: str) -> str:
    """A story id for ``article_id`` alone: named after it, as a founded story is, unless a
    story (the one it founded) has that name already; then one derived from it."""
    candidate = story_id_for(article_id)
    prefix = candidate.split("-", 1)[0]
    n = 0
    while session.get(models.Story, candidate) is not None:
        n += 1
        digest = hashlib.sha256(f"{article_id}|split|{n}".encode()).hexdigest()[:32]
        candidate = f"{prefix}-{digest}"
    return candidate


def _lock_article_story(session: Session, article_id: str, also: tuple[str, ...] = ()
                        ) -> tuple[models.Story, list[models.Article], models.Article,
                                   dict[str, models.Story]]:
    """Lock the article's story (and the stories ``also``), their articles first; the story,
    its members, the article's row, and every story locked. Another editor may move the
    article (a merge) while this waits for the locks: then it follows the article."""
    story_id = session.scalar(select(models.Article.story_id).where(
        models.Article.id == article_id))
    for _ in range(3):
        if story_id is None:
            raise NoSuchStory(f"article {article_id} is in no story")
        story = session.get(models.Story, story_id)
        if story is not None and story.status == "merged" and story.merged_into:
            story_id = story.merged_into  # merged before this read: lock the one it went into
        # Out of a killed story, a held report may go (``split``, ``move``): not killed copy.
        stories = _lock(session, [story_id, *also], merged=True, killed=True)
        members = _members(session, [story_id], lock=False)
        row = next((r for r in members if r.id == article_id), None)
        if row is not None and row.status == models.KILLED:
            raise StoryChangeRefused(f"article {article_id} was killed with its story")
        if row is not None:
            return stories[story_id], members, row, stories
        story_id = session.scalar(select(models.Article.story_id).where(
            models.Article.id == article_id))
    raise StoryChangeRefused(f"article {article_id} keeps moving between stories")


def _alone_status(shown: bool, row: models.Article) -> str:
    """The status of a story of this article alone."""
    if shown:
        return "published"
    return row.status if row.status in ("pending_review", "rejected") else "received"


def _left(session: Session, story: models.Story, rest: list[models.Article], article_id: str,
          shown: bool, now: datetime, touched: list[str]) -> None:
    """The story an article left, with its other articles ``rest`` (not empty)."""
    if story.canonical_article_id == article_id:
        _set_canonical(story, rest)
    if shown and story.status in models.PUBLISHED_STATUSES:
        story.touch(now)  # a source left
        touched.append(story.id)


def split(session: Session, article_id: str, now: datetime | None = None) -> StoryChange:
    """Move one article out of its story into a new story of its own."""
    now = now or utcnow()
    story, members, row, _ = _lock_article_story(session, article_id)
    if len(members) == 1:
        raise StoryChangeRefused(f"article {article_id} is the only article of its story")
    shown = _shown(session, row)
    new = models.Story(id=new_story_id(session, article_id), canonical_article_id=row.id,
                       status=_alone_status(shown, row), created_at=now, updated_at=now,
                       published_at=now if shown else None)
    session.add(new)
    session.flush()  # the story row before the article points at it
    row.story_id = new.id
    touched: list[str] = []
    _left(session, story, [r for r in members if r.id != article_id], article_id, shown, now,
          touched)
    if shown:
        touched.append(new.id)
    return StoryChange(new.id, None, [article_id], touched,
                       previous_story_id=story.id)


def move(session: Session, article_id: str, target_id: str,
         now: datetime | None = None) -> StoryChange:
    """Move one article into another existing story (its canonical chosen again by the same
    rule). A story the move leaves empty is merged into the target."""
    now = now or utcnow()
    story, members, row, stories = _lock_article_story(session, article_id, (target_id,))
    target = stories[target_id]
    if target.id == story.id:
        raise StoryChangeRefused(f"article {article_id} is in story {target_id} already")
    if target.status == "merged":
        raise StoryChangeRefused(f"story {target_id} was merged into {target.merged_into}")
    if target.status == models.KILLED:
        raise StoryChangeRefused(f"story {target_id} was killed")
    shown = _shown(session, row)
    target_live = target.status in models.PUBLISHED_STATUSES
    row.story_id = target.id
    session.flush()
    _set_canonical(target, _members(session, [target.id], lock=False))
    touched: list[str] = []
    rest = [r for r in members if r.id != article_id]
    merged = None
    if rest:
        _left(session, story, rest, article_id, shown, now, touched)
    elif story.status == models.KILLED:
        pass  # empty, still killed: its URI keeps saying so
    else:  # nothing left: it goes where its only article went (its URI follows)
        if story.status in models.PUBLISHED_STATUSES:
            story.touch(now)
            touched.append(story.id)
        _merged_into(session, story, target.id)
        merged = story.id
    if shown and target_live:
        target.touch(now)  # a source joined
        touched.append(target.id)
    elif shown:  # new to consumers
        target.status, target.published_at, target.updated_at = "published", now, now
    else:
        target.status = _furthest(target.status, _alone_status(shown, row))
    return StoryChange(target.id, merged, [article_id], touched,
                       previous_story_id=story.id)


@dataclass
class Killed:
    """What a kill did: the story withdrawn, and its articles (all now ``retracted``)."""

    story_id: str
    articles: list[str]


def withdraw(session: Session, story: models.Story, shown: dict[str, object],
             now: datetime) -> None:
    """Withdraw a published story from consumers: it is ``retracted`` (killed) with a new
    version, and keeps ``shown`` (``publisher.stories.last_shown`` of it before the change)
    so that the feeds that held it can tell their subscribers. The caller holds its lock."""
    story.status, story.killed_at, story.last_shown = models.KILLED, now, shown
    story.touch(now)


def kill(session: Session, story_id: str, editor: str, reason: str,
         now: datetime | None = None) -> Killed:
    """Kill a published story (wrong, or legally unsafe): it and every article of it are
    ``retracted`` for good, the reason on each article and in the audit trail. Refused
    (StoryChangeRefused) for a story consumers do not see, or killed already; ValueError: no
    reason, or no editor's name."""
    from wiredesk.publisher.stories import get_story, last_shown  # what consumers see

    reason = reason.strip()
    if not reason:
        raise ValueError("say why the story is killed")
    editor = check_editor_name(editor)
    now = now or utcnow()
    story = _lock(session, [story_id], killed=True)[story_id]
    if story.status == models.KILLED:
        raise StoryChangeRefused(f"story {story_id} was killed already")
    view = get_story(session, story_id)
    if view is None:
        raise StoryChangeRefused(f"story {story_id} is not published (it is {story.status}): "
                                 "there is nothing to kill")
    withdraw(session, story, last_shown(view), now)
    members = _members(session, [story_id], lock=False)
    why = f"killed by {editor}: {reason}"
    for row in members:
        row.routing_rule, row.routing_reason = f"editor:{editor}"[:200], why[:1000]
        article_store.set_status(row, models.KILLED)
        audit(session, editor, "kill", row.id, story_id, reason)
    return Killed(story_id, [row.id for row in members])
