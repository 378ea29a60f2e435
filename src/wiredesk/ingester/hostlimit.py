"""Per-host politeness shared by every ingester worker: a cap on fetches in flight to one host
and on fetches started per second, both held in Redis so a thousand feeds on one host and a
dozen workers still add up to a few polite requests."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis

from wiredesk import keys

# Atomic, one round trip: with a third key, first take the feed's fetch lock (SET NX PX, as
# redis-py's Lock does); then drop expired host tokens, check both host limits, take a token and
# count the start. A host refusal gives the lock back.
# KEYS: inflight, rate[, lock]. ARGV: token, now ms, inflight ttl ms, max inflight, max starts,
# rate ttl s[, lock ttl ms]. Returns 0 (granted), 1 (host busy), 2 (host rate) or 3 (locked).
_ACQUIRE = """
local locking = #KEYS == 3
if locking and not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[7]) then return 3 end
local now_ms = tonumber(ARGV[2])
local max_inflight = tonumber(ARGV[4])
local max_starts = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local denied = 0
if max_inflight > 0 and redis.call('ZCARD', KEYS[1]) >= max_inflight then
  denied = 1
elseif max_starts > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= max_starts then
  denied = 2
end
if denied > 0 then
  if locking then redis.call('DEL', KEYS[3]) end
  return denied
end
if max_starts > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
if max_inflight > 0 then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
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
    token = uuid.uuid4().hex
    inflight_key, result = _acquire(client, token, url, max_inflight, per_second, clock)
    if result:
        yield DENIED[result]
        return
    try:
        yield None
    finally:
        if max_inflight > 0:
            client.zrem(inflight_key, token)


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


def _acquire(client: redis.Redis, token: str, url: str, max_inflight: int, per_second: float,
             clock: Callable[[], float], lock: tuple[str, int] | None = None) -> tuple[str, int]:
    """Run _ACQUIRE for ``url``'s host (and the feed lock, if given); (inflight key, result)."""
    script_keys, args = _acquire_args(token, url, max_inflight, per_second, clock, lock)
    return script_keys[0], int(_script(client, _ACQUIRE)(keys=script_keys, args=args,
                                                         client=client))


def _acquire_args(token: str, url: str, max_inflight: int, per_second: float,
                  clock: Callable[[], float],
                  lock: tuple[str, int] | None) -> tuple[list[str], list[Any]]:
    """_ACQUIRE's keys and arguments: inflight key first."""
    host = host_of(url)
    now = clock()
    window, starts = _window(per_second)
    inflight_key = keys.host_inflight(host)
    script_keys = [inflight_key, keys.host_rate(host, int(now // window))]
    args: list[Any] = [token, int(now * 1000), keys.HOST_INFLIGHT_TTL_SECONDS * 1000,
                       max(0, max_inflight), starts, max(keys.HOST_RATE_TTL_SECONDS, window + 1)]
    if lock is not None:
        script_keys.append(lock[0])
        args.append(lock[1] * 1000)
    return script_keys, args


@contextmanager
def feed_slot(client: redis.Redis, lock_key: str, lock_ttl: int, url: str, max_inflight: int,
              per_second: float, clock: Callable[[], float] = time.time) -> Iterator[str | None]:
    """Hold a feed's fetch lock and a slot on its host, taken and given back in one round trip
    each; yields None when granted, else why not (``locked``, ``host_busy``, ``host_rate``)."""
    token = uuid.uuid4().hex
    script_keys, args = _acquire_args(token, url, max_inflight, per_second, clock,
                                      (lock_key, lock_ttl))
    acquire, release = _script(client, _ACQUIRE), _script(client, _RELEASE_FEED)
    release_keys = [lock_key, script_keys[0]]
    channel = _Channel.of(client)
    if channel is None:
        result = int(acquire(keys=script_keys, args=args, client=client))
    else:
        result = int(channel.call(acquire, script_keys, args))
    if result:
        yield FEED_DENIED[result]
        return
    try:
        yield None
    finally:
        if channel is not None:
            channel.send(release, release_keys, [token])
        else:
            try:
                release(keys=release_keys, args=[token], client=client)
            except redis.RedisError:  # both keys carry TTLs; they clean up after themselves
                pass


def settle(client: redis.Redis) -> None:
    """Wait for the replies to this thread's feed-slot releases (sent, not waited for): once it
    returns, every connection sees them. Fetching never needs it; a check from another
    connection (a test, an operator's tool) right after a release does."""
    channel = _Channel.of(client)
    if channel is not None and channel.conn is not None:
        channel._drain()


class _Channel(threading.local):
    """This thread's own connection for feed slots (one per worker thread, beside the pool).

    A release is sent at once (Redis runs it on arrival, as before) but its reply, which says
    nothing (the lock and token carry TTLs anyway), is read before this thread's next command
    instead of waited for: one blocking round trip per fetch less, ~40% of the CPU the slot
    cost. The thread's own next acquire goes on the same connection, so Redis sees the release
    first. Only for a plain single-server pool; any other client goes through the pool."""

    conn: redis.Connection | None = None
    pid = 0
    pending = 0  # replies sent for and not read yet

    @classmethod
    def of(cls, client: redis.Redis) -> _Channel | None:
        pool = client.connection_pool
        if type(pool) is not redis.ConnectionPool or pool.connection_class is not \
                redis.Connection:
            return None
        channel = _channels.get(pool)
        if channel is None:
            with _channels_lock:
                channel = _channels.setdefault(pool, cls())
        if channel.conn is None or channel.pid != os.getpid():
            channel.conn = pool.connection_class(**pool.connection_kwargs)
            channel.pid, channel.pending = os.getpid(), 0
        return channel

    def call(self, script: Any, script_keys: list[str], args: list[Any]) -> Any:
        """Run a registered script (``_script``) and return its reply."""
        conn = self.conn
        assert conn is not None
        try:
            self._drain()
            # As the pool checks a connection it hands out: one the server closed (a restart,
            # an idle timeout) or with stray data is replaced before the command, not failed.
            if conn.is_connected and conn.can_read():
                raise redis.ConnectionError("connection has data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            self._reset()

        def attempt() -> Any:
            try:
                conn.send_command("EVALSHA", script.sha, len(script_keys), *script_keys, *args)
                return conn.read_response()
            except redis.exceptions.NoScriptError:  # Redis restarted: its script cache is empty
                conn.send_command("EVAL", script.script, len(script_keys), *script_keys, *args)
                return conn.read_response()

        # Retried (or not) as the client's commands are, under the connection's retry policy.
        return conn.retry.call_with_retry(attempt, lambda _error: self._reset())

    def send(self, script: Any, script_keys: list[str], args: list[Any]) -> None:
        """Send a script whose reply nobody needs; it is read (and dropped) on the next call."""
        conn = self.conn
        assert conn is not None
        try:
            self._drain()
            # EVAL, not EVALSHA: a NOSCRIPT reply read later could no longer be acted on.
            conn.send_command("EVAL", script.script, len(script_keys), *script_keys, *args)
            self.pending += 1
        except redis.RedisError:  # both keys carry TTLs; they clean up after themselves
            self._reset()

    def _drain(self) -> None:
        conn = self.conn
        assert conn is not None
        while self.pending:
            self.pending -= 1
            try:
                conn.read_response()
            except redis.exceptions.ResponseError:
                pass  # a release's error reply: as before, ignored

    def _reset(self) -> None:
        self.pending = 0
        if self.conn is not None:
            self.conn.disconnect()


# One channel object per pool (its connections are per thread); gone with the pool.
_channels: weakref.WeakKeyDictionary[Any, _Channel] = weakref.WeakKeyDictionary()
_channels_lock = threading.Lock()
