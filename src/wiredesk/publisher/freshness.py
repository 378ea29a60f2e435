"""Last-Modified for the publisher's responses: when the publisher first served the body.

A story's ``updated_at`` is stamped before its transaction commits, so stories can become
visible out of stamp order (and a story dropping out of a list lowers the newest stamp). A
Last-Modified computed from the stamps may then stay put while the body changes, and a client
revalidating with If-Modified-Since would be told 304 and miss a story. Instead each URL's
Last-Modified moves whenever its body's ETag does, strictly forward, on one clock (Redis's,
shared by every publisher process and replica).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import redis

from wiredesk import keys, metrics

log = logging.getLogger(__name__)

# KEYS[1]: the URL's record. ARGV: the body's ETag, the record's TTL in seconds.
# A new body gets "now", or a second after the previous body's date if that is not earlier:
# an HTTP date has whole seconds, and two bodies must not share one. Returns {date, now}.
_FIRST_SERVED = """
local now = tonumber(redis.call('TIME')[1])
local record = redis.call('HMGET', KEYS[1], 'etag', 'at')
local at = tonumber(record[2])
if record[1] ~= ARGV[1] then
  at = math.max(now, (at or 0) + 1)
  redis.call('HSET', KEYS[1], 'etag', ARGV[1], 'at', at)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {at, now}
"""


_script: Any = None


def _first_served(client: redis.Redis) -> Any:
    # Registered once per process: every response runs it, by its SHA after the first time.
    global _script
    if _script is None:
        _script = client.register_script(_FIRST_SERVED)
    return _script


def last_modified(client: redis.Redis, url: str, etag: str) -> datetime | None:
    """The Last-Modified to send with the body whose ETag is ``etag`` at ``url`` (path and
    query): when it was first served. None when there is none to send: the date would lie in
    the future (a second body within one second), or Redis did not answer; the ETag still
    validates, and a client that only revalidates by date gets the body again."""
    key = keys.publisher_last_modified(sha256(url.encode()).hexdigest())
    try:
        at, now = _first_served(client)(
            keys=[key], args=[etag, keys.PUBLISHER_LAST_MODIFIED_TTL_SECONDS], client=client)
    except redis.RedisError as exc:
        metrics.PUBLISHER_LAST_MODIFIED_UNKNOWN.inc()
        log.warning("no Last-Modified for %s: Redis: %s", url, exc)
        return None
    if at > now:
        return None
    return datetime.fromtimestamp(int(at), UTC)
