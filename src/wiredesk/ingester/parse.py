"""Format: feed bytes in, Articles out. Never given a URL to fetch: transport is ``fetch.py``'s job.

The bytes are decoded first (``encoding.py``: BOM, HTTP charset, XML declaration, detection) and
checked for entity bombs and external entities; feedparser then reads UTF-8 (JSON Feed is read
with ``json``). We decide identity, dates (``dates.py``) and what HTML is safe to keep.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3
from lxml import etree
from marshmallow import validate

from wiredesk import schemas
from wiredesk.identity import article_id, canonical_url, content_hash
from wiredesk.ingester.dates import DateBudget, parse_date
from wiredesk.ingester.encoding import UnsafeXML, as_utf8_xml, check_entities, decode_document
from wiredesk.schemas import Article
from wiredesk.store.models import Feed, fits_url_column
from wiredesk.text.html import html_to_text, too_many_tags


def _copy_feedparser_dict(params: feedparser.FeedParserDict,
                          memo: dict[int, Any]) -> feedparser.FeedParserDict:
    return feedparser.FeedParserDict(
        {key: copy.deepcopy(value, memo) for key, value in params.items()})


# feedparser deep-copies its content parameters (a FeedParserDict of type, language and base)
# for every title and description it reads, and copy.deepcopy takes a dict subclass through
# __reduce_ex__ and a generic rebuild. The same copy made directly: about 5 % of the
# instructions that parsing a feed takes (cachegrind, 60 bench feeds).
copy._deepcopy_dispatch.setdefault(feedparser.FeedParserDict,  # type: ignore[attr-defined]
                                   _copy_feedparser_dict)

# What body HTML may keep: structure and links, nothing that runs or tracks.
# bdi and bdo: how right-to-left copy keeps Latin names and numbers in their place; div and span
# how mixed copy sets a block or a phrase right-to-left (kept only when they carry a direction:
# see _unwrap_plain, so no other article's text or content hash changes).
ALLOWED_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "dd", "del",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "ins", "li", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}, "abbr": {"title"},
    "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "*": {"dir", "lang"},
}
URL_ATTRIBUTES = {"href", "src"}
DIRECTIONS = {"ltr", "rtl", "auto"}  # HTML's dir values (ASCII case-insensitive)
# Hosts whose images only count readers (web beacons), whatever their size.
BEACON_HOSTS = (
    "feeds.feedburner.com", "feedproxy.google.com", "pixel.wp.com", "stats.wordpress.com",
    "pi.feedsportal.com", "da.feedsportal.com", "pixel.quantserve.com", "b.scorecardresearch.com",
    "sb.scorecardresearch.com", "www.google-analytics.com", "google-analytics.com",
    "ad.doubleclick.net", "pubads.g.doubleclick.net", "www.facebook.com", "analytics.twitter.com",
    "rss.buysellads.com", "feeds.wordpress.com", "counter.theconversation.com",
)
IDENTITY_RULES = ("guid", "link", "content")
_IMG = re.compile(r"<img\b[^>]*>")
_IMG_ATTR = re.compile(r'\b(src|width|height)="([^"]*)"')
# nh3's output escapes < and > in text and attribute values, so every match is a real tag.
_DIV_OR_SPAN = re.compile(r"<(/?)(div|span)\b([^>]*)>")
# Complaints feedparser makes about feeds it read correctly anyway.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
JSON_FEED_PREFIX = "https://jsonfeed.org/version/"


def _max_length(field: Any) -> int:
    return next(v.max for v in field.validators if isinstance(v, validate.Length))


# The Article contract's length limits (the pipeline refuses a row past one; the database's
# columns hold no more for guid and the raw dates). A field past its limit is cut, not the entry
# refused: in PostgreSQL one value too long fails the feed's whole transaction.
_FIELDS = schemas.article_schema.fields
LIMITS = {name: _max_length(_FIELDS[name]) for name in (
    "guid", "title", "summary", "body_html", "body_text", "published_raw", "updated_raw")}
MAX_AUTHOR = _max_length(_FIELDS["authors"].inner)
MAX_FEED_TITLE: int = Feed.__table__.c.title.type.length


def _fit(text: str, limit: int) -> str:
    """``text`` storable: no NUL (PostgreSQL text cannot hold one), at most ``limit`` long."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit]


def fit_body_html(body_html: str) -> str:
    """Sanitized HTML cut to the Article contract's ``body_html`` limit, and sanitized again
    when cut (the cut may split a tag)."""
    limit = LIMITS["body_html"]
    if len(body_html) > limit:
        body_html = sanitize_html(body_html[:limit])
    return _fit(body_html, limit)


class ParseError(Exception):
    """The body is not a readable feed; ``outcome`` is parse_error, not_a_feed or unsafe_xml."""

    def __init__(self, outcome: str, message: str):
        super().__init__(message)
        self.outcome = outcome


@dataclass
class ParsedFeed:
    title: str
    articles: list[Article] = field(default_factory=list)
    skipped: int = 0  # entries that could not become an Article
    warning: str | None = None  # feedparser's complaint about a feed it still read
    meta: dict[str, Any] = field(default_factory=dict)  # feed-level data (ttl, hub links)
    encoding: str = "utf-8"  # the codec the body was decoded with
    encoding_source: str = "utf-8"  # as encoding.Decoded.source
    format: str = ""  # feedparser's version (rss20, atom10, ...) or json11
    date_flags: Counter[str] = field(default_factory=Counter)  # for metrics


def _is_beacon(tag: str) -> bool:
    attrs = dict(_IMG_ATTR.findall(tag))
    if attrs.get("width", "").strip().rstrip("px") in {"0", "1"} or \
            attrs.get("height", "").strip().rstrip("px") in {"0", "1"}:
        return True
    host = (urlsplit(html.unescape(attrs.get("src", ""))).hostname or "").lower()
    return host in BEACON_HOSTS


# The link the HTML being sanitized resolves against, read by the sanitizer's attribute filter
# (on the calling thread: nh3 calls the filter there).
_BASE: ContextVar[str | None] = ContextVar("sanitize_base", default=None)


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    """Links resolved against the base; a dir that is no direction dropped (None)."""
    if attribute == "dir":
        direction = value.strip().lower()
        return direction if direction in DIRECTIONS else None
    base = _BASE.get()
    return urljoin(base, value) if base and attribute in URL_ATTRIBUTES else value


# Built once: nh3.clean() compiles its allow-lists on every call, which cost three times what
# cleaning a typical entry does. A Cleaner keeps no state between calls.
_SANITIZER = nh3.Cleaner(
    tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def sanitize_html(raw: str, base: str | None = None) -> str:
    """Allow-listed HTML: no scripts, styles, event handlers, javascript: links or tracking
    pixels; relative links and image sources resolved against ``base`` (the entry's link)."""
    if too_many_tags(raw):  # nh3 would take quadratic time: kept as paragraphs of text
        return "".join(f"<p>{html.escape(line, quote=False)}</p>"
                       for line in html_to_text(raw).splitlines())
    token = _BASE.set(base)
    try:
        cleaned = _SANITIZER.clean(raw)
    finally:
        _BASE.reset(token)
    if "<img" in cleaned:  # nh3's output is normalized, so its img tags are regular
        cleaned = _IMG.sub(lambda m: "" if _is_beacon(m.group(0)) else m.group(0), cleaned)
    if "<div" in cleaned or "<span" in cleaned:
        cleaned = _unwrap_plain(cleaned)
    return cleaned


def _unwrap_plain(cleaned: str) -> str:
    """``cleaned`` without the div and span tags that carry no direction (their content stays).

    A plain div or span says nothing a consumer needs, and a kept div would be a new block
    boundary in the body text: the content hash of every article laid out in divs would change
    and each would come back as a revision at its next fetch.
    """
    kept: dict[str, list[bool]] = {"div": [], "span": []}  # per open tag: kept or not

    def tag(match: re.Match[str]) -> str:
        closing, name, attributes = match.groups()
        if closing:
            return match.group(0) if kept[name].pop() else ""
        keep = ' dir="' in attributes
        kept[name].append(keep)  # nh3 writes every div and span with its end tag
        return match.group(0) if keep else ""

    return _DIV_OR_SPAN.sub(tag, cleaned)


def _plainly_absolute(link: str) -> bool:
    """True when ``urljoin(base, link)`` is ``link`` itself for an http(s) base: a host, and
    nothing urljoin's re-assembly would drop (an empty query, fragment or path parameter, or
    the tabs and newlines urlsplit deletes) and no brackets (which it may refuse). Saves
    urljoin's two parses for most links."""
    if not link.startswith(("http://", "https://")) or any(c in link for c in ";[]\t\r\n"):
        return False
    rest = link.split("://", 1)[1]
    if not rest or rest[0] in "/?#\\":
        return False  # no host: urljoin takes the base's
    hash_at = link.find("#")
    if hash_at == len(link) - 1:
        return False
    before = link if hash_at < 0 else link[:hash_at]
    query_at = before.find("?")
    return query_at < 0 or query_at < len(before) - 1


def _link_and_url(link: str | None, feed_url: str | None) -> tuple[str | None, str | None]:
    """The entry's link resolved against the feed's URL, and its canonical form; neither when
    it is no URL at all (a port past 65535, a broken [IPv6] host): the entry stays, linkless."""
    if not link:
        return None, None
    try:
        if feed_url:
            link = link.strip()
            if not _plainly_absolute(link):
                link = urljoin(feed_url, link)
        return link, canonical_url(link)
    except ValueError:
        return None, None


def entry_to_article(entry: Any, feed_id: int, fetched_at: datetime, language_hint: str | None,
                     *, zone: str = "UTC", identity: str = "guid", feed_url: str | None = None,
                     guid_suffix: str = "", date_budget: DateBudget | None = None) -> Article:
    """One feedparser-shaped entry as an Article (not yet enriched)."""
    # dict.get: these keys have no aliases, and FeedParserDict.get looks for them first.
    get = dict.get
    title = html_to_text(get(entry, "title", "") or "")
    contents = get(entry, "content") or []
    raw_body = contents[0].get("value", "") if contents else ""
    raw_summary = get(entry, "summary", "") or ""
    link, url = _link_and_url(get(entry, "link") or None, feed_url)
    body_html = fit_body_html(sanitize_html(raw_body or raw_summary, base=link or feed_url))
    body_text = html_to_text(body_html)
    summary = html_to_text(raw_summary) if raw_body else ""
    guid = (get(entry, "id") or "").strip() or None
    authors = [a.get("name", "") for a in get(entry, "authors", []) or [] if a.get("name")]
    languages = [language_hint] if language_hint else None
    # dict.get: FeedParserDict.get("updated") silently falls back to "published".
    published = parse_date(dict.get(entry, "published"), zone=zone, fetched_at=fetched_at,
                           languages=languages, budget=date_budget)
    updated = parse_date(dict.get(entry, "updated"), zone=zone, fetched_at=fetched_at,
                         languages=languages, budget=date_budget)
    # The updated date stands in only when it was read; else the published one stays, raw
    # string and "unparsed" flag included.
    main = published if published.value or not updated.value else updated
    key_guid = guid if identity == "guid" else None
    key_link = link if identity in {"guid", "link"} else None
    if key_guid and guid_suffix:
        key_guid = f"{key_guid}\x1f{guid_suffix}"
    if url and not fits_url_column(url):
        url = None  # a cut link would lead to the wrong page; the entry is still the entry
    return Article(
        # Identity from the entry's own values; only what is stored is made to fit.
        id=article_id(feed_id, key_guid, key_link, fallback=title + "\n" + body_text),
        feed_id=feed_id,
        guid=_fit(guid, LIMITS["guid"]) if guid else None,
        url=url,
        title=_fit(title, LIMITS["title"]),
        summary=_fit(summary, LIMITS["summary"]),
        body_html=body_html,
        body_text=_fit(body_text, LIMITS["body_text"]),
        authors=[_fit(name, MAX_AUTHOR) for name in authors],
        language_hint=language_hint,
        published_at=main.value,
        updated_at=updated.value,
        fetched_at=fetched_at,
        content_hash=content_hash(title, body_text),
        published_raw=main.raw and _fit(main.raw, LIMITS["published_raw"]),
        updated_raw=updated.raw and _fit(updated.raw, LIMITS["updated_raw"]),
        date_flags=sorted(set(published.flags) | set(updated.flags)),
    )


def _json_string(data: dict[str, Any], key: str) -> str:
    """A JSON Feed string member; of another type (a number, a list, an object), none. A lone
    surrogate (JSON may escape one: "\\ud800") becomes "?": it is no character, and neither
    UTF-8 nor the database can carry it."""
    value = data.get(key)
    if not isinstance(value, str):
        return ""
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def _json_feed(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """A JSON Feed (1.0/1.1) as feedparser-shaped feed and entry dicts."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError("parse_error", f"unreadable JSON Feed: {exc}") from exc
    version = data.get("version", "") if isinstance(data, dict) else ""
    if not isinstance(version, str) or not version.startswith(JSON_FEED_PREFIX):
        raise ParseError("not_a_feed", "JSON document is not a JSON Feed")
    entries = []
    items = data.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors")
        if not isinstance(authors, list):
            authors = [item.get("author")]
        body = _json_string(item, "content_html") or html.escape(
            _json_string(item, "content_text"))
        # An id may be a number in the wild; the spec says string.
        guid = item.get("id")
        guid = str(guid) if isinstance(guid, int | float) else _json_string(item, "id")
        entries.append({
            "id": guid or None,
            "link": _json_string(item, "url") or _json_string(item, "external_url") or None,
            "title": html.escape(_json_string(item, "title")),
            "content": [{"value": body}] if body else [],
            "summary": html.escape(_json_string(item, "summary")),
            "authors": [{"name": _json_string(a, "name")} for a in authors
                        if isinstance(a, dict) and _json_string(a, "name")],
            "published": _json_string(item, "date_published") or None,
            "updated": _json_string(item, "date_modified") or None,
        })
    feed = {"title": html.escape(_json_string(data, "title")),
            "language": _json_string(data, "language")}
    return feed, entries, "json" + version.removeprefix(JSON_FEED_PREFIX).replace(".", "")


def _repaired(xml: bytes, given: dict[str, str]) -> Any | None:
    """feedparser's reading of ``xml`` once libxml2's recovering parser has closed the tags
    left open (None if it cannot). feedparser's loose parser runs an unclosed element on into
    the next entry; libxml2 closes it where its parent closes. Entities stay unresolved and the
    network unused (check_entities has run already)."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    return feedparser.parse(etree.tostring(root, encoding="utf-8", xml_declaration=True),
                            response_headers=given, sanitize_html=False,
                            resolve_relative_uris=False)


def _disambiguate(entries: list[Any], feed_url: str | None) -> list[str]:
    """A suffix per entry so a guid repeated in one document names distinct articles.

    The first entry with a guid keeps the plain id; later ones add their link (else their
    position among the repeats), so the same document always yields the same ids.
    """
    seen: Counter[str] = Counter()
    suffixes = []
    for entry in entries:
        guid = (entry.get("id") or "").strip()
        if not guid:
            suffixes.append("")
            continue
        seen[guid] += 1
        if seen[guid] == 1:
            suffixes.append("")
        else:
            try:
                link = canonical_url(urljoin(feed_url or "", entry.get("link") or "")) or ""
            except ValueError:  # no URL (see _link_and_url): the position alone tells it apart
                link = ""
            suffixes.append(f"{link}#{seen[guid]}")
    return suffixes


def parse_feed(body: bytes, *, feed_id: int, url: str, headers: dict[str, str] | None = None,
               language_hint: str | None = None, fetched_at: datetime | None = None,
               zone: str = "UTC", identity: str = "guid") -> ParsedFeed:
    """Parse feed bytes into Articles; raise ParseError when there is no feed to read.

    ``zone``: IANA name (or ``+03:00``) assumed for dates that carry none. ``identity``: the
    feed's identity rule, ``guid`` (guid, else link, else content), ``link`` or ``content``.
    """
    if identity not in IDENTITY_RULES:
        raise ValueError(f"identity rule {identity!r} is not one of {IDENTITY_RULES}")
    fetched_at = fetched_at or datetime.now(UTC)
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    decoded = decode_document(body, response_headers.get("content-type"))
    stripped = decoded.text.lstrip()
    if stripped.startswith("{"):
        feed, entries, version = _json_feed(stripped)
        bozo: Exception | None = None
    else:
        try:
            check_entities(decoded.text)
        except UnsafeXML as exc:
            raise ParseError("unsafe_xml", f"refused: {exc}") from exc
        # We decoded already: feedparser must see UTF-8 and no conflicting charset. No
        # Content-Location either: feedparser would resolve guids against it, and an id must
        # not change when the feed's URL does. Links are resolved by entry_to_article.
        given = {"content-type": "application/xml; charset=utf-8"}
        if "content-language" in response_headers:
            given["content-language"] = response_headers["content-language"]
        xml = as_utf8_xml(decoded)
        parsed = feedparser.parse(xml, response_headers=given, sanitize_html=False,
                                  resolve_relative_uris=False)
        bozo = parsed.bozo_exception if parsed.bozo else None
        # A tag left open: libxml2's repair keeps the entries after it. Only then: for a stray
        # '&' or '<' the loose parser is the better reader (it keeps the character).
        if bozo is not None and "mismatched tag" in str(bozo):
            repaired = _repaired(xml, given)
            if repaired is not None and len(repaired.entries) >= len(parsed.entries):
                parsed = repaired
        # An empty document has no version key at all (a 200 with no body).
        feed, entries, version = parsed.feed, parsed.entries, parsed.get("version", "")
        if not entries:
            if not version:
                raise ParseError("not_a_feed", "the document is not RSS, Atom or JSON Feed")
            if bozo is not None and not isinstance(bozo, _HARMLESS):
                raise ParseError("parse_error", f"unreadable feed: {bozo}")
    declared = re.split(r"[-_]", (feed.get("language") or "").strip())[0].lower()
    hint = language_hint or (declared if declared.isalpha() and len(declared) <= 3 else None)
    title = _fit(html_to_text(feed.get("title", "") or ""), MAX_FEED_TITLE)
    result = ParsedFeed(title=title, encoding=decoded.encoding,
                        encoding_source=decoded.source, format=version, meta=dict(feed))
    if bozo is not None:
        result.warning = str(bozo)
    date_budget = DateBudget()  # one per document
    for entry, suffix in zip(entries, _disambiguate(entries, url), strict=True):
        try:
            article = entry_to_article(entry, feed_id, fetched_at, hint, zone=zone,
                                       identity=identity, feed_url=url, guid_suffix=suffix,
                                       date_budget=date_budget)
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
            result.skipped += 1
            continue
        if not (article.title or article.url or article.guid or article.body_text):
            result.skipped += 1  # an empty shell (e.g. items illegally nested in items)
            continue
        result.articles.append(article)
        result.date_flags.update(
            article.date_flags or (["parsed"] if article.published_at else ["missing"]))
    return result
