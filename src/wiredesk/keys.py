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


ARTICLE_PROCESS_LOCK_TTL_SECONDS = 180


def story_lock(story_key: str) -> str:
    """Serializes joins to one story (exact-duplicate resolution)."""
    return f"{PREFIX}lock:story:{story_key}"


STORY_LOCK_TTL_SECONDS = 30


def host_inflight(host: str) -> str:
    """Sorted set of fetch tokens in flight to one host, scored by when each token expires."""
    return f"{PREFIX}host:inflight:{host.lower()}"


# A token outlives a crashed worker by no more than this; the key itself expires with it.
HOST_INFLIGHT_TTL_SECONDS = 120


def host_rate(host: str, second: int) -> str:
    """Fetches started to one host within one wall-clock second (a fixed-window counter)."""
    return f"{PREFIX}host:rate:{host.lower()}:{second}"


HOST_RATE_TTL_SECONDS = 2


def websub_push(push_id: str) -> str:
    """A WebSub push body waiting for the ingest worker that will parse and store it."""
    return f"{PREFIX}websub:push:{push_id}"


# Long enough for a backed-up ingest queue; a lost push is caught up by polling anyway.
WEBSUB_PUSH_TTL_SECONDS = 6 * 3600
