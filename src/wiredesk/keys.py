"""Every Redis key Wiredesk uses, built here with its TTL beside it.

Nothing else formats a key string. All keys start with ``wiredesk:``; Celery's own broker keys
are Celery's business (queues named in ``wiredesk.broker``).
"""

from __future__ import annotations

import hashlib

PREFIX = "wiredesk:"

# The events stream editors' desk and subscribers read; trimmed by length, not TTL.
EVENTS_STREAM = PREFIX + "events"
EVENTS_STREAM_MAXLEN = 100_000


def _digest(value: str) -> str:
    """Stands for a value of any length and content (a URL, a name typed at a form) in a key."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


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


def article_process_runs(article_id: str) -> str:
    """Runs of the process task on an article that took its lock and have not returned: one
    left behind is a worker that died holding it (killed, out of memory, hard time limit)."""
    return f"{PREFIX}process:runs:{article_id}"


# Deaths are minutes apart (lock expiry, then the reconciler): a day counts them all.
ARTICLE_PROCESS_RUNS_TTL_SECONDS = 24 * 3600


def story_lock(story_key: str) -> str:
    """Serializes joins to one story (exact-duplicate resolution)."""
    return f"{PREFIX}lock:story:{story_key}"


def story_url_lock(url: str) -> str:
    """Serializes the articles linking one page (exact duplicates by canonical link)."""
    return story_lock("url:" + _digest(url))


STORY_LOCK_TTL_SECONDS = 30


# --- Near-duplicate (LSH) index: wiredesk.pipeline.dedupe_index --------------------------------
# The index is time-sliced: each slot of DEDUPE_SLOT_SECONDS owns its own keys, which expire
# together once the slot has left the window, so the window slides without per-entry TTLs.
# The Lua script builds the same names from dedupe_index_prefix(); the functions below are the
# reference for the layout and tests check the two agree. Version bumps when fingerprints change.
DEDUPE_SLOT_SECONDS = 24 * 3600  # a query reads window/slot + 1 slots: few slots, few reads


def dedupe_index_prefix(version: int) -> str:
    """Common prefix of every key of the near-duplicate index for a fingerprint version."""
    return f"{PREFIX}dedupe:v{version}:"


def dedupe_slot_key(version: int, slot: int) -> str:
    """Hash of one time slot's layout: shard bits of buckets and metas, and its article count."""
    return f"{dedupe_index_prefix(version)}s:{slot}"


def dedupe_bucket_key(version: int, slot: int, shard: int) -> str:
    """Hash of LSH buckets of one slot shard: field = band key, value = packed article handles."""
    return f"{dedupe_index_prefix(version)}b:{slot}:{shard}"


def dedupe_meta_key(version: int, slot: int, shard: int) -> str:
    """Hash of article metas of one slot shard: field = handle, value = signature+story+time."""
    return f"{dedupe_index_prefix(version)}m:{slot}:{shard}"


def dedupe_expire_at(slot: int, window_seconds: int) -> int:
    """POSIX time at which a slot's keys expire: when the slot's end has left the window."""
    return (slot + 1) * DEDUPE_SLOT_SECONDS + window_seconds


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


def websub_leaving(feed_id: int, topic: str) -> str:
    """The hub an unsubscription Wiredesk asked for (feed ``feed_id``'s old ``topic``) was
    sent to, while it awaits the hub's verification: only such an unsubscription is
    confirmed."""
    return f"{PREFIX}websub:leaving:{feed_id}:{_digest(topic)}"


# Hubs verify within seconds; past this, the old hub's pushes are refused (410) all the same.
WEBSUB_LEAVING_TTL_SECONDS = 3600


def publisher_last_modified(url_digest: str) -> str:
    """One publisher URL's body (by ETag) and the date it was first served
    (``wiredesk.publisher.freshness``)."""
    return f"{PREFIX}publisher:last-modified:{url_digest}"


# A URL nobody asked for in a week starts again from "now": its next client reloads it once.
PUBLISHER_LAST_MODIFIED_TTL_SECONDS = 7 * 24 * 3600


def hub_requests(address: str) -> str:
    """(Un)subscription requests to the publisher's WebSub hub from one client address (an
    IPv6 /64) in the current window (a fixed-window counter, HUB_REQUESTS_WINDOW_SECONDS)."""
    return f"{PREFIX}hub:requests:{_digest(address)}"


HUB_REQUESTS_WINDOW_SECONDS = 60


# --- Editors' desk: failed logins, per editor name and per client address -----------------------
def desk_login_failures(kind: str, value: str) -> str:
    """Failed desk logins of one name (``kind`` "name") or from one client address ("addr")
    since the first of them, for DESK_LOGIN_FAILURES_TTL_SECONDS. Hashed: a name typed at the
    login form is anything at all, and no password typed in the name field sits in Redis."""
    return f"{PREFIX}desk:login:failures:{kind}:{_digest(value)}"


DESK_LOGIN_FAILURES_TTL_SECONDS = 15 * 60  # the window the failures are counted in


def desk_login_blocked(kind: str, value: str) -> str:
    """Set when a name or address reached the failures allowed: logins answer 429 until it
    expires (DESK_LOGIN_BLOCKED_TTL_SECONDS)."""
    return f"{PREFIX}desk:login:blocked:{kind}:{_digest(value)}"


DESK_LOGIN_BLOCKED_TTL_SECONDS = 5 * 60

# What editors and operators do, counted whichever process did it (hash field: the label
# values joined by ":" -> count): a CLI's is gone before any scrape, so the desk reports these
# at scrape time (wiredesk.metrics.NewsroomCounter). No TTL: counters. Losing one reads as a
# counter reset, which rate() and increase() expect.
DESK_DECISIONS = PREFIX + "desk:decisions"  # "channel:decision"
STORIES_KILLED = PREFIX + "stories:killed"  # "cause"


# --- Tier-3 decisions in flight: wiredesk.pipeline.story_decisions ----------------------------
# Articles between "tier 3 looks for candidates" and "committed": a handful at a time (one per
# busy worker). Each entry expires on its own (pruned by the next registration); the keys
# themselves expire once nothing has registered for as long as an entry may live.
STORY_DECISIONS_SEQUENCE = PREFIX + "stories:inflight:seq"
STORY_DECISIONS_ORDER = PREFIX + "stories:inflight:order"  # zset: article id -> sequence
STORY_DECISIONS_EXPIRY = PREFIX + "stories:inflight:expiry"  # zset: article id -> expires at
STORY_DECISIONS_ARTICLES = PREFIX + "stories:inflight:articles"  # hash: article id -> payload
STORY_DECISIONS_STORIES = PREFIX + "stories:inflight:stories"  # hash: article id -> story id


def story_decision_wait_seconds(story_lock_ttl: float) -> float:
    """How long an article waits for an earlier article's decision. It waits holding its story
    lock, which must outlast the wait and the rest of its processing up to the commit."""
    return story_lock_ttl / 3
