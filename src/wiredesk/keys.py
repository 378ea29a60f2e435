"""Every Redis key Wiredesk uses, built here with its TTL beside it.

Nothing else formats a key string. All keys start with ``wiredesk:``; Celery's own broker keys
are Celery's business (queues named in ``wiredesk.broker``).
"""

from __future__ import annotations

PREFIX = "wiredesk:"

# The events stream editors' desk and subscribers read; trimmed by length, not TTL.
EVENTS_STREAM = PREFIX + "events"
EVENTS_STREAM_MAXLEN = 100_000


def feed_fetch_lock(feed_id: int) -> str:
    """Held while one worker fetches a feed, so no feed is fetched twice at once."""
    return f"{PREFIX}lock:fetch:{feed_id}"


FEED_FETCH_LOCK_TTL_SECONDS = 300


def article_process_lock(article_id: str) -> str:
    """Held while one worker processes an article."""
    return f"{PREFIX}lock:process:{article_id}"


def article_process_lock_ttl(task_time_limit: int) -> int:
    """Outlives any run of the task (the hard time limit kills longer ones), and no more: a
    dead worker's lock must not keep the article from the reconciler for long."""
    return task_time_limit + 10


def story_lock(story_key: str) -> str:
    """Serializes joins to one story (exact-duplicate resolution)."""
    return f"{PREFIX}lock:story:{story_key}"


STORY_LOCK_TTL_SECONDS = 30
