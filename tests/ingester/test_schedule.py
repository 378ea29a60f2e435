"""The next-fetch rule, as a pure function: intervals, server hints, caps, backoff, jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wiredesk.ingester.schedule import (
    backoff_delay,
    feed_ttl_seconds,
    header_hints,
    next_fetch,
    parse_retry_after,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def no_jitter() -> float:
    return 0.0


def decide(**kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("rng", no_jitter)
    return next_fetch(NOW, **kwargs)  # type: ignore[arg-type]


def test_the_interval_when_the_server_says_nothing() -> None:
    decision = decide(interval=900)
    assert (decision.delay, decision.reason) == (900, "interval")
    assert decision.at == NOW + timedelta(seconds=900)


@pytest.mark.parametrize(("kwargs", "delay", "reason"), [
    ({"ttl_seconds": 3600}, 3600, "ttl"),
    ({"ttl_seconds": 60}, 900, "interval"),  # hints only ever lengthen the interval
    ({"headers": {"Cache-Control": "public, max-age=7200"}}, 7200, "max-age"),
    ({"headers": {"Cache-Control": "max-age=7200, no-cache"}}, 900, "interval"),
    ({"headers": {"Expires": "Sun, 01 Mar 2026 14:00:00 GMT",
                  "Date": "Sun, 01 Mar 2026 12:00:00 GMT"}}, 7200, "expires"),
    # max-age wins over Expires (RFC 9111), even when Expires is later.
    ({"headers": {"Cache-Control": "max-age=1000", "Expires": "Sun, 01 Mar 2026 20:00:00 GMT"}},
     1000, "max-age"),
    ({"ttl_seconds": 5 * 86400}, 86400, "cap"),
    ({"headers": {"Retry-After": "5000"}, "status": 200}, 900, "interval"),
])
def test_server_hints_lengthen_the_wait_up_to_the_cap(kwargs: dict, delay: float,
                                                      reason: str) -> None:
    decision = decide(interval=900, **kwargs)
    assert (decision.delay, decision.reason) == (delay, reason)


def test_expires_is_read_against_the_servers_own_clock() -> None:
    # The server's clock is an hour behind ours; the delta it meant is still 30 minutes.
    hints = header_hints({"Expires": "Sun, 01 Mar 2026 11:30:00 GMT",
                          "Date": "Sun, 01 Mar 2026 11:00:00 GMT"}, NOW)
    assert hints == {"expires": 1800}


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_429_and_503(status: int) -> None:
    decision = decide(interval=900, error_count=1, status=status,
                      headers={"Retry-After": "3600"})
    assert (decision.delay, decision.reason) == (3600, "retry-after")
    as_date = decide(interval=900, error_count=1, status=status,
                     headers={"Retry-After": "Sun, 01 Mar 2026 14:00:00 GMT"})
    assert (as_date.delay, as_date.reason) == (7200, "retry-after")


def test_retry_after_is_capped_and_a_short_one_does_not_shorten_backoff() -> None:
    assert decide(interval=900, error_count=1, retry_after=30 * 86400).reason == "cap"
    assert decide(interval=900, error_count=4, retry_after=10).delay == 900 * 8


def test_backoff_doubles_up_to_the_ceiling_and_never_stops() -> None:
    delays = [decide(interval=600, error_count=n, backoff_max=3600).delay for n in range(1, 9)]
    assert delays == [600, 1200, 2400, 3600, 3600, 3600, 3600, 3600]
    assert backoff_delay(600, 10_000, 3600) == 3600  # no overflow, still retried
    # A feed polled less often than the ceiling keeps its own interval when failing.
    assert backoff_delay(86400, 3, 3600) == 86400


def test_after_recovery_the_plain_interval_returns() -> None:
    assert decide(interval=600, error_count=0).delay == 600


def test_caching_headers_of_a_failed_response_are_ignored() -> None:
    decision = decide(interval=600, error_count=1, headers={"Cache-Control": "max-age=99999"})
    assert (decision.delay, decision.reason) == (600, "backoff")


def test_jitter_only_adds_and_is_bounded() -> None:
    low = next_fetch(NOW, interval=1000, jitter=0.1, rng=lambda: 0.0)
    high = next_fetch(NOW, interval=1000, jitter=0.1, rng=lambda: 0.999)
    assert low.delay == 1000 and 1000 < high.delay < 1100
    assert next_fetch(NOW, interval=1000, error_count=1, retry_after=5000, jitter=0.1,
                      rng=lambda: 0.5).delay >= 5000


def test_parsing_helpers() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == 0  # in the past
    assert parse_retry_after("soon", NOW) is None
    # Digits str.isdigit takes and float() does not: not a number of seconds (was ValueError).
    assert parse_retry_after("\u00b2", NOW) is None and parse_retry_after("1\u00b2", NOW) is None
    assert feed_ttl_seconds("60") == 3600
    assert feed_ttl_seconds(None) is None and feed_ttl_seconds("0") is None
    assert feed_ttl_seconds("abc") is None


def test_retry_after_forms() -> None:
    now = datetime(2015, 10, 21, 7, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 28 * 60
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
