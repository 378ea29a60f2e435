"""The feed registry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wiredesk.store.models import Feed, utcnow

TRUST_LEVELS = ("auto", "review")


def add_feed(session: Session, url: str, *, name: str = "", language: str | None = None,
             trust: str = "review", interval_seconds: int = 900) -> Feed:
    """Register a feed (or update the one with that URL), due now."""
    if trust not in TRUST_LEVELS:
        raise ValueError(f"trust must be one of {TRUST_LEVELS}")
    feed = session.scalar(select(Feed).where(Feed.url == url))
    if feed is None:
        feed = Feed(url=url, next_fetch_at=utcnow())
        session.add(feed)
    feed.name = name or feed.name or url
    feed.language = language
    feed.trust = trust
    feed.interval_seconds = interval_seconds
    session.flush()
    return feed


def list_feeds(session: Session) -> list[Feed]:
    return list(session.scalars(select(Feed).order_by(Feed.id)))
