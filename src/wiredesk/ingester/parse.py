"""Format: feed bytes in, Articles out. feedparser does the reading; we decide identity,
dates, and what HTML is safe to keep. Never given a URL: transport is ``fetch.py``'s job."""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
import nh3

from wiredesk.identity import article_id, canonical_url, content_hash
from wiredesk.schemas import Article

# What body HTML may keep: structure and links, nothing that runs or tracks.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "li", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title"}, "abbr": {"title"},
    "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "*": {"dir", "lang"},
}
_BLOCK_BOUNDARY = re.compile(r"(?i)<\s*(/?(p|div|br|li|h[1-6]|tr|blockquote|pre|figure)\b)[^>]*>")


# Complaints feedparser makes about feeds it read correctly anyway.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class ParseError(Exception):
    """The body is not a readable feed; ``outcome`` is parse_error or not_a_feed."""

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


def sanitize_html(raw: str) -> str:
    """Allow-listed HTML: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(
        raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
    )


def html_to_text(raw: str) -> str:
    """Readable plain text of an HTML fragment, paragraphs kept as blank-line breaks."""
    marked = _BLOCK_BOUNDARY.sub("\n", raw)
    text = html.unescape(nh3.clean(marked, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def _utc(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def entry_to_article(entry: Any, feed_id: int, fetched_at: datetime,
                     language_hint: str | None) -> Article:
    """One feedparser entry as an Article (not yet enriched)."""
    title = html_to_text(entry.get("title", "") or "")
    contents = entry.get("content") or []
    raw_body = contents[0].get("value", "") if contents else ""
    raw_summary = entry.get("summary", "") or ""
    body_html = sanitize_html(raw_body or raw_summary)
    body_text = html_to_text(body_html)
    summary = html_to_text(raw_summary) if raw_body else ""
    link = entry.get("link")
    guid = (entry.get("id") or "").strip() or None
    authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    # dict.get: FeedParserDict.get("updated_parsed") silently falls back to published_parsed.
    published, updated = dict.get(entry, "published_parsed"), dict.get(entry, "updated_parsed")
    return Article(
        id=article_id(feed_id, guid, link, fallback=title + "\n" + body_text),
        feed_id=feed_id,
        guid=guid,
        url=canonical_url(link),
        title=title,
        summary=summary,
        body_html=body_html,
        body_text=body_text,
        authors=authors,
        language_hint=language_hint,
        published_at=_utc(published) or _utc(updated),
        updated_at=_utc(updated),
        fetched_at=fetched_at,
        content_hash=content_hash(title, body_text),
    )


def parse_feed(body: bytes, *, feed_id: int, url: str, headers: dict[str, str] | None = None,
               language_hint: str | None = None, fetched_at: datetime | None = None) -> ParsedFeed:
    """Parse feed bytes into Articles; raise ParseError when there is no feed to read."""
    fetched_at = fetched_at or datetime.now(UTC)
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    parsed = feedparser.parse(body, response_headers=response_headers, sanitize_html=False,
                              resolve_relative_uris=True)
    if not parsed.entries:
        if not parsed.version:
            raise ParseError("not_a_feed", "the document is not RSS, Atom or JSON Feed")
        if parsed.bozo and not isinstance(parsed.bozo_exception, _HARMLESS):
            raise ParseError("parse_error", f"unreadable feed: {parsed.bozo_exception}")
    hint = language_hint or (parsed.feed.get("language") or "").split("-")[0].lower() or None
    result = ParsedFeed(title=html_to_text(parsed.feed.get("title", "") or ""), meta=parsed.feed)
    if parsed.bozo:
        result.warning = str(parsed.bozo_exception)
    for entry in parsed.entries:
        try:
            result.articles.append(entry_to_article(entry, feed_id, fetched_at, hint))
        except (ValueError, TypeError, KeyError, OverflowError):
            result.skipped += 1
    return result
