"""Last-Modified is the date a body was first served: strictly later for every new body."""

from __future__ import annotations

from hashlib import sha256
from typing import Any

import redis
from prometheus_client import REGISTRY

from wiredesk import keys
from wiredesk.publisher import freshness

URL = "/feeds/all.atom?"


def _record(client: redis.Redis, url: str = URL) -> tuple[bytes, int]:
    etag, at = client.hmget(keys.publisher_last_modified(sha256(url.encode()).hexdigest()),
                            "etag", "at")
    return etag, int(at)


def test_the_same_body_keeps_its_date_and_a_new_body_moves_it_forward(
        redis_client: Any) -> None:
    first = freshness.last_modified(redis_client, URL, "one")
    assert first is not None and first.microsecond == 0
    assert freshness.last_modified(redis_client, URL, "one") == first
    dates = [_record(redis_client)[1]]
    for etag in ("two", "three", "four"):  # faster than the clock's seconds: still forward
        freshness.last_modified(redis_client, URL, etag)
        assert _record(redis_client)[0] == etag.encode()
        dates.append(_record(redis_client)[1])
    assert dates == sorted(set(dates))
    assert freshness.last_modified(redis_client, "/feeds/all.rss?", "one") is not None


def test_a_date_that_would_lie_in_the_future_is_not_sent(redis_client: Any) -> None:
    # A previous body dated this second or later (several bodies within one second): the new
    # body's date is a second after it, still to come, and a Last-Modified must not be.
    now = int(redis_client.time()[0])
    key = keys.publisher_last_modified(sha256(URL.encode()).hexdigest())
    redis_client.hset(key, mapping={"etag": "old", "at": now + 5})
    assert freshness.last_modified(redis_client, URL, "new") is None
    assert _record(redis_client) == (b"new", now + 6)


def test_without_redis_there_is_no_date_and_it_is_counted() -> None:
    name = "wiredesk_publisher_last_modified_unknown_total"
    before = REGISTRY.get_sample_value(name) or 0.0
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    assert freshness.last_modified(unreachable, URL, "one") is None
    assert REGISTRY.get_sample_value(name) == before + 1
