"""When to fetch a feed next: a pure function of its interval, what the server asked and its errors.

Next fetch = max(interval, the feed's ``<ttl>``, ``Cache-Control: max-age``, ``Expires``,
``Retry-After`` on 429/503), capped, plus jitter. A failing feed backs off exponentially up to a
ceiling and is retried at that pace for ever: polling never stops on its own.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_AFTER_STATUSES = frozenset({429, 503})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    """The next fetch time, the delay it stands for, and which rule chose it."""

    at: datetime
    delay: float
    reason: str  # interval | ttl | max-age | expires | retry-after | backoff | cap


def http_date(raw: str | None) -> datetime | None:
    """An HTTP-date header value (Date, Expires, Retry-After) as an aware datetime."""
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_retry_after(raw: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value (delta-seconds or HTTP-date) asks us to wait."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():  # "²" is a digit to str.isdigit, not to float()
        return float(raw)
    when = http_date(raw)
    return max(0.0, (when - now).total_seconds()) if when else None


def header_hints(headers: Mapping[str, str] | None, now: datetime,
                 status: int | None = None) -> dict[str, float]:
    """Delays (seconds) the response asks for: ``max-age``, ``expires`` and ``retry-after``."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    hints: dict[str, float] = {}
    cache_control = lowered.get("cache-control", "")
    if not re.search(r"no-(cache|store)", cache_control, re.IGNORECASE):
        match = _MAX_AGE.search(cache_control)
        if match:
            hints["max-age"] = float(match.group(1))
        elif "expires" in lowered:  # max-age overrides Expires (RFC 9111 5.3)
            expires = http_date(lowered["expires"])
            # Relative to the server's clock when it sent one: clocks disagree, deltas do not.
            origin = http_date(lowered.get("date")) or now
            if expires is not None:
                hints["expires"] = max(0.0, (expires - origin).total_seconds())
    if status in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(lowered.get("retry-after"), now)
        if retry_after is not None:
            hints["retry-after"] = retry_after
    return hints


def backoff_delay(interval: float, error_count: int, ceiling: float) -> float:
    """Exponential backoff: interval, 2x, 4x, ... up to ``ceiling`` (never below the interval)."""
    if error_count <= 0:
        return interval
    grown = interval * float(2 ** min(error_count - 1, 32))
    return max(interval, min(grown, ceiling))


def next_fetch(now: datetime, *, interval: float, error_count: int = 0,
               ttl_seconds: float | None = None, headers: Mapping[str, str] | None = None,
               status: int | None = None, retry_after: float | None = None,
               max_delay: float = 86400.0, backoff_max: float = 6 * 3600.0,
               jitter: float = 0.1, rng: Callable[[], float] = random.random) -> Decision:
    """When to fetch next; ``error_count`` counts consecutive failures including this one."""
    candidates: dict[str, float] = {}
    if error_count > 0:
        candidates["backoff"] = backoff_delay(interval, error_count, backoff_max)
    else:
        candidates["interval"] = float(interval)
        if ttl_seconds:
            candidates["ttl"] = float(ttl_seconds)
    hints = header_hints(headers, now, status)
    if error_count > 0:  # a failed response's caching headers say nothing about the feed
        hints = {k: v for k, v in hints.items() if k == "retry-after"}
    candidates.update(hints)
    if retry_after is not None:
        candidates["retry-after"] = max(candidates.get("retry-after", 0.0), float(retry_after))
    reason, delay = max(candidates.items(), key=lambda item: item[1])
    # The cap bounds what servers ask for; the operator's own interval always stands.
    cap = max(float(max_delay), float(interval))
    if delay > cap:
        reason, delay = "cap", cap
    # Jitter only ever adds: never earlier than the server asked, and feeds drift apart.
    delay *= 1.0 + max(0.0, jitter) * rng()
    return Decision(now + timedelta(seconds=delay), delay, reason)


def feed_ttl_seconds(raw: object) -> float | None:
    """An RSS ``<ttl>`` (minutes) in seconds, or None when absent or unreadable."""
    try:
        minutes = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60.0 if minutes > 0 else None
