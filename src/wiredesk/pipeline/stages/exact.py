"""Tier 1 dedupe: the same canonical link or the same normalized content is the same story."""

from __future__ import annotations

from collections.abc import Sequence

from wiredesk.identity import story_id_for
from wiredesk.schemas import Article
from wiredesk.text.normalize import tokens

# Under this many words of title and body, the same text is no proof of the same story: a
# feed's title-only items ("Photos of the day", "Podcast") repeat their title every day.
MIN_HASH_WORDS = 8


def _enough_text(article: Article) -> bool:
    return len(tokens(f"{article.title} {article.body_text}")) >= MIN_HASH_WORDS


def resolve_exact(article: Article, candidates: Sequence[Article]) -> Article:
    """Join the story of the earliest exact duplicate, or found a story of its own."""
    if article.story_id and article.duplicate_tier != "exact":
        # A revision keeps its story as it entered it: founder, or near / same-story member
        # with its score (those tiers are not re-run on a revision).
        return article
    same_text = article.content_hash if _enough_text(article) else None
    matches = [c for c in candidates if c.story_id and c.id != article.id and (
        c.content_hash == same_text or (article.url and c.url == article.url))]
    if not matches:
        return article.replace(story_id=article.story_id or story_id_for(article.id),
                               duplicate_tier=None, duplicate_score=None)
    # Deterministic: the earliest published, then the smallest id.
    first = min(matches, key=lambda c: (c.published_at is None, c.published_at, c.id))
    return article.replace(story_id=first.story_id, duplicate_tier="exact", duplicate_score=1.0)
