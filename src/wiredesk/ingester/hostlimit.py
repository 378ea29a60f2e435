"""Per-host politeness shared by every ingester worker: a cap on fetches in flight to one host
and on fetches started per second, both held in Redis so a thousand feeds on one host and a
dozen workers still add up to a few polite requests."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import redis

from wiredesk import keys

# Atomic: drop expired tokens, check both limits, then take a token and count the start.
# Returns 0 (granted), 1 (too many in flight) or 2 (rate exceeded).
_ACQUIRE = """
local now_ms = tonumber(ARGV[1])
local max_inflight = tonumber(ARGV[4])
local max_starts = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if max_inflight > 0 and redis.call('ZCARD', KEYS[1]) >= max_inflight then return 1 end
if max_starts > 0 then
  local started = tonumber(redis.call('GET', KEYS[2]) or '0')
  if started >= max_starts then return 2 end
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
if max_inflight > 0 then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0
"""

DENIED = {1: "host_busy", 2: "host_rate"}


def host_of(url: str) -> str:
    """The politeness unit: host and port, lower-cased."""
    parts = urlsplit(url)
    return (parts.netloc.rsplit("@", 1)[-1] or url).lower()


def _window(per_second: float) -> tuple[int, int]:
    """(window seconds, starts allowed per window) for a rate that may be below 1/s."""
    if per_second <= 0:
        return 1, 0
    window = max(1, math.ceil(1.0 / per_second))
    return window, max(1, int(per_second * window))


@contextmanager
def host_slot(client: redis.Redis, url: str, max_inflight: int, per_second: float,
              clock: Callable[[], float] = time.time) -> Iterator[str | None]:
    """Hold a fetch slot on ``url``'s host; yields None when granted, else why it was denied."""
    if max_inflight <= 0 and per_second <= 0:
        yield None
        return
    host = host_of(url)
    token = uuid.uuid4().hex
    now = clock()
    window, starts = _window(per_second)
    inflight_key = keys.host_inflight(host)
    result = int(client.eval(
        _ACQUIRE, 2, inflight_key, keys.host_rate(host, int(now // window)),
        int(now * 1000), token, keys.HOST_INFLIGHT_TTL_SECONDS * 1000, max_inflight, starts,
        max(keys.HOST_RATE_TTL_SECONDS, window + 1),
    ))
    if result:
        yield DENIED[result]
        return
    try:
        yield None
    finally:
        if max_inflight > 0:
            client.zrem(inflight_key, token)
