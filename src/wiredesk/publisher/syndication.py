"""Stories as Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from wiredesk.publisher.ninjs import WITHDRAWN_NOTE, iso, page_url, story_uri
from wiredesk.publisher.stories import KilledStory, StoryView

ENTITY_SCHEME = "http://www.wikidata.org/entity/"
COUNTRY_SCHEME = "urn:iso:std:iso:3166"  # countries are tagged by ISO 3166-1 alpha-2 code
ATOM_NS = "http://www.w3.org/2005/Atom"
# RFC 6721, Atom tombstones: a feed says an entry it held was deleted.
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
MEDIATOPIC_SCHEME = "http://cv.iptc.org/newscodes/mediatopic/"
# What XML 1.0 cannot hold. Feeds bring control characters in (feedparser keeps them), and
# one of them in one story made lxml refuse the whole Atom and RSS document.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


# In a link: what XML cannot hold, and the controls and spaces a browser would escape.
_NOT_IN_LINK = re.compile(r"[\x00-\x20\x7f]|" + _NOT_XML.pattern)


def web_url(url: str | None) -> str | None:
    """``url`` when it is a web address a reader may open (feeds also link items to
    ``javascript:`` or ``data:`` URLs, which a reader opening the link would run), with
    control characters percent-encoded as a browser would (lxml refuses them raw)."""
    if url and urlsplit(url).scheme.lower() in {"http", "https"}:
        return _NOT_IN_LINK.sub(lambda m: quote(m.group(), safe=""), url)
    return None


ELLIPSIS = "\u2026"
# What an excerpt does not end on before its ellipsis ("said,…"): punctuation (Latin, Arabic,
# CJK), and any space (\s: French sets a no-break one before ":", CJK an ideographic one).
_TRAILING = re.compile(r"[\s,;:\u060c\u061b\u3001\uff0c\uff1b\uff1a\-\u2013\u2014]+\Z")


def _between_letters(text: str, end: int) -> bool:
    """Whether a cut at ``end`` leaves every letter whole: not before a mark (an Arabic vowel
    or shadda, an accent), nor around a zero-width joiner."""
    return not (unicodedata.category(text[end]).startswith("M")
                or "\u200d" in text[end - 1:end + 1])


def _unspaced(char: str) -> bool:
    """A character of a script written without spaces between words (Chinese, Japanese kana,
    Thai, Lao, Khmer, Myanmar) or CJK punctuation: a line, and an excerpt, may end beside it."""
    code = ord(char)
    return (0x0E00 <= code <= 0x0EFF or 0x1000 <= code <= 0x109F or 0x1780 <= code <= 0x17FF
            or 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF
            or 0x20000 <= code <= 0x3FFFF)


def excerpt(text: str, limit: int) -> str:
    """``text`` whole when it has at most ``limit`` characters; else its start up to the end of
    a word and an ellipsis, ``limit`` characters at most. Copy without spaces between words
    (Chinese) ends between two characters; a cut never separates a letter from its marks."""
    if len(text) <= limit:
        return text
    end = max(limit - len(ELLIPSIS), 0)
    while 0 < end and not _between_letters(text, end):
        end -= 1
    cut = end
    while 0 < cut and not (text[cut].isspace() or text[cut - 1].isspace() or (
            (_unspaced(text[cut - 1]) or _unspaced(text[cut])) and _between_letters(text, cut))):
        cut -= 1
    if cut <= end // 2:  # no word ends in the second half (a long link): cut between letters
        cut = end
    shown = _TRAILING.sub("", text[:cut])
    return shown + ELLIPSIS if shown else ""


def _outlet(story: StoryView) -> str:
    """The name of the feed the story's canonical copy came from."""
    return next((s.feed_name for s in story.sources if s.article.id == story.canonical.id),
                story.sources[0].feed_name)


class _EntryLanguage(BaseEntryExtension):  # type: ignore[misc]
    """An Atom entry's ``xml:lang`` (RFC 4287 section 2): a feed mixes languages and scripts,
    and a reader needs each story's to show it (Arabic right to left)."""

    def __init__(self) -> None:
        self.language: str | None = None

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set("{http://www.w3.org/XML/1998/namespace}lang", self.language)
        return entry


class _RssHub(BaseExtension):  # type: ignore[misc]
    """The WebSub hub as an ``atom:link rel="hub"`` in an RSS channel (feedgen writes only the
    self link there), beside the one feedgen writes for the topic."""

    def __init__(self) -> None:
        self.hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        if self.hub:
            channel = rss_feed[0]
            items = channel.findall("item")
            link = etree.Element(f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
            # In the channel's head, before the items.
            channel.insert(channel.index(items[0]) if items else len(channel), link)
        return rss_feed


class _Tombstones(BaseExtension):  # type: ignore[misc]
    """Killed stories as RFC 6721 ``at:deleted-entry`` elements (``ref``: the entry's id, the
    story URI; ``when``: the kill), in an Atom feed or, the same namespaced element, an RSS
    channel (RSS has no tombstone of its own)."""

    def __init__(self) -> None:
        self.killed: Sequence[KilledStory] = ()
        self.base_url = ""

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES_NS}

    def _add(self, parent: Any) -> None:
        for story in self.killed:
            deleted = etree.SubElement(parent, f"{{{TOMBSTONES_NS}}}deleted-entry",
                                       ref=story_uri(self.base_url, story.id),
                                       when=iso(story.killed_at))
            etree.SubElement(deleted, f"{{{TOMBSTONES_NS}}}comment").text = WITHDRAWN_NOTE

    def extend_atom(self, atom_feed: Any) -> Any:
        self._add(atom_feed)
        return atom_feed

    def extend_rss(self, rss_feed: Any) -> Any:
        self._add(rss_feed[0])  # the channel
        return rss_feed


def _generator(stories: Sequence[StoryView], base_url: str, self_url: str,
               title: str, language: str | None, *, rss: bool = False,
               hub: str | None = None, killed: Sequence[KilledStory] = ()) -> FeedGenerator:
    fg = FeedGenerator()
    # Each story's language: xml:lang on Atom entries, dc:language on RSS items (RSS 2.0 has
    # only the channel's <language>, set when the whole feed is in one); bylines: dc:creator.
    fg.register_extension("entry_language", BaseExtension, _EntryLanguage, atom=True,
                          rss=False)
    fg.load_extension("dc", atom=False, rss=True)
    if language:
        fg.language(language)
    fg.id(self_url)
    fg.title(title)
    fg.link(href=self_url, rel="self")
    if hub:  # WebSub discovery in the document too (the Link header says the same)
        if rss:
            fg.register_extension("rss_hub", _RssHub, atom=False, rss=True)
            fg.rss_hub.hub = hub
        else:
            fg.link(href=hub, rel="hub")
    fg.link(href=base_url.rstrip("/") + "/", rel="alternate")
    fg.description(title)
    fg.generator("Wiredesk")
    fg.updated(max([*(s.updated_at for s in stories), *(k.killed_at for k in killed)],
                   default=datetime(2000, 1, 1, tzinfo=UTC)))
    if killed:
        fg.register_extension("tombstones", _Tombstones, atom=True, rss=True)
        fg.tombstones.killed, fg.tombstones.base_url = killed, base_url
    for story in reversed(stories):  # feedgen prepends: oldest first leaves newest on top
        article = story.canonical
        entry = fg.add_entry()
        entry.id(story_uri(base_url, story.id))
        entry.guid(story_uri(base_url, story.id), permalink=False)
        entry.title(_xml(article.title) or "(untitled)")
        # The source's page; without one, the story's own (a headline alone needs a link, as
        # Atom requires content or one). It was the ninjs document, JSON, which readers open as
        # text. (feedgen writes neither a link's rel, alternate by default, nor its type.)
        entry.link(href=web_url(article.url) or page_url(base_url, story.id), rel="alternate")
        if article.language:
            entry.entry_language.language = article.language
            entry.dc.dc_language(article.language)
        entry.published(story.published_at)
        entry.updated(story.updated_at)
        if article.summary or article.body_text:
            summary = _xml(article.summary or excerpt(article.body_text, 500))
            # An RSS <description> is HTML to readers; the Atom summary is text.
            entry.summary(html.escape(summary, quote=False) if rss else summary)
        if article.body_html:
            entry.content(_xml(article.body_html), type="html")
        for author in article.authors:
            entry.author(name=_xml(author))
            # RSS's <author> needs an e-mail address (feedgen writes none without): the byline
            # goes in dc:creator.
            entry.dc.dc_creator(_xml(author))
        if not article.authors:  # Atom needs an author per entry when the feed names none
            entry.author(name=_xml(_outlet(story)))
        for category in article.categories:
            # An RSS <category> holds one text (feedgen writes the label) and a domain: there
            # the topic's own URI carries the code, which the scheme alone left out.
            scheme = MEDIATOPIC_SCHEME + (category.qcode.split(":", 1)[1] if rss else "")
            entry.category(term=category.qcode, label=_xml(category.label), scheme=scheme)
        for entity in article.entities:
            country = entity.type == "country"
            scheme = COUNTRY_SCHEME if country else ENTITY_SCHEME
            if rss:  # the item's own URI (the code after the scheme), as for topics above
                scheme += (":" if country else "") + entity.id
            entry.category(term=_xml(entity.id), label=_xml(entity.name), scheme=_xml(scheme))
    return fg


def atom(stories: Sequence[StoryView], base_url: str, self_url: str, title: str,
         language: str | None = None, hub: str | None = None,
         killed: Sequence[KilledStory] = ()) -> bytes:
    """An Atom document; ``language``: the one every story is in (a language feed); ``hub``:
    the WebSub hub that pushes it; ``killed``: stories it says were withdrawn (tombstones)."""
    return _generator(stories, base_url, self_url, title, language, hub=hub,  # type: ignore[no-any-return]
                      killed=killed).atom_str(pretty=True)


def rss(stories: Sequence[StoryView], base_url: str, self_url: str, title: str,
        language: str | None = None, hub: str | None = None,
        killed: Sequence[KilledStory] = ()) -> bytes:
    return _generator(stories, base_url, self_url, title, language, rss=True,  # type: ignore[no-any-return]
                      hub=hub, killed=killed).rss_str(pretty=True)


# JSON Feed has no tombstone: an extension object (JSON Feed 1.1, "Extensions") lists them.
JSON_FEED_KILLED = "_wiredesk"


def json_feed(stories: Sequence[StoryView], base_url: str, self_url: str, title: str,
              language: str | None = None, hub: str | None = None,
              killed: Sequence[KilledStory] = ()) -> bytes:
    """A JSON Feed 1.1 document; ``killed`` stories are listed in its ``_wiredesk`` object's
    ``deleted_items`` (each the ``id`` its item had, and when it was withdrawn)."""
    items = []
    for story in stories:
        article = story.canonical
        item = {
            "id": story_uri(base_url, story.id),
            "title": article.title,
            "date_published": story.published_at.isoformat(),
            "date_modified": story.updated_at.isoformat(),
            "tags": [c.label for c in article.categories] + [e.name for e in article.entities],
        }
        item["url"] = web_url(article.url) or page_url(base_url, story.id)
        if article.body_html:
            item["content_html"] = article.body_html
        item["content_text"] = article.body_text or article.summary or article.title
        if article.summary:
            item["summary"] = article.summary
        if article.language:
            item["language"] = article.language
        if article.authors:
            item["authors"] = [{"name": a} for a in article.authors]
        items.append(item)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": base_url.rstrip("/") + "/",
        "feed_url": self_url,
        "items": items,
    }
    if language:
        doc["language"] = language
    if hub:
        doc["hubs"] = [{"type": "WebSub", "url": hub}]
    if killed:
        doc[JSON_FEED_KILLED] = {"deleted_items": [
            {"id": story_uri(base_url, k.id), "date_deleted": k.killed_at.isoformat(),
             "comment": WITHDRAWN_NOTE} for k in killed]}
    return json.dumps(doc, ensure_ascii=False).encode()
