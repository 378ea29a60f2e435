"""Per-host politeness shared by every ingester worker: a cap on fetches in flight to one host
and on fetches started per second, both held in Redis so a thousand feeds on one host and a
dozen workers still add up to a few polite requests."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
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


# A feed fetch's two guards taken in one round trip: the per-feed lock (SET NX PX, as
# redis-py's Lock does), then the host slot as in _ACQUIRE. A host refusal gives the lock back.
# KEYS: lock, inflight, rate. ARGV: token, lock ttl ms, now ms, inflight ttl ms, max inflight,
# max starts, rate ttl s. Returns 0 (granted), 1 (host busy), 2 (host rate) or 3 (locked).
_ACQUIRE_FEED = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 3 end
local now_ms = tonumber(ARGV[3])
local max_inflight = tonumber(ARGV[5])
local max_starts = tonumber(ARGV[6])
if max_inflight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
  if redis.call('ZCARD', KEYS[2]) >= max_inflight then
    redis.call('DEL', KEYS[1])
    return 1
  end
end
if max_starts > 0 then
  local started = tonumber(redis.call('GET', KEYS[3]) or '0')
  if started >= max_starts then
    redis.call('DEL', KEYS[1])
    return 2
  end
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
if max_inflight > 0 then
  redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 0
"""

# Both given back in one round trip; the lock only if it is still ours (it may have expired
# and been taken by another fetch).
_RELEASE_FEED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""

FEED_DENIED = {**DENIED, 3: "locked"}
_scripts: dict[str, Any] = {}


def _script(client: redis.Redis, source: str) -> Any:
    # Registered once per process (EVALSHA after the first call); any client may run it.
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    return script


@contextmanager
def feed_slot(client: redis.Redis, lock_key: str, lock_ttl: int, url: str, max_inflight: int,
              per_second: float, clock: Callable[[], float] = time.time) -> Iterator[str | None]:
    """Hold a feed's fetch lock and a slot on its host, taken and given back in one round trip
    each; yields None when granted, else why not (``locked``, ``host_busy``, ``host_rate``)."""
    host = host_of(url)
    token = uuid.uuid4().hex
    now = clock()
    window, starts = _window(per_second)
    inflight_key = keys.host_inflight(host)
    result = int(_script(client, _ACQUIRE_FEED)(
        keys=[lock_key, inflight_key, keys.host_rate(host, int(now // window))],
        args=[token, lock_ttl * 1000, int(now * 1000), keys.HOST_INFLIGHT_TTL_SECONDS * 1000,
              max(0, max_inflight), starts, max(keys.HOST_RATE_TTL_SECONDS, window + 1)],
        client=client))
    if result:
        yield FEED_DENIED[result]
        return
    try:
        yield None
    finally:
        try:
            _script(client, _RELEASE_FEED)(keys=[lock_key, inflight_key], args=[token],
                                           client=client)
        except redis.RedisError:  # both keys carry TTLs; they clean up after themselves
            pass
