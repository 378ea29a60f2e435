"""Transport: get a feed's bytes politely and safely. Parsing is ``parse.py``'s business.

Conditional GET, connect/read timeouts, a body size cap, redirects followed by hand so the SSRF
guard sees every hop, and errors sorted into a small set of outcomes for metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from wiredesk.config import Config
from wiredesk.ingester.guard import BlockedURL, Resolver, check_url, system_resolver

REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}


class FetchError(Exception):
    """A fetch that produced no feed; ``outcome`` is one of metrics.FETCH_OUTCOMES."""

    def __init__(self, outcome: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.outcome = outcome
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def make_client(config: Config) -> httpx.Client:
    """A pooled client with keep-alive; redirects are followed by ``fetch`` itself."""
    timeout = httpx.Timeout(config.fetch_read_timeout, connect=config.fetch_connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": config.user_agent,
                 "Accept": "application/atom+xml, application/rss+xml, application/feed+json, "
                           "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"},
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"declared body of {declared} bytes exceeds {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("too_large", f"body exceeds {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError("timeout", "body took longer than the read deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(client: httpx.Client, url: str, config: Config, *, etag: str | None = None,
          last_modified: str | None = None, resolve: Resolver = system_resolver) -> FetchResult:
    """Fetch ``url`` with conditional headers; raise FetchError for anything but a feed body."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + config.fetch_read_timeout
    permanent: str | None = None
    all_permanent = True
    current = url
    for _hop in range(config.fetch_max_redirects + 1):
        try:
            check_url(current, config.fetch_allow_networks, resolve)
        except BlockedURL as exc:
            raise FetchError("blocked", str(exc)) from exc
        try:
            with client.stream("GET", current, headers=headers) as response:
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    all_permanent &= response.status_code in PERMANENT_REDIRECTS
                    current = urljoin(current, response.headers["location"])
                    if all_permanent:
                        permanent = current
                    continue
                if response.status_code == 304:
                    return FetchResult(current, 304, headers=dict(response.headers),
                                       permanent_redirect=permanent)
                if response.status_code >= 400:
                    retry_after = _retry_after(response.headers.get("retry-after"))
                    raise FetchError("http_error", f"HTTP {response.status_code}", retry_after)
                body = _read_capped(response, config.fetch_max_bytes, deadline)
                return FetchResult(current, response.status_code, body, dict(response.headers),
                                   permanent)
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise FetchError("connect_error", f"{type(exc).__name__}: {exc}") from exc
    raise FetchError("http_error", f"more than {config.fetch_max_redirects} redirects")


def _retry_after(raw: str | None) -> float | None:
    if raw and raw.strip().isdigit():
        return float(raw.strip())
    return None
