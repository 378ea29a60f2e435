"""The publisher as a WebSub (W3C) hub for its own feeds: where subscribers find it, which URLs
are topics, and the endpoint taking (un)subscription requests. Verifying them and pushing is
the ``deliver`` service's (``wiredesk.deliver``), on its queue."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Response, current_app, request

from wiredesk import keys, metrics
from wiredesk.config import Config
from wiredesk.ingester.guard import address_allowed
from wiredesk.publisher.stories import KilledStory, StoryView
from wiredesk.store.models import fits_url_column
from wiredesk.webops import celery_client

HUB_PATH = "/websub/hub"
FORMATS = ("atom", "rss", "json")
# Leases the hub grants (hub.lease_seconds asks; the verification tells the one granted):
# long enough that renewals are rare, short enough that a forgotten callback stops being hit.
DEFAULT_LEASE_SECONDS = 10 * 86400
MIN_LEASE_SECONDS = 300
MAX_LEASE_SECONDS = 30 * 86400
MAX_SECRET_BYTES = 199  # WebSub 5.1: hub.secret "MUST be less than 200 bytes"


def hub_url(base_url: str) -> str:
    """The hub endpoint every feed advertises (``rel="hub"``)."""
    return base_url.rstrip("/") + HUB_PATH


def link_header(hub: str, topic: str) -> str:
    """WebSub discovery (section 4): the hub and the topic's own URL, as an HTTP Link header."""
    return f'<{hub}>; rel="hub", <{topic}>; rel="self"'


@dataclass(frozen=True)
class Topic:
    """One of the publisher's feeds: its path and format, title, and which stories it holds."""

    path: str
    fmt: str
    title: str
    topic: str | None = None  # IPTC qcode
    language: str | None = None  # primary subtag

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("topic", self.topic), ("language", self.language)) if v}

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path


def all_topic(fmt: str) -> Topic:
    return Topic(f"/feeds/all.{fmt}", fmt, "Wiredesk: all stories")


def media_topic(code: str, fmt: str) -> Topic | None:
    """The feed of one IPTC Media Topic (``04000000`` or ``medtop:04000000``); None: no topic."""
    from wiredesk.taxonomy import topics

    qcode = code if code.startswith("medtop:") else f"medtop:{code}"
    topic = topics().get(qcode)
    if topic is None:
        return None
    return Topic(f"/feeds/topic/{code}.{fmt}", fmt, f"Wiredesk: {topic.label('en')}",
                 topic=qcode)


# A language tag's shape: ASCII subtags of 1-8 letters or digits, the first of letters.
_BCP47 = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def _is_language(primary: str) -> bool:
    """Whether ``primary`` is a BCP 47 primary language subtag: the ISO 639-1 code, or the
    ISO 639-3 one of a language that has none (``ara`` is no tag: Arabic is ``ar``). ISO 639's
    special codes (``und``, ``zxx``, ``mul``, ``mis``) name no language a story is stored in."""
    import pycountry

    if len(primary) == 2:
        return pycountry.languages.get(alpha_2=primary) is not None
    language = pycountry.languages.get(alpha_3=primary) if len(primary) == 3 else None
    return (language is not None and not hasattr(language, "alpha_2")
            and language.scope != "S")


def language_topic(language: str, fmt: str) -> Topic | None:
    """The feed of one language (BCP 47); stories carry the primary subtag, so a longer tag
    (``en-GB``) falls back to it, as RFC 4647 lookup does. None: no language tag, or one of
    no language (a feed that would stay empty for ever)."""
    if len(language) > 35 or not _BCP47.fullmatch(language):
        return None
    primary = language.split("-", 1)[0].lower()  # stored lower-case; BCP 47 ignores case
    if not _is_language(primary):
        return None
    return Topic(f"/feeds/lang/{language}.{fmt}", fmt, f"Wiredesk: stories in {language}",
                 language=primary)


_TOPIC_PATH = re.compile(r"/feeds/(?:all|(topic|lang)/([^/]+))\.([^/.]+)")


def parse_topic(base_url: str, url: str) -> Topic | None:
    """The feed ``url`` is (as its ``rel="self"`` names it), or None if it is none of ours."""
    base = base_url.rstrip("/")
    if not url.startswith(base + "/"):
        return None
    match = _TOPIC_PATH.fullmatch(url[len(base):])
    if match is None or match.group(3) not in FORMATS:
        return None
    kind, value, fmt = match.groups()
    if kind is None:
        return all_topic(fmt)
    return media_topic(value, fmt) if kind == "topic" else language_topic(value, fmt)


def feed_document(topic: Topic, stories: Sequence[StoryView], base_url: str,
                  killed: Sequence[KilledStory] = ()) -> tuple[bytes, str]:
    """The feed's document holding ``stories`` (all it serves, or those a push carries) and
    saying ``killed`` stories were withdrawn (a push telling of a kill), and its media type."""
    from wiredesk.publisher import syndication

    render, mimetype = {"atom": (syndication.atom, "application/atom+xml"),
                        "rss": (syndication.rss, "application/rss+xml"),
                        "json": (syndication.json_feed, "application/feed+json")}[topic.fmt]
    body = render(stories, base_url, topic.url(base_url), topic.title, topic.language,
                  hub_url(base_url), killed)
    return body, mimetype


class BadRequest(ValueError):
    """A subscription request the hub refuses (400); the message says why."""


@dataclass(frozen=True)
class HubRequest:
    mode: str
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int | None


def _lease(raw: str) -> int:
    if not raw:
        return DEFAULT_LEASE_SECONDS
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("hub.lease_seconds is not a number of seconds")
    if len(raw) > 10:  # never converted: int() of a long string is slow
        return MAX_LEASE_SECONDS
    return min(max(int(raw), MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)


def check_callback(callback: str, config: Config) -> None:
    """The callback is reached like a feed: http(s), storable, and through the SSRF guard. An
    address is judged here; a name is not resolved here (a resolver slow on purpose would hold
    a publisher worker per request) but where the deliver worker connects, by the guard."""
    parts = urlsplit(callback)
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise BadRequest(f"hub.callback refused: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("hub.callback is not an absolute http(s) URL")
    if not fits_url_column(callback):
        raise BadRequest("hub.callback is too long")
    try:
        address = ipaddress.ip_address(parts.hostname.strip("[]"))
    except ValueError:
        return  # a name
    if not address_allowed(address, config.fetch_allow_networks):
        raise BadRequest(f"hub.callback refused: {parts.hostname} is a non-public address")


def parse_request(form: Mapping[str, str], config: Config) -> HubRequest:
    """Validate a subscriber's (un)subscription request (WebSub 5.1), or raise BadRequest."""
    if any("\x00" in value for value in form.values()):
        raise BadRequest("a parameter holds a NUL")
    mode = form.get("hub.mode", "")
    if mode not in ("subscribe", "unsubscribe"):
        raise BadRequest("hub.mode must be subscribe or unsubscribe")
    topic = form.get("hub.topic", "")
    if parse_topic(config.public_base_url, topic) is None:
        raise BadRequest("hub.topic is not a feed of this publisher")
    callback = form.get("hub.callback", "")
    check_callback(callback, config)
    if mode == "unsubscribe":
        return HubRequest(mode, topic, callback, None, None)
    secret = form.get("hub.secret") or None
    if secret is not None and len(secret.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
        raise BadRequest("hub.secret must be less than 200 bytes")
    return HubRequest(mode, topic, callback, secret, _lease(form.get("hub.lease_seconds", "")))


hub = Blueprint("hub", __name__)
log = logging.getLogger(__name__)


def client_key(address: str | None) -> str:
    """Who the rate limit counts: the client's address; for IPv6 its /64, which one host
    usually holds whole (counted by address, it could take a new one per request)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is that IPv4 client
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def seconds_refused(client: redis.Redis, address: str | None, limit: int) -> int:
    """Count one request from ``address``; the seconds it must wait when it is past ``limit``
    in this window (0: served). Redis not answering: served (logged), as the desk's login
    throttle is."""
    if limit <= 0:
        return 0
    key = keys.hub_requests(client_key(address))
    try:
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, keys.HUB_REQUESTS_WINDOW_SECONDS, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("hub: could not count a request against the rate limit: %s", exc)
        return 0
    if count <= limit:
        return 0
    return max(1, ttl if ttl > 0 else keys.HUB_REQUESTS_WINDOW_SECONDS)


@hub.post(HUB_PATH)
def subscription_request() -> Response:
    """Take a (un)subscription request: 202, then the ``deliver`` service verifies intent;
    429 past the requests one address may make a minute."""
    from wiredesk.store.subscriptions import request as record

    config: Config = current_app.extensions["wiredesk_config"]
    wait = seconds_refused(current_app.extensions["wiredesk_redis"], request.remote_addr,
                           config.hub_max_requests_per_minute)
    if wait:
        metrics.HUB_REQUESTS.labels("throttled").inc()
        return Response(f"Too many requests from this address: try again in {wait} s.\n", 429,
                        {"Retry-After": str(wait)}, mimetype="text/plain")
    try:
        asked = parse_request(request.form, config)
    except BadRequest as exc:
        metrics.HUB_REQUESTS.labels("refused").inc()
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    with current_app.extensions["wiredesk_db"].session() as session:
        pending = record(session, mode=asked.mode, topic=asked.topic, callback=asked.callback,
                         secret=asked.secret, lease_seconds=asked.lease_seconds)
    if pending is not None:  # committed first: the task must find the request
        celery_client().send_task("deliver.verify", args=[pending.subscription_id, pending.request_id],
                            queue="deliver")
    metrics.HUB_REQUESTS.labels("accepted").inc()
    return Response("", 202)
