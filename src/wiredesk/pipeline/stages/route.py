"""Route: decide publish, review or reject for a processed article, and say why."""

from __future__ import annotations

from dataclasses import dataclass

from wiredesk.schemas import Article


@dataclass(frozen=True)
class FeedInfo:
    id: int
    name: str
    trust: str  # auto | review
    language: str | None = None


@dataclass(frozen=True)
class RoutingDecision:
    action: str  # publish | review | reject
    rule: str
    reason: str


def route(article: Article, feed: FeedInfo) -> RoutingDecision:
    """Trusted feeds publish; everything else waits for an editor."""
    if feed.trust == "auto":
        return RoutingDecision("publish", "trusted-feed", f"feed {feed.name!r} is trusted (auto)")
    return RoutingDecision("review", "untrusted-feed", f"feed {feed.name!r} needs review")
