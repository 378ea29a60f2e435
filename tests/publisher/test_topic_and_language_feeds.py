"""Per-topic and per-language feeds, and ninjs subjects from the categorizer."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import articles as article_store
from wiredesk.store.feeds import add_feed


@pytest.fixture
def samples(celery_app: Any, database: Any) -> None:
    put_rules_in_force(database, PUBLISH_EVERYTHING)
    for name in ("world-wire.xml", "arabic-wire.xml", "french-atom.xml"):
        url = f"http://127.0.0.1/{name}"
        with database.session() as session:
            feed_id = add_feed(session, url, trust="auto").id
        parsed = parse_feed((SAMPLE_FEEDS_DIR / name).read_bytes(), feed_id=feed_id, url=url)
        with database.session() as session:
            for article in parsed.articles:
                article_store.upsert(session, article)
        for article in parsed.articles:
            process_article(celery_app.wiredesk, article.id)


def test_language_feeds(publisher: Any, samples: None) -> None:
    arabic = feedparser.parse(publisher.get("/feeds/lang/ar.atom").data)
    assert len(arabic.entries) == 2
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in e.title) for e in arabic.entries)
    assert len(publisher.get("/feeds/lang/fr.json").get_json()["items"]) == 1
    assert feedparser.parse(publisher.get("/feeds/lang/ja.rss").data).entries == []


def test_language_tags_are_case_insensitive(publisher: Any, samples: None) -> None:
    """BCP 47 tags are case-insensitive (RFC 5646 2.1.1): /feeds/lang/AR.atom was empty."""
    assert len(feedparser.parse(publisher.get("/feeds/lang/AR.atom").data).entries) == 2
    assert len(publisher.get("/feeds/lang/Fr.json").get_json()["items"]) == 1


def test_topic_feeds_carry_iptc_categories(publisher: Any, samples: None) -> None:
    economy = feedparser.parse(publisher.get("/feeds/topic/04000000.atom").data)
    titles = [e.title for e in economy.entries]
    assert "Central bank holds interest rates steady as inflation cools" in titles
    entry = economy.entries[titles.index(
        "Central bank holds interest rates steady as inflation cools")]
    terms = {(t.term, t.scheme) for t in entry.tags}
    assert ("medtop:04000000", "http://cv.iptc.org/newscodes/mediatopic/") in terms
    sport = feedparser.parse(publisher.get("/feeds/topic/medtop:15000000.rss").data)
    assert [e.title for e in sport.entries] == [
        "Marathon runner sets course record in rain-soaked race"]
    assert publisher.get("/feeds/topic/99999999.atom").status_code == 404


def test_ninjs_subjects_in_the_story_language(publisher: Any, samples: None) -> None:
    stories = publisher.get("/api/v1/stories").get_json()["data"]
    book_fair = next(s for s in stories if "معرض الكتاب" in s["headlines"][0]["value"])
    subject = book_fair["subjects"][0]
    assert subject["uri"] == "http://cv.iptc.org/newscodes/mediatopic/01000000"
    assert subject["name"] == "فنون، ثقافة وترفيه"  # IPTC's Arabic label
    assert 0 < subject["relevance"] <= 100


def test_feeds_say_each_story_s_language(publisher: Any, samples: None) -> None:
    """Atom and RSS said nothing of a story's language, so a reader showing the mixed feed
    could not tell the Arabic stories (right to left) from the English ones, and the Arabic
    feed did not say it was Arabic."""
    from lxml import etree

    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    atom = etree.fromstring(publisher.get("/feeds/all.atom").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    languages = {entry.findtext("a:title", namespaces=ns): entry.get(xml_lang)
                 for entry in atom.iterfind("a:entry", ns)}
    assert languages["Central bank holds interest rates steady as inflation cools"] == "en"
    assert sorted(lang for title, lang in languages.items()
                  if any("\u0600" <= ch <= "\u06ff" for ch in title)) == ["ar", "ar"]
    rss = feedparser.parse(publisher.get("/feeds/all.rss").data)
    assert {e.title: e.get("language") for e in rss.entries}[
        "Central bank holds interest rates steady as inflation cools"] == "en"
    assert etree.fromstring(publisher.get("/feeds/lang/ar.atom").data).get(xml_lang) == "ar"
    assert feedparser.parse(publisher.get("/feeds/lang/ar.rss").data).feed.language == "ar"
    assert publisher.get("/feeds/lang/ar.json").get_json()["language"] == "ar"


def test_rss_categories_carry_the_qcode_and_the_label(publisher: Any, samples: None) -> None:
    """RSS has one text per <category>: feedgen put the label there and only the scheme in
    domain, so an RSS reader could not tell which IPTC topic a story had."""
    from xml.etree import ElementTree

    channel = ElementTree.fromstring(publisher.get("/feeds/topic/04000000.rss").data)
    item = next(i for i in channel.iter("item") if i.findtext("title", "").startswith("Central"))
    categories = {(c.get("domain"), c.text) for c in item.iter("category")}
    assert ("http://cv.iptc.org/newscodes/mediatopic/04000000", "economy, business and finance"
            ) in categories


def test_a_regional_language_tag_finds_its_language(publisher: Any, samples: None) -> None:
    """Stories carry the primary language subtag (``en``), so /feeds/lang/en-GB was always
    empty; as RFC 4647 lookup does, a longer tag falls back to its language. A path that is no
    BCP 47 tag at all (letters of another script) answered an empty feed instead of 404."""
    english = publisher.get("/feeds/lang/en.json").get_json()
    regional = publisher.get("/feeds/lang/en-GB.json").get_json()
    assert regional["items"] and regional["items"] == english["items"]
    assert regional["language"] == "en"
    assert publisher.get("/feeds/lang/\u0639\u0631\u0628\u064a.atom").status_code == 404
    assert publisher.get("/feeds/lang/en-.atom").status_code == 404


@pytest.mark.parametrize("path", ["/feeds/lang/xx.atom", "/feeds/lang/zz-ZZ.json",
                                  "/feeds/lang/ara.rss", "/feeds/lang/english.atom",
                                  "/feeds/lang/und.atom", "/feeds/lang/zxx.json",
                                  "/feeds/lang/mul.rss", "/feeds/lang/mis.atom"])
def test_a_language_that_does_not_exist_answers_404(publisher: Any, path: str) -> None:
    """A well-formed tag of no language (a typo, ISO 639-2 ``ara`` where stories carry BCP 47's
    ``ar``) answered an empty feed, 200, for ever: a reader subscribed to it saw no error and
    no story. Like an unknown topic, it is no feed of this publisher. So are ISO 639's special
    codes (``und`` undetermined, ``zxx`` no linguistic content, ``mul``, ``mis``): no story
    is ever stored in one."""
    assert publisher.get(path).status_code == 404


def test_a_language_without_stories_yet_is_an_empty_feed(publisher: Any) -> None:
    """A real language (BCP 47 keeps 3 letters for languages without a 2-letter code) is a
    feed, empty until a story in it is published."""
    for path in ("/feeds/lang/de.atom", "/feeds/lang/yue.json", "/feeds/lang/sr-Latn.rss",
                 "/feeds/lang/zh-Hant.atom", "/feeds/lang/es-419.json", "/feeds/lang/fil.rss"):
        assert publisher.get(path).status_code == 200, path


def test_the_front_page_keeps_its_own_words_out_of_a_story_s_language(
        publisher: Any, samples: None) -> None:
    """The date and "1 source:" line of an Arabic story sat inside the story's
    ``lang="ar" dir="auto"``: a browser laid that English line out right to left (the colon
    and the time landed on the wrong side of the outlet's name) and a screen reader read it
    with an Arabic voice. The story's copy carries its language and direction; the page's own
    words stay English, left to right, and an outlet's name is isolated (``<bdi>``)."""
    from lxml import html

    page = html.fromstring(publisher.get("/").data)
    arabic = [a for a in page.iter("article") if "\u0645\u0639\u0631\u0636" in a.text_content()]
    assert arabic
    for article in arabic:
        headline = article.find(".//h2")
        copy = next(e for e in headline.iterancestors() if e.get("lang"))
        assert copy.get("lang") == "ar" and copy.get("dir") in ("rtl", "auto")
        meta = article.find_class("meta")[0]
        language = next(e.get("lang") for e in meta.iterancestors() if e.get("lang"))
        assert language == "en"
        assert all(e.get("dir") in (None, "ltr") for e in [meta, *meta.iterancestors()])
        assert [b.text for b in meta.iter("bdi")] == ["http://127.0.0.1/arabic-wire.xml"]
