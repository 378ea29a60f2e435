"""The feed registry: the one module the CLI, the admin API, feeds.yaml and OPML all go through.

A feed's settings cross every boundary as a ``FeedSpecSchema`` dict (url, name, language,
trust, interval, identity, zone, full_text, enabled), validated here once; the scheduling and
WebSub state is the ingester's and is only read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wiredesk.store.models import Feed, utcnow

TRUST_LEVELS = ("auto", "review")
IDENTITY_RULES = ("guid", "link", "content")
DEFAULT_INTERVAL_SECONDS = 900
MIN_INTERVAL_SECONDS = 10
MAX_FEED_ID = 2**31 - 1  # feeds.id is a 32-bit INTEGER
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# Spec field -> column. Everything an operator sets; nothing the ingester keeps.
SPEC_COLUMNS = {
    "url": "url", "name": "name", "language": "language", "trust": "trust",
    "interval": "interval_seconds", "identity": "identity_rule", "zone": "date_zone",
    "full_text": "full_text", "enabled": "enabled",
}


class FeedSpecSchema(Schema):
    """One feed as operators write it (YAML, API body, CLI options); unknown keys are refused."""

    class Meta:
        unknown = RAISE

    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     validate=validate.Length(max=2000))
    name = fields.String(validate=validate.Length(max=300))
    language = fields.String(allow_none=True, validate=[
        validate.Length(max=35),
        validate.Regexp(_LANGUAGE, error="not a BCP 47 language tag")])
    trust = fields.String(validate=validate.OneOf(TRUST_LEVELS))
    interval = fields.Integer(strict=True,
                              validate=validate.Range(MIN_INTERVAL_SECONDS, 7 * 86400))
    identity = fields.String(validate=validate.OneOf(IDENTITY_RULES))
    # null: no zone hint, so dates that carry none are read as UTC (stored as "UTC").
    zone = fields.String(allow_none=True, validate=validate.Length(max=64))
    full_text = fields.Boolean()
    enabled = fields.Boolean()

    @validates("zone")
    def _known_zone(self, value: str | None, **_: Any) -> None:
        if value is not None:
            check_zone(value)


class FeedsFileSchema(Schema):
    """A feeds.yaml: the feeds, and whether feeds missing from the file are disabled."""

    class Meta:
        unknown = RAISE

    feeds = fields.List(fields.Nested(FeedSpecSchema), required=True)
    prune = fields.Boolean(load_default=False)


spec_schema = FeedSpecSchema()
update_schema = FeedSpecSchema(partial=True)
feeds_file_schema = FeedsFileSchema()


def check_zone(value: str) -> None:
    """Raise ValidationError unless ``value`` is an IANA zone name (or UTC)."""
    if value in {"UTC", "Z"}:
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError) as exc:
        raise ValidationError(f"unknown IANA time zone {value!r}") from exc


def _apply(feed: Feed, spec: Mapping[str, Any]) -> None:
    for key, value in spec.items():
        if key == "zone" and value is None:  # the hint cleared: the default
            value = "UTC"
        setattr(feed, SPEC_COLUMNS[key], value)


def _defaults(default_interval: int) -> dict[str, Any]:
    return {"name": "", "language": None, "trust": "review", "interval": default_interval,
            "identity": "guid", "zone": "UTC", "full_text": False, "enabled": True}


def get_feed(session: Session, ref: int | str) -> Feed | None:
    """A feed by id (an int or a string of digits) or by URL."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit()):
        # Past the column's range the database refuses the parameter: no such feed either.
        return session.get(Feed, int(ref)) if 0 < int(ref) <= MAX_FEED_ID else None
    return session.scalar(select(Feed).where(Feed.url == ref))


def list_feeds(session: Session) -> list[Feed]:
    """Every feed, oldest first."""
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def put_feed(session: Session, spec: Mapping[str, Any], *,
             default_interval: int = DEFAULT_INTERVAL_SECONDS) -> Feed:
    """Create or fully replace the feed with ``spec['url']``: unset fields take defaults."""
    data = {**_defaults(default_interval), **spec_schema.load(dict(spec))}
    feed = get_feed(session, data["url"])
    if feed is None:
        feed = Feed(url=data["url"], next_fetch_at=utcnow(), error_count=0)
        session.add(feed)
    was_enabled = feed.enabled
    _apply(feed, data)
    feed.name = feed.name or feed.url
    if feed.enabled and not was_enabled:
        feed.next_fetch_at = utcnow()
    session.flush()
    return feed


def add_feed(session: Session, url: str, *, name: str = "", language: str | None = None,
             trust: str = "review", interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
             **more: Any) -> Feed:
    """Register a feed (or replace the settings of the one with that URL), due now."""
    try:
        return put_feed(session, {"url": url, "name": name, "language": language, "trust": trust,
                                  "interval": interval_seconds, **more},
                        default_interval=interval_seconds)
    except ValidationError as exc:
        raise ValueError(format_errors(exc)) from exc


@dataclass(frozen=True)
class HubLeft:
    """A WebSub subscription a change ended: ask ``hub`` to end it once the change commits
    (``ingester.tasks.leave_hub``), as a fetch does when a feed stops naming its hub."""

    feed_id: int
    hub: str
    topic: str


def update_feed(session: Session, ref: int | str, changes: Mapping[str, Any], *,
                leaving: list[HubLeft] | None = None) -> Feed | None:
    """Change some settings of a feed (None if there is no such feed). A move to another URL
    ends its WebSub subscription: appended to ``leaving``, for the caller to unsubscribe after
    its commit."""
    data = update_schema.load(dict(changes))
    feed = get_feed(session, ref)
    if feed is None:
        return None
    if "url" in data and data["url"] != feed.url and get_feed(session, data["url"]) is not None:
        raise ValidationError({"url": ["another feed has this URL"]})
    was_enabled, old_url = feed.enabled, feed.url
    _apply(feed, data)
    if feed.url != old_url:
        # The validators were the old URL's answers: sent to the new one, a server whose ETag
        # matched by chance would answer 304 and the new feed would never be read.
        feed.etag, feed.last_modified = None, None
        # The old URL's WebSub subscription is not the new one's: without its secret, the old
        # hub's pushes are refused (410, so the hub drops them) and its topic is not renewed;
        # the new URL's first fetch discovers its own hub, if it has one. The old hub is told
        # (else it keeps the subscription, pushing into 410s, until its lease ends).
        if leaving is not None and feed.websub_hub and feed.websub_topic \
                and feed.websub_state in ("pending", "subscribed"):
            leaving.append(HubLeft(feed.id, feed.websub_hub, feed.websub_topic))
        feed.websub_hub, feed.websub_topic, feed.websub_secret = None, None, None
        feed.websub_state, feed.websub_requested_at = None, None
        feed.websub_lease_expires_at = None
    if feed.enabled and not was_enabled:
        feed.next_fetch_at = utcnow()  # re-enabled: due now, and a fresh backoff
        feed.error_count = 0
        # Pushes were refused (410) while disabled, so hubs dropped us: subscribe afresh.
        feed.websub_state, feed.websub_lease_expires_at = None, None
    session.flush()
    return feed


def remove_feed(session: Session, ref: int | str) -> bool:
    """Delete a feed and (by cascade) its articles; False if there was none."""
    feed = get_feed(session, ref)
    if feed is None:
        return False
    session.delete(feed)
    session.flush()
    return True


def fetch_now(session: Session, ref: int | str) -> Feed | None:
    """Make a feed due at the next scheduler tick, whatever its backoff."""
    feed = get_feed(session, ref)
    if feed is not None:
        feed.next_fetch_at = utcnow()
        session.flush()
    return feed


def apply_specs(session: Session, specs: Iterable[Mapping[str, Any]], *, prune: bool = False,
                default_interval: int = DEFAULT_INTERVAL_SECONDS) -> list[Feed]:
    """Declarative apply: each spec replaces its feed; ``prune`` disables feeds not listed."""
    applied = [put_feed(session, spec, default_interval=default_interval) for spec in specs]
    if prune:
        keep = {feed.id for feed in applied}
        for feed in list_feeds(session):
            if feed.id not in keep and feed.enabled:
                feed.enabled = False  # disabled, not deleted: its articles stay
    session.flush()
    return applied


def feed_health(session: Session, now: datetime | None = None) -> tuple[int, float]:
    """(enabled feeds in error, seconds the most overdue enabled feed is late)."""
    now = now or utcnow()
    in_error = session.scalar(select(func.count()).select_from(Feed).where(
        Feed.enabled.is_(True), Feed.error_count > 0)) or 0
    oldest = session.scalar(select(func.min(Feed.next_fetch_at)).where(Feed.enabled.is_(True)))
    if oldest is not None and oldest.tzinfo is None:  # SQLite's aggregate skips the type
        oldest = oldest.replace(tzinfo=UTC)
    lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return int(in_error), lag


def load_feeds_document(document: Any) -> dict[str, Any]:
    """Validate a parsed feeds.yaml (a list of feeds, or ``{feeds: [...], prune: bool}``)."""
    if document is None:
        document = []
    if isinstance(document, list):
        document = {"feeds": document}
    return feeds_file_schema.load(document)  # type: ignore[no-any-return]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def feed_to_dict(feed: Feed) -> dict[str, Any]:
    """A feed's settings and state as JSON-ready data (the API's and `feeds show`'s shape)."""
    data: dict[str, Any] = {"id": feed.id}
    data.update({key: getattr(feed, column) for key, column in SPEC_COLUMNS.items()})
    data["state"] = {
        "title": feed.title,
        "error_count": feed.error_count,
        "last_error": feed.last_error,
        "last_error_at": _iso(feed.last_error_at),
        "last_fetched_at": _iso(feed.last_fetched_at),
        "last_success_at": _iso(feed.last_success_at),
        "next_fetch_at": _iso(feed.next_fetch_at),
        "schedule_reason": feed.schedule_reason,
        "redirected_from": feed.redirected_from,
        "redirected_at": _iso(feed.redirected_at),
        "websub": {
            "hub": feed.websub_hub, "topic": feed.websub_topic, "state": feed.websub_state,
            "lease_expires_at": _iso(feed.websub_lease_expires_at),
            "last_push_at": _iso(feed.websub_last_push_at),
        },
    }
    return data


def format_errors(exc: ValidationError) -> str:
    """A marshmallow error as one readable line."""
    messages = exc.normalized_messages()  # type: ignore[no-untyped-call]  # untyped upstream
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {' '.join(map(str, value)) if isinstance(value, list) else value}"
                         for key, value in messages.items())
    return str(messages)


# OPML: listparser reads (it copes with the many dialects in the wild); lxml writes, and reads
# the one attribute listparser does not keep: an outline's language.

def _opml_languages(data: bytes) -> dict[str, str]:
    """xmlUrl -> language of the outlines that carry a valid BCP 47 tag (none if unparsable)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return {}
    languages: dict[str, str] = {}
    for outline in root.iter("outline") if root is not None else ():
        url, language = outline.get("xmlUrl", "").strip(), outline.get("language", "").strip()
        if url and len(language) <= 35 and _LANGUAGE.match(language):
            languages[url] = language
    return languages


def parse_opml(data: bytes) -> list[dict[str, Any]]:
    """Feed specs (url, name, language) from an OPML document; ValueError if it lists no feed."""
    import listparser

    result = listparser.parse(data)
    languages = _opml_languages(data)
    specs = []
    for feed in result.feeds:
        url = (feed.get("url") or "").strip()
        if urlsplit(url).scheme in {"http", "https"}:
            specs.append({"url": url, "name": (feed.get("title") or "").strip()[:300],
                          "language": languages.get(url)})
    if not specs:
        why = f": {result.bozo_exception}" if result.bozo else ""
        raise ValueError(f"no http(s) feeds found in the OPML document{why}")
    return specs


def import_opml(session: Session, data: bytes, *,
                default_interval: int = DEFAULT_INTERVAL_SECONDS) -> tuple[list[Feed], int]:
    """Add the feeds of an OPML list; existing URLs keep their settings. Returns (new, skipped)."""
    added, skipped = [], 0
    for spec in parse_opml(data):
        if get_feed(session, spec["url"]) is not None:
            skipped += 1
            continue
        added.append(put_feed(session, spec, default_interval=default_interval))
    return added, skipped


def export_opml(feeds: Iterable[Feed], title: str = "Wiredesk feeds") -> bytes:
    """An OPML 2.0 subscription list of ``feeds``."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = utcnow().strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = etree.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.name or feed.url, "title": feed.name or feed.url,
                      "xmlUrl": feed.url}
        if feed.language:
            attributes["language"] = feed.language
        etree.SubElement(body, "outline", attributes)
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                     pretty_print=True)
    return document
