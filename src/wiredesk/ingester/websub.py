"""WebSub (W3C) subscriber side: discover a feed's hub, subscribe, verify intent and pushes.

A push is treated exactly like a fetch (same parse and upsert); polling carries on beside it, so
a hub that goes quiet costs latency, never entries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from wiredesk.config import Config
from wiredesk.ingester.fetch import exchange_deadline
from wiredesk.ingester.guard import BlockedURL, check_url
from wiredesk.store.models import Feed, fits_url_column

SIGNATURE_METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256,
                     "sha384": hashlib.sha384, "sha512": hashlib.sha512}
# A subscription asked for and never verified is asked again after this long.
PENDING_RETRY = timedelta(hours=1)
# A renewal asked for and not yet verified is asked again after this long (hubs verify within
# seconds; beat looks every few seconds).
RENEWAL_RETRY = timedelta(minutes=2)
# A longer lease granted by a hub is taken as this one (renewing early costs one request).
MAX_LEASE = timedelta(days=365)
# A push through a hub reached over plain HTTP authenticates nothing (it was given no secret):
# it only brings the feed's next poll forward, to no sooner than this after its last fetch.
PING_MIN_GAP = timedelta(minutes=1)
# No "<" inside the brackets (RFC 3986 has none in a URI): with one allowed, each "<" of a
# header that closes none was matched over the rest of it, a minute of CPU for 100 KB of "<".
_LINK = re.compile(r"<([^<>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";,]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class Discovery:
    hub: str
    topic: str


def _header_links(value: str) -> dict[str, str]:
    """rel -> URL from an HTTP ``Link`` header (the first of each rel)."""
    found: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        rel = _REL.search(match.group(2))
        if rel:
            for name in rel.group(1).split():
                found.setdefault(name.lower(), match.group(1).strip())
    return found


def discover(meta: Mapping[str, Any], headers: Mapping[str, str] | None,
             feed_url: str) -> Discovery | None:
    """The hub and topic a feed advertises (HTTP Link header first, then the feed's links)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    links = _header_links(lowered.get("link", ""))
    for link in meta.get("links", []) or []:
        rel, href = (link.get("rel") or "").lower(), (link.get("href") or "").strip()
        if rel in {"hub", "self"} and href:
            links.setdefault(rel, href)
    if "hub" not in links:
        return None
    # A Link header may carry relative references (RFC 8288): they are the feed URL's.
    found = Discovery(hub=urljoin(feed_url, links["hub"]),
                      topic=urljoin(feed_url, links.get("self") or feed_url))
    # One the feed's row cannot hold would fail the fetch that records it: polling will do.
    if not (fits_url_column(found.hub) and fits_url_column(found.topic)):
        return None
    return found


def callback_url(config: Config, feed_id: int) -> str:
    """Where the hub calls us back for ``feed_id``."""
    return f"{config.websub_callback_base_url.rstrip('/')}/websub/{feed_id}"


def renewal_due(feed: Feed, now: datetime, config: Config) -> bool:
    """True when the known subscription needs asking for again."""
    if feed.websub_state == "subscribed":
        expires = feed.websub_lease_expires_at
        ending = expires is None or expires - now <= timedelta(
            seconds=config.websub_renew_before_seconds)
        # Until the hub verifies, the lease stays near its end: without this, every beat tick
        # (or forever, if the hub never verifies or sends no lease) asked the hub again.
        # Once it has ended unrenewed (the hub down, or refusing), the subscription is gone:
        # asked for at the pace of a new one, not every RENEWAL_RETRY for ever.
        retry = PENDING_RETRY if expires is not None and expires <= now else RENEWAL_RETRY
        return ending and (feed.websub_requested_at is None
                           or now - feed.websub_requested_at > retry)
    if feed.websub_state == "pending":
        return feed.websub_requested_at is None or now - feed.websub_requested_at > PENDING_RETRY
    # Never asked, or denied: ask again at the pending pace.
    return feed.websub_requested_at is None or now - feed.websub_requested_at > PENDING_RETRY


def new_secret() -> str:
    """A fresh per-feed HMAC secret for hub signatures."""
    return secrets.token_hex(32)


# The headers of a push the parse reads (the charset, the language), and how much of each.
PUSH_HEADERS = ("content-type", "content-language")
MAX_PUSH_HEADER = 200


def push_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What the parse needs of a push's headers, as a fetch's: a charset named only by the
    Content-Type is the document's encoding."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return {name: lowered[name][:MAX_PUSH_HEADER] for name in PUSH_HEADERS if name in lowered}


def feed_media_type(content_type: str | None) -> bool:
    """True unless ``content_type`` names something no feed is served as: XML and JSON of any
    kind pass, and so do none, text/plain and application/octet-stream (what servers label
    files they do not know). An HTML page is not a feed; a feed mislabelled so is polled."""
    media = (content_type or "").split(";")[0].strip().lower()
    return (media in ("", "text/plain", "application/octet-stream")
            or media.endswith(("/xml", "+xml", "/json", "+json")))


def _url_key(url: str) -> tuple[Any, ...]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    if port == {"http": 80, "https": 443}.get(scheme):
        port = None
    return scheme, (parts.hostname or "").lower(), port, unquote(parts.path) or "/", parts.query


def same_topic(one: str, other: str) -> bool:
    """True when two URLs name the same topic, however a hub spelled it (the case of the scheme
    and host, a default port, percent-encoding): a false "no" would have the hub drop us."""
    if one == other:
        return True
    try:
        return _url_key(one) == _url_key(other)
    except ValueError:  # a port that is no number
        return False


def pushed_topic(link_headers: list[str], base: str) -> str | None:
    """The topic a push says it is of (``Link: <...>; rel="self"``, WebSub 7), if it says."""
    self_link = _header_links(", ".join(link_headers)).get("self")
    if not self_link:
        return None
    try:
        return urljoin(base, self_link)
    except ValueError:  # a broken [IPv6] host: no topic of ours
        return self_link


def secret_allowed(hub: str) -> bool:
    """True when ``hub`` is reached over TLS: only then is it sent a ``hub.secret`` (WebSub
    5.1). Sent in clear, anyone on the path could sign pushes of their own into the feed."""
    return urlsplit(hub).scheme == "https"


def ping_only(feed: Feed) -> bool:
    """True when a push for ``feed`` cannot be authenticated (its subscription went through a
    plain-http hub, without a secret): a push then only brings the next poll forward. A secret
    stored for such a hub (sent in clear before this rule) changes nothing."""
    return (feed.websub_hub is not None and not secret_allowed(feed.websub_hub)
            and feed.websub_state in ("pending", "subscribed"))


def ping_fetch_at(feed: Feed, now: datetime) -> datetime:
    """When a ping makes ``feed`` due: now, but never sooner than PING_MIN_GAP after its last
    fetch (anyone can send pings: they must not make us hammer the feed's server)."""
    if feed.last_fetched_at is None:
        return now
    return max(now, feed.last_fetched_at + PING_MIN_GAP)


def subscribe(client: httpx.Client, config: Config, *, feed_id: int, hub: str, topic: str,
              secret: str | None, mode: str = "subscribe") -> None:
    """Send the (un)subscription request to ``hub``; the hub verifies intent asynchronously.
    ``secret`` goes only to an https hub (see ``secret_allowed``)."""
    if secret is not None and not secret_allowed(hub):
        raise ValueError("a hub.secret is sent over HTTPS only")
    data = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback_url(config, feed_id)}
    if mode == "subscribe":
        data["hub.lease_seconds"] = str(config.websub_lease_seconds)
    if secret is not None:
        data["hub.secret"] = secret
    # The whole exchange, redirects included, within a fetch's deadline (as a feed's server, a
    # hub trickling its answer would hold the ingest thread for as long as it liked).
    with exchange_deadline(time.monotonic() + config.fetch_read_timeout):
        _post(client, config, hub, data, secret)


def _post(client: httpx.Client, config: Config, hub: str, data: dict[str, str],
          secret: str | None) -> None:
    url = hub
    for _hop in range(config.fetch_max_redirects + 1):
        # Each hop is reached like a feed: the guard decides (BlockedURL) before any connect.
        check_url(url, config.fetch_allow_networks)
        # Streamed, and the answer's body never read whole: httpx would inflate all of it (a
        # gzip bomb) into the worker's memory, and all WebSub needs of it is the status.
        with client.stream("POST", url, data=data) as response:
            status = response.status_code
            if status in POST_REDIRECTS and "location" in response.headers:
                url = _hub_redirect(url, response.headers["location"], secret)
                continue
            if status >= 300:
                raise httpx.HTTPStatusError(f"hub answered {status}{_excerpt(response)}",
                                            request=response.request, response=response)
            return
    raise httpx.TooManyRedirects(f"more than {config.fetch_max_redirects} redirects from the hub")


# A hub that moved is followed where its request stays a POST with its body (RFC 9110 15.4.8,
# 15.4.9); 301, 302 and 303 would have it become a GET, which no hub answers.
POST_REDIRECTS = frozenset({307, 308})


def _hub_redirect(current: str, location: str, secret: str | None) -> str:
    """Where a hub's redirect leads, refused (BlockedURL) if it is no URL or would carry the
    secret over plain HTTP."""
    try:
        target = urljoin(current, location)
    except ValueError as exc:  # a broken [IPv6] host
        raise BlockedURL(f"hub redirected to an invalid URL {location[:200]!r}") from exc
    if secret is not None and not secret_allowed(target):
        raise BlockedURL("hub redirected from https to plain http: the request carries "
                         "hub.secret, which is not sent in clear")
    return target


# How much of a hub's refusal is read, for the log.
EXCERPT_BYTES = 200


def _excerpt(response: httpx.Response) -> str:
    """The start of a hub's refusal, as sent (a compressed one is not inflated to be logged)."""
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return ""
    read = b""
    for chunk in response.iter_raw():
        read += chunk
        if len(read) >= EXCERPT_BYTES:
            break
    text = " ".join(read[:EXCERPT_BYTES].decode("utf-8", "replace").split())
    return f": {text!r}" if text else ""


def signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature: method=hexdigest`` (sha1, sha256, sha384 or sha512)."""
    if not secret or not header or "=" not in header:
        return False
    method, _, signature = header.strip().partition("=")
    digest = SIGNATURE_METHODS.get(method.lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest().encode()
    # As bytes: compare_digest raises TypeError on a str that is not ASCII (a forged header).
    return hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace"))


def _lease_expiry(lease: str, now: datetime) -> datetime | None:
    """When a granted ``hub.lease_seconds`` ends; None when it is no number of seconds."""
    # ASCII digits only ("²" is a digit to str.isdigit, not to int), and capped: a lease past
    # what a datetime holds raised, and the verification we had asked for failed (500).
    if not (lease.isascii() and lease.isdigit()):
        return None
    if len(lease) > 10:  # over 300 years, and never converted: int() of a long string is slow
        return now + MAX_LEASE
    return now + min(timedelta(seconds=int(lease)), MAX_LEASE)


def _asked(feed: Feed, now: datetime) -> bool:
    """True while a subscription (or renewal) we requested awaits the hub's verification."""
    if feed.websub_state == "pending":
        return True
    # Subscribed: only a renewal asked for lately. Hubs do not renew on their own, so any other
    # verification follows someone else's request, made with their secret.
    return (feed.websub_state == "subscribed" and feed.websub_requested_at is not None
            and now - feed.websub_requested_at <= PENDING_RETRY)


def verify_intent(feed: Feed | None, params: Mapping[str, str], now: datetime,
                  leaving: bool = False) -> tuple[int, str]:
    """Answer a hub's verification GET: (status, body). Records the lease on success.
    ``leaving``: Wiredesk asked, lately, to unsubscribe the feed from this topic."""
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    if feed is None:
        return 404, "unknown subscription"
    if mode == "denied":
        if topic == feed.websub_topic:
            feed.websub_state = "denied"
        return 200, ""
    challenge = params.get("hub.challenge", "")
    if challenge and mode == "unsubscribe" and leaving:
        return 200, challenge  # the old hub or topic the feed no longer advertises
    if not challenge or topic != feed.websub_topic:
        return 404, "topic does not match"
    if mode == "subscribe" and feed.enabled and _asked(feed, now):
        lease = params.get("hub.lease_seconds", "")
        feed.websub_state = "subscribed"
        feed.websub_lease_expires_at = _lease_expiry(lease, now)
        return 200, challenge
    # Wiredesk asks to unsubscribe only from what a feed stopped advertising (``leaving``; a
    # disabled or removed feed answers pushes 410), so an unsubscription of the current topic
    # was asked by someone else: confirmed, it would end ours.
    return 404, "not expecting this"
