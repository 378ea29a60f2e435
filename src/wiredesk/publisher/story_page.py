"""A story's HTML page for readers (``/stories/<id>``): what the template shows, from the story
as consumers see it. The copy keeps its language and direction; the page's own words are
English, left to right."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from wiredesk.ingester.parse import sanitize_html
from wiredesk.publisher.ninjs import page_url, story_uri
from wiredesk.publisher.stories import StoryView
from wiredesk.publisher.syndication import web_url

# Languages written right to left (BCP 47 primary subtags), and scripts, for a tag that names
# one ("ku-Arab", "az-Arab").
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr",
                           "ug", "ur", "yi"})
RTL_SCRIPTS = frozenset({"adlm", "arab", "hebr", "nkoo", "rohg", "syrc", "thaa"})


def direction(language: str | None) -> str:
    """HTML's ``dir`` for copy in ``language``: rtl or ltr, auto when the language is unknown."""
    if not language:
        return "auto"
    subtags = language.lower().replace("_", "-").split("-")
    script = next((s for s in subtags[1:] if len(s) == 4 and s.isalpha()), None)
    if script:
        return "rtl" if script in RTL_SCRIPTS else "ltr"
    return "rtl" if subtags[0] in RTL_LANGUAGES else "ltr"


def html_time(value: datetime) -> str:
    """A ``<time datetime>`` value (HTML takes at most three digits of a second: none here)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SourceLine:
    """One report of the story: the outlet, and the report's headline, linked when it has a web
    address."""

    outlet: str
    title: str
    url: str | None
    language: str | None
    direction: str


@dataclass
class Topic:
    qcode: str
    label: str  # in the story's language when IPTC has one


@dataclass
class StoryPage:
    id: str
    url: str  # canonical
    ninjs_url: str
    headline: str
    language: str | None
    direction: str
    published_at: datetime
    updated_at: datetime | None  # when consumers saw a later version
    place: str | None
    agency: str | None
    byline: str
    body_html: Markup | None  # the body as published, sanitized again here
    paragraphs: list[str]  # plain text, when there is no HTML body
    sources: list[SourceLine]
    topics: list[Topic]


def view(story: StoryView, base_url: str) -> StoryPage:
    """The page of ``story`` (the canonical report's copy, every report as a source)."""
    article = story.canonical
    dateline = article.dateline
    # Sanitized at every way in (feeds, full text, editors' edits); again here, as the desk
    # does: the page is served from the publisher's own origin.
    body = Markup(sanitize_html(article.body_html)) if article.body_html else None
    text = article.body_text or article.summary or ""
    return StoryPage(
        id=story.id,
        url=page_url(base_url, story.id),
        ninjs_url=story_uri(base_url, story.id),
        headline=article.title or "(untitled)",
        language=article.language,
        direction=direction(article.language),
        published_at=story.published_at,
        updated_at=story.updated_at if story.version > 1 else None,
        place=dateline.place if dateline else None,
        agency=dateline.agency if dateline else None,
        byline=", ".join(article.authors),
        body_html=body,
        paragraphs=[] if body else [line for line in text.splitlines() if line.strip()],
        sources=[SourceLine(s.feed_name, s.article.title or "(untitled)", web_url(s.article.url),
                            s.article.language, direction(s.article.language))
                 for s in story.sources],
        topics=[Topic(c.qcode, c.label) for c in article.categories],
    )
