"""Transport: get a feed's bytes politely and safely. Parsing is ``parse.py``'s business.

Conditional GET, gzip/deflate/br, connect/read timeouts and an overall deadline, a size cap on
both the bytes received and the bytes they decompress to (a gzip bomb stops at the cap), redirects
followed by hand with a limit so permanent moves can be recorded, and the SSRF guard pinned into
the connection step (see ``guard.GuardedBackend``). Errors are sorted into a small set of outcomes.
"""

from __future__ import annotations

import base64
import functools
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin

import brotli
import httpcore
import httpx

from wiredesk.config import Config
from wiredesk.ingester.guard import BlockedURL, GuardedBackend, Resolver, check_scheme, system_resolver
from wiredesk.ingester.schedule import http_date, parse_retry_after

REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
# Success with no content (RFC 9110 15.3.5, 15.3.6): the feed has nothing now, which is no error.
NO_CONTENT = {204, 205}
ACCEPT_ENCODING = "gzip, deflate, br"
ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1")


class FetchError(Exception):
    """A fetch that produced no feed; ``outcome`` is one of metrics.FETCH_OUTCOMES.

    ``retry_after`` (seconds) is set when the server said when to come back (429/503).
    """

    def __init__(self, outcome: str, message: str, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.outcome = outcome
        self.retry_after = retry_after
        self.status = status


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    body: bytes = b""  # decompressed
    headers: dict[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None  # where the feed moved for good, if it did
    wire_bytes: int = 0  # bytes received, before decompression

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def no_content(self) -> bool:
        """The server answered, successfully, that there is nothing (no body to parse)."""
        return self.status in NO_CONTENT


class FeedClient(httpx.Client):
    """An httpx client that also exposes its guarded keep-alive pool: ``fetch`` speaks to the
    pool directly (httpx's request/response layers cost as much CPU as a 304 exchange itself);
    full-text and WebSub requests use the httpx API. Both share the same connections."""

    pool: httpcore.ConnectionPool


def make_client(config: Config, resolve: Resolver = system_resolver,
                max_connections: int = 100) -> FeedClient:
    """A pooled keep-alive client whose every connection goes through the SSRF guard.

    Redirects are followed by ``fetch`` itself; environment proxies are ignored (a proxy would
    make the guard check the proxy's address instead of the feed's).
    """
    timeout = httpx.Timeout(config.fetch_read_timeout, connect=config.fetch_connect_timeout)
    transport = httpx.HTTPTransport(retries=0)
    # httpx has no public hook for the network backend; its pool is an httpcore.ConnectionPool.
    pool = transport._pool = guarded_pool(config, resolve, max_connections)
    client = FeedClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False,
        headers={"User-Agent": config.user_agent, "Accept": ACCEPT,
                 "Accept-Encoding": ACCEPT_ENCODING},
    )
    client.pool = pool
    return client


_shared: tuple[Config, FeedClient] | None = None
_shared_lock = threading.Lock()


def shared_client(config: Config) -> FeedClient:
    """One keep-alive pool per process, shared by its threads (feed fetches, full text, WebSub
    requests, pushes to subscribers); made anew for another configuration (one process running
    two, as tests and the CLI beside a service do)."""
    global _shared
    made = _shared
    if made is None or made[0] is not config:
        with _shared_lock:
            made = _shared
            if made is None or made[0] != config:
                made = (config, make_client(config))
            _shared = made = (config, made[1])  # an equal configuration keeps the pool
    return made[1]


def guarded_pool(config: Config, resolve: Resolver, max_connections: int) -> httpcore.ConnectionPool:
    """The httpcore connection pool behind ``make_client``: keep-alive, guarded connects, and
    every read and write held to the deadline of the exchange it serves (``exchange_deadline``)."""
    return httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=60.0,
        network_backend=_DeadlineBackend(GuardedBackend(config.fetch_allow_networks, resolve)),
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


# The deadline (time.monotonic()) of the exchange this thread is in, if it set one. httpcore's
# timeouts bound each read, not an exchange: a server sending its head a byte now and then
# (never a read timeout) held a fetch, and its ingest thread, for as long as it liked.
_exchange = threading.local()


@contextmanager
def exchange_deadline(at: float) -> Iterator[None]:
    """Hold every read and write this thread makes through the pool to ``at`` (monotonic):
    past it, httpcore.ReadTimeout / WriteTimeout, as a read timeout would raise."""
    outer = getattr(_exchange, "deadline", None)
    _exchange.deadline = at if outer is None else min(at, outer)
    try:
        yield
    finally:
        _exchange.deadline = outer


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_exchange, "deadline", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("past the exchange's deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection's stream whose every read and write waits no later than the deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.stream.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend):
        self.backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.backend.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self.backend.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class _Decoder:
    """Incremental Content-Encoding decoder that never produces more than it is allowed to."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None  # type: ignore[name-defined]
        self._brotli = brotli.Decompressor() if encoding == "br" else None
        if encoding == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decode(self, data: bytes, room: int) -> bytes:
        """Decode ``data``; raise too_large if it expands past ``room`` more bytes."""
        if self.encoding == "identity":
            out = data
        elif self._brotli is not None:
            out = self._brotli.process(data, output_buffer_limit=room + 1)
        else:
            if self._zlib is None:  # deflate: zlib-wrapped per the RFC, raw in practice too
                zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (
                    (data[0] << 8) | data[1]) % 31 == 0
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            out = self._zlib.decompress(data, room + 1)
            if self.encoding == "gzip":
                out = self._next_members(out, room)
        if len(out) > room:
            raise FetchError("too_large", "body decompresses past the size cap")
        return out

    def _next_members(self, out: bytes, room: int) -> bytes:
        """Go on into the gzip members after the first (RFC 1952 2.2): data past a member's end
        waits in ``unused_data``. Anything else there (zero padding) is ignored, as gzip(1)
        and urllib3 ignore it."""
        assert self._zlib is not None
        while self._zlib.eof and len(out) <= room and \
                self._zlib.unused_data.startswith(b"\x1f\x8b"):
            rest = self._zlib.unused_data
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._zlib.decompress(rest, room + 1 - len(out))
        return out

    def finished(self) -> bool:
        """True when the compressed stream reached its end (a cut one did not)."""
        if self._brotli is not None:
            return bool(self._brotli.is_finished())
        return self._zlib is None or self._zlib.eof


def _decoder(headers: dict[str, str]) -> _Decoder:
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")
               if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        return _Decoder("identity")
    if len(codings) > 1 or codings[0] not in {"gzip", "x-gzip", "deflate", "br"}:
        raise FetchError("http_error", f"unsupported Content-Encoding {headers['content-encoding']!r}")
    return _Decoder("gzip" if codings[0] == "x-gzip" else codings[0])


def decode_capped(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """A body received whole (a WebSub push), decoded per its Content-Encoding and refused past
    ``max_bytes`` after decoding, as a fetched one is: FetchError too_large, or http_error for
    an encoding that is unsupported, corrupt or cut short."""
    return decode_stream_capped([body], content_encoding, max_bytes)


def decode_stream_capped(chunks: Iterable[bytes], content_encoding: str | None,
                         max_bytes: int) -> bytes:
    """A body as received (still encoded, e.g. httpx's ``iter_raw``), decoded chunk by chunk
    and refused (FetchError too_large) once more than ``max_bytes`` arrive or decode: a gzip
    bomb stops at the cap, never inflated whole. http_error for an encoding that is
    unsupported, corrupt or cut short."""
    decoder = _decoder({"content-encoding": content_encoding or ""})
    decoded: list[bytes] = []
    wire = size = 0
    try:
        for chunk in chunks:
            wire += len(chunk)
            if wire > max_bytes:
                raise FetchError("too_large", f"body exceeds {max_bytes} bytes")
            out = decoder.decode(chunk, max_bytes - size)
            size += len(out)
            decoded.append(out)
    except (zlib.error, brotli.error) as exc:
        raise FetchError("http_error", f"corrupt {decoder.encoding} body: {exc}") from exc
    if wire and not decoder.finished():  # else the body would be read cut short
        raise FetchError("http_error", f"truncated {decoder.encoding} body")
    return b"".join(decoded)


def _read_capped(response: httpcore.Response, headers: dict[str, str], max_bytes: int,
                 deadline: float) -> tuple[bytes, int]:
    """The decoded body and its size on the wire, refusing more than ``max_bytes`` on the wire
    or after decoding."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"declared body of {declared} bytes exceeds {max_bytes}")
    wire = 0

    def received() -> Iterator[bytes]:
        nonlocal wire
        for chunk in response.iter_stream():  # as received, never buffered past the deadline
            wire += len(chunk)
            yield chunk
            if time.monotonic() > deadline:
                raise FetchError("timeout", "body took longer than the fetch deadline")

    body = decode_stream_capped(received(), headers.get("content-encoding"), max_bytes)
    return body, wire


def _drain(response: httpcore.Response, headers: dict[str, str], deadline: float,
           limit: int = 64 * 1024) -> None:
    """Read a small unwanted body (redirect, 304, error page); a big one just closes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return
    read = 0
    for chunk in response.iter_stream():
        read += len(chunk)
        if read > limit or time.monotonic() > deadline:
            return


# httpcore's errors below the request (httpx would map them to its TransportError family).
_TRANSPORT_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
                     httpcore.UnsupportedProtocol)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(unknown status)"


def _redirect_target(current: str, location: str) -> str:
    """Where a redirect leads; FetchError if the Location is no URL (urljoin refuses it)."""
    try:
        return urljoin(current, location)
    except ValueError as exc:  # e.g. a broken [IPv6] host
        raise FetchError("http_error", f"redirect to an invalid URL {location[:200]!r}") from exc


@functools.lru_cache(maxsize=8192)
def _target(url: str) -> httpcore.URL:
    """``url`` as httpcore wants it, parsed (IDNA, percent-encoding) the way httpx parses it.

    Cached: a feed's URL is fetched again and again, and parsing it cost about a sixth of
    a 304 exchange's CPU. httpcore only reads the URL object, so fetches may share it."""
    parsed = httpx.URL(url)
    return httpcore.URL(scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port,
                        target=parsed.raw_path)


Origin = tuple[str, str, int | None]


@functools.lru_cache(maxsize=8192)
def _origin_and_credentials(url: str) -> tuple[Origin, bytes | None]:
    """``url``'s origin, and the Basic Authorization its user and password make (None when it
    carries none): paid wires hand out feed URLs as ``https://user:password@host/feed``."""
    parsed = httpx.URL(url)
    origin = (parsed.scheme, parsed.host, parsed.port)
    if not (parsed.username or parsed.password):
        return origin, None
    pair = f"{parsed.username}:{parsed.password}".encode()  # RFC 7617: UTF-8
    return origin, b"Basic " + base64.b64encode(pair)


def _authorization(first: str, current: str) -> bytes | None:
    """The credentials a hop is sent: its own URL's, else the feed URL's when the hop is on
    the feed URL's origin. Never to another origin a redirect leads to."""
    if "@" not in first and "@" not in current:
        return None
    origin, own = _origin_and_credentials(current)
    if own is not None:
        return own
    first_origin, given = _origin_and_credentials(first)
    return given if first_origin == origin else None


def fetch(client: FeedClient, url: str, config: Config, *, etag: str | None = None,
          last_modified: str | None = None) -> FetchResult:
    """Fetch ``url`` with conditional headers; raise FetchError for anything but a feed body."""
    request_headers = list(client.headers.raw)
    if etag:
        request_headers.append((b"If-None-Match", etag.encode("latin-1", "replace")))
    if last_modified:
        request_headers.append((b"If-Modified-Since",
                                last_modified.encode("latin-1", "replace")))
    until = time.monotonic() + config.fetch_read_timeout
    with exchange_deadline(until):
        return _fetch(client, url, config, request_headers, until)


def _fetch(client: FeedClient, url: str, config: Config, request_headers: list[Any],
           deadline: float) -> FetchResult:
    extensions = {"timeout": client.timeout.as_dict()}
    permanent: str | None = None
    all_permanent = True
    current = url
    for _hop in range(config.fetch_max_redirects + 1):
        try:
            check_scheme(current)
            hop_headers = request_headers
            authorization = _authorization(url, current)
            if authorization is not None:
                hop_headers = [*request_headers, (b"Authorization", authorization)]
            with client.pool.stream("GET", _target(current), headers=hop_headers,
                                    extensions=extensions) as response:
                status = response.status
                # Lower-case names, repeated fields joined: what dict(httpx.Headers) gives.
                headers = dict(httpx.Headers(response.headers))
                if status >= 300 or status in NO_CONTENT:
                    _drain(response, headers, deadline)  # keeps the connection reusable
                if status in REDIRECT_CODES and "location" in headers:
                    # Only a chain of permanent moves from the start moves the feed itself.
                    all_permanent &= status in PERMANENT_REDIRECTS
                    current = _redirect_target(current, headers["location"])
                    if all_permanent:
                        permanent = current
                    continue
                if status in REDIRECT_CODES:  # its body is drained: nothing left to read
                    raise FetchError("http_error", f"HTTP {status} without a Location header",
                                     status=status)
                if status == 304 or status in NO_CONTENT:
                    return FetchResult(current, status, headers=headers,
                                       permanent_redirect=permanent)
                if 300 <= status < 400:
                    # 300 (several documents to choose from: RFC 9110 lets a client follow
                    # its Location, but which of them is the feed is the operator's choice),
                    # 305 and 306 (obsolete): no feed here, and no body to read as one.
                    raise FetchError("http_error", f"HTTP {status} {_phrase(status)}: "
                                     "not followed; register the URL of the feed itself",
                                     status=status)
                if status >= 400:
                    # An HTTP-date is read against the server's own clock (clocks disagree,
                    # the delta it means does not), as schedule reads Expires.
                    retry_after = parse_retry_after(
                        headers.get("retry-after"),
                        http_date(headers.get("date")) or datetime.now(UTC))
                    outcome = "rate_limited" if status == 429 else "http_error"
                    raise FetchError(outcome, f"HTTP {status}", retry_after, status)
                body, wire = _read_capped(response, headers, config.fetch_max_bytes, deadline)
                return FetchResult(current, status, body, headers, permanent, wire)
        except BlockedURL as exc:
            raise FetchError("blocked", str(exc)) from exc
        except httpx.InvalidURL as exc:  # e.g. an octal or out-of-range IPv4 host
            raise FetchError("http_error", f"invalid URL {current[:200]!r}: {exc}") from exc
        except httpcore.TimeoutException as exc:
            raise FetchError("timeout", f"timed out: {exc!r}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise FetchError("connect_error", f"{type(exc).__name__}: {exc}") from exc
    raise FetchError("http_error", f"more than {config.fetch_max_redirects} redirects")
