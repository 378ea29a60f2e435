"""Atom and RSS documents stay valid whatever text the feeds brought in."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

import feedparser
import pytest
from lxml import etree

from tests.helpers import publish_first_entry, store_sample_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.publisher.syndication import excerpt

ATOM = "{http://www.w3.org/2005/Atom}"

# Wire copy carries control characters (a vertical tab from a word processor, an ESC from a
# terminal, U+FFFE): feedparser keeps them, and XML 1.0 cannot hold them.
CONTROL_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid>ctl-1</guid><title>Port strike \x01ends\x1b after \ufffethree days</title>"
    "<description>Dock workers\x0b returned to work on Monday after the union and port "
    "operators agreed a new pay deal.\x01</description><author>desk\x02</author></item>"
    "</channel></rss>"
).encode()


def test_control_characters_in_copy_do_not_break_the_xml_feeds(
        celery_app: Any, database: Any, publisher: Any) -> None:
    publish_first_entry(celery_app, database, CONTROL_FEED, "http://127.0.0.1/control.xml")
    for path in ("/feeds/all.atom", "/feeds/all.rss"):
        response = publisher.get(path)
        assert response.status_code == 200, path
        etree.fromstring(response.data)  # well-formed
        entries = feedparser.parse(response.data).entries
        assert [e.title for e in entries] == ["Port strike ends after three days"]


def test_every_atom_entry_has_an_author(celery_app: Any, database: Any, publisher: Any) -> None:
    """RFC 4287 4.1.1: a feed without an author needs one in every entry; the sample wire's
    entries name none."""
    for article_id in store_sample_feed(database):
        process_article(celery_app.wiredesk, article_id)
    feed = etree.fromstring(publisher.get("/feeds/all.atom").data)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    if feed.find(f"{ATOM}author") is None:
        for entry in entries:
            name = entry.find(f"{ATOM}author/{ATOM}name")
            assert name is not None and name.text, etree.tostring(entry)


def test_country_categories_do_not_claim_to_be_wikidata_items(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """Countries are tagged by ISO 3166 code: `MY` in the Wikidata scheme named an item that
    does not exist (http://www.wikidata.org/entity/MY), where ninjs says it is a literal."""
    for article_id in store_sample_feed(database):
        process_article(celery_app.wiredesk, article_id)
    entries = feedparser.parse(publisher.get("/feeds/all.atom").data).entries
    tags = [(t.term, t.scheme) for e in entries for t in e.tags]
    assert ("MY", "urn:iso:std:iso:3166") in tags
    assert all(term.startswith("Q") for term, scheme in tags
               if scheme == "http://www.wikidata.org/entity/")


FLASH_FEED = (
    b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    b"<item><guid isPermaLink='false'>flash-1</guid><title>FLASH: strong quake hits the coast"
    b" of Chile, magnitude 7.1, the national seismology centre says</title></item>"
    b"</channel></rss>"
)


def test_a_headline_only_flash_is_a_valid_atom_entry(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """RFC 4287 4.1.1: an entry without content must have an alternate link. A wire flash
    (a headline, no link, no body) had neither, feedgen refused it, and /feeds/all.atom
    answered 500 while the flash was among the newest stories."""
    publish_first_entry(celery_app, database, FLASH_FEED, "http://127.0.0.1/flash.xml")
    response = publisher.get("/feeds/all.atom")
    assert response.status_code == 200
    entry = etree.fromstring(response.data).find(f"{ATOM}entry")
    alternate = [link for link in entry.findall(f"{ATOM}link")
                 if link.get("rel", "alternate") == "alternate"]
    assert entry.find(f"{ATOM}content") is not None or alternate, etree.tostring(entry)


@pytest.mark.parametrize("body", [FLASH_FEED, "script"])
def test_an_entry_with_no_source_link_links_readers_to_its_page(
        celery_app: Any, database: Any, publisher: Any, body: Any) -> None:
    """A story whose source gave no (usable) link: a headline alone was linked to its ninjs
    document (JSON, which a feed reader opens as text), one with a body to nothing. Readers
    get the story's page, /stories/<id>, in every feed format."""
    publish_first_entry(celery_app, database, SCRIPT_LINK_FEED if body == "script" else body,
                        "http://127.0.0.1/nolink.xml")
    (story,) = publisher.get("/api/v1/stories").get_json()["data"]
    page = story["uri"].replace("/api/v1/stories/", "/stories/")
    atom = etree.fromstring(publisher.get("/feeds/all.atom").data).find(f"{ATOM}entry")
    alternate = [link.get("href") for link in atom.findall(f"{ATOM}link")
                 if link.get("rel", "alternate") == "alternate"]
    assert alternate == [page]
    assert feedparser.parse(publisher.get("/feeds/all.rss").data).entries[0].link == page
    assert publisher.get("/feeds/all.json").get_json()["items"][0]["url"] == page
    assert publisher.get("/stories/" + page.rsplit("/", 1)[1]).status_code == 200


SCRIPT_LINK_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>js-1</guid><link>javascript:alert(document.cookie)</link>"
    "<title>وزراء آسيان يتفقون على شبكة إقليمية للإنذار من الفيضانات</title>"
    "<description>اتَّفَقَ وزراء خارجية رابطة دول جنوب شرق آسيا يوم الخميس على ربط أنظمة "
    "الإنذار الوطنية من الفيضانات.</description></item></channel></rss>"
).encode()


def test_an_entry_link_that_is_no_web_address_is_not_published(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """A feed's item linked to ``javascript:alert(...)``: the Atom link, the RSS link and the
    JSON Feed url carried it, and a reader that opens an item's link ran the script."""
    publish_first_entry(celery_app, database, SCRIPT_LINK_FEED, "http://127.0.0.1/js.xml")
    for path in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json"):
        body = publisher.get(path).data.decode()
        assert "javascript:" not in body, path
        assert "وزراء آسيان يتفقون" in body, path
    entry = feedparser.parse(publisher.get("/feeds/all.atom").data).entries[0]
    assert all(link.href.startswith("http") for link in entry.get("links", []))


BYLINE_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
    "xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>by-1</guid><link>http://127.0.0.1/ar/by-1</link>"
    "<title>افتتاح معرض الكتاب الدولي بمشاركة ٤٠٠ دار نشر</title>"
    "<dc:creator>مُحَمَّد الأمين &amp; سارة</dc:creator>"
    "<description>افتُتح اليوم معرض الكتاب الدولي بمشاركة ٤٠٠ دار نشر من ٣٠ دولة، ويستمر "
    "المعرض أسبوعين.</description></item></channel></rss>"
).encode()


def test_rss_items_carry_their_bylines(celery_app: Any, database: Any, publisher: Any) -> None:
    """RSS 2.0's <author> takes an e-mail address, so feedgen wrote none for a name alone:
    every RSS item went out without its byline (Atom and JSON Feed had it)."""
    publish_first_entry(celery_app, database, BYLINE_FEED, "http://127.0.0.1/by.xml")
    item = feedparser.parse(publisher.get("/feeds/all.rss").data).entries[0]
    assert item.get("author") == "مُحَمَّد الأمين & سارة"


def test_rss_entity_categories_name_their_wikidata_item(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """An RSS <category> holds one text (the name) and a domain: a domain of the bare scheme
    (http://www.wikidata.org/entity/) left the item's id out, so `ASEAN` named no item."""
    for article_id in store_sample_feed(database):
        process_article(celery_app.wiredesk, article_id)
    channel = etree.fromstring(publisher.get("/feeds/all.rss").data)
    domains = [c.get("domain") for c in channel.iter("category")]
    wikidata = [d for d in domains if d.startswith("http://www.wikidata.org/entity/")]
    assert wikidata, domains
    assert all(d.rsplit("/", 1)[1].startswith("Q") for d in wikidata), wikidata


def test_rss_country_categories_keep_their_iso_code(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """RSS country categories went out as <category domain="urn:iso:std:iso:3166">Malaysia
    </category>: the domain named only the standard, so an RSS reader had the name and no code
    (Atom's term had it). The domain now carries the code, as topics' and Wikidata items' do."""
    for article_id in store_sample_feed(database):
        process_article(celery_app.wiredesk, article_id)
    channel = etree.fromstring(publisher.get("/feeds/all.rss").data)
    countries = {c.get("domain"): c.text for c in channel.iter("category")
                 if c.get("domain", "").startswith("urn:iso:std:iso:3166")}
    assert countries.get("urn:iso:std:iso:3166:MY") == "Malaysia", countries
    assert "urn:iso:std:iso:3166" not in countries
    atom_tags = [(t.term, t.scheme) for e in feedparser.parse(
        publisher.get("/feeds/all.atom").data).entries for t in e.tags]
    assert ("MY", "urn:iso:std:iso:3166") in atom_tags  # Atom: scheme and term apart, as before


CONTROL_LINK_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>ctl-link-1</guid>"
    "<link>http://127.0.0.1/ar/\u0645\u0639\u0631\u0636\x01-\x0bbook-fair</link>"
    "<title>افتتاح معرض الكتاب الدولي</title><description>افتُتح اليوم معرض الكتاب الدولي."
    "</description></item></channel></rss>"
).encode()


def test_a_control_character_in_an_entry_link_does_not_break_the_xml_feeds(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The text was cleaned of what XML cannot hold, the link was not: one story whose link
    had a control character made /feeds/all.atom and /feeds/all.rss answer 500."""
    publish_first_entry(celery_app, database, CONTROL_LINK_FEED, "http://127.0.0.1/ctl.xml")
    for path in ("/feeds/all.atom", "/feeds/all.rss"):
        response = publisher.get(path)
        assert response.status_code == 200, path
        entry = feedparser.parse(response.data).entries[0]
        assert entry.link == "http://127.0.0.1/ar/\u0645\u0639\u0631\u0636%01-%0Bbook-fair", path


VOWELLED_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>vowelled-1</guid><title>اتفاق وزراء آسيان</title>"
    f"<description>{'اتَّفَقَ ' * 100}</description></item></channel></rss>"
).encode()


def test_excerpts_do_not_cut_a_letter_from_its_diacritics(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The Atom summary and the front page show the first characters of a story without a
    summary: cut by code point, a vowelled Arabic word lost the diacritic of its last letter
    (or a shadda kept its letter's vowel off). An excerpt ends between two letters."""
    publish_first_entry(celery_app, database, VOWELLED_FEED, "http://127.0.0.1/vowels.xml")
    story = publisher.get("/api/v1/stories").get_json()["data"][0]
    text = next(b["value"] for b in story["bodies"] if b["contentType"] == "text/plain")
    assert unicodedata.combining(text[500]) and unicodedata.combining(text[300])  # premise
    atom_summary = feedparser.parse(publisher.get("/feeds/all.atom").data).entries[0].summary
    page = publisher.get("/").data.decode()
    front_page_excerpt = re.search(r"</h2>\s*<p>(.*?)</p>", page, re.S).group(1)
    for shown in (atom_summary, front_page_excerpt):
        assert shown.endswith("\u2026")
        shown = shown.removesuffix("\u2026")
        assert text.startswith(shown) and 250 < len(shown) <= 500
        assert not unicodedata.combining(text[len(shown)]), shown[-10:]


ENGLISH = ("The central bank held its main rate on Thursday, as economists had widely "
           "expected, and its new forecasts every quarter since spring show inflation easing.")
CHINESE = ("东盟外长星期四同意把各国的洪水预警系统连接起来，以便在暴雨来临之前更早地向下游国家发出警报。"
           "这一网络将首先覆盖湄公河流域。")
ARABIC = ("اتفق وزراء خارجية رابطة دول جنوب شرق آسيا يوم الخميس على ربط أنظمة الإنذار "
          "الوطنية من الفيضانات، لتنبيه الدول الواقعة في مجرى الأنهار في وقت أبكر.")
VOWELLED = "اتَّفَقَ الوُزَرَاءُ عَلَى رَبْطِ أَنْظِمَةِ الإِنْذَارِ " * 8


@pytest.mark.parametrize("text, limit", [
    (ENGLISH, 80), (ENGLISH, 95), (ARABIC, 60), (ARABIC, 100), (VOWELLED, 150),
    (VOWELLED, 200)])
def test_excerpts_end_at_a_word_boundary_with_an_ellipsis(text: str, limit: int) -> None:
    """The front page read 'its new forecasts ev' (the Atom summary likewise): cut by
    character count, mid-word, and nothing said the text went on. An excerpt now ends with a
    whole word and an ellipsis, within the limit."""
    cut = excerpt(text, limit)
    assert cut.endswith("\u2026") and len(cut) <= limit
    shown = cut.removesuffix("\u2026")
    assert text.startswith(shown) and len(shown) > limit // 2
    last = shown.split()[-1]
    assert last in {word.rstrip(",،") for word in text.split()}  # whole, with its marks
    assert last.rstrip(",،") == last  # and no comma left dangling before the ellipsis


# French sets a no-break space before ":" ";" "?" "!" and inside guillemets.
FRENCH = ("Le ministre a déclaré\u00a0: «\u00a0la réforme entrera en vigueur dès janvier\u00a0», "
          "selon l'agence\u00a0; les syndicats demandent\u00a0: pourquoi si tôt\u00a0?")


def test_an_excerpt_ends_on_no_space_of_any_kind() -> None:
    """French copy cut just after 'déclaré\u00a0:' read 'déclaré …': the colon was dropped
    before the ellipsis but the no-break space before it was not (nor an ideographic one), and
    the ellipsis stood apart from the word, on the same line."""
    for limit in range(20, len(FRENCH)):
        cut = excerpt(FRENCH, limit)
        shown = cut.removesuffix("\u2026")
        assert shown and not shown[-1].isspace() and shown[-1] not in ":;", (limit, cut)
    assert excerpt("記者会見\u3000" + "x" * 40, 10) == "記者会見\u2026"


def test_an_excerpt_of_copy_without_spaces_ends_between_two_characters() -> None:
    """Chinese has no spaces between words: the excerpt is cut between two characters, close
    to the limit (not back at the last space, which may be far or nowhere)."""
    cut = excerpt(CHINESE, 30)
    assert cut == CHINESE[:29] + "\u2026"
    mixed = "新华社 " + CHINESE
    assert excerpt(mixed, 30) == mixed[:29] + "\u2026"


def test_a_text_within_the_limit_is_whole_and_one_long_word_is_still_cut() -> None:
    assert excerpt(ENGLISH, len(ENGLISH)) == ENGLISH
    assert excerpt("", 10) == ""
    url = "See https://example.org/" + "a" * 300
    cut = excerpt(url, 100)
    assert len(cut) == 100 and cut.endswith("a\u2026")  # no word to end with: at a character


# Copy that shows markup as text (a story about a web attack quotes the script): the source
# escaped it twice, so the text itself reads "<script>...".
QUOTED_MARKUP_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>quoted-1</guid><title>هجوم على مواقع إخبارية</title>"
    "<description>حقن المهاجمون الشيفرة &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; "
    "في تعليقات القراء، وأرباح الشركة &amp;lt;5%.</description></item></channel></rss>"
).encode()


def test_plain_text_is_escaped_in_rss_descriptions(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """An RSS <description> is HTML to every reader; the plain-text summary went in unescaped,
    so copy quoting `<script>` gave readers a script element and `<5%` broke the markup."""
    publish_first_entry(celery_app, database, QUOTED_MARKUP_FEED, "http://127.0.0.1/q.xml")
    story = publisher.get("/api/v1/stories").get_json()["data"][0]
    text = next(b["value"] for b in story["bodies"] if b["contentType"] == "text/plain")
    assert "<script>alert(1)</script>" in text  # premise: the copy's own text
    description = etree.fromstring(publisher.get("/feeds/all.rss").data).find(
        "channel/item/description").text
    assert "<script" not in description
    assert html.unescape(description) == text


BIDI_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>bidi-1</guid><title>نتائج الماراثون</title><description>"
    "&lt;p&gt;فاز العداء &lt;bdi&gt;Eliud Kipchoge&lt;/bdi&gt;: 5 ساعات، ورقم السباق "
    "&lt;bdo dir='ltr'&gt;2:01:09&lt;/bdo&gt; لا يزال قائماً.&lt;/p&gt;</description></item>"
    "</channel></rss>"
).encode()


def test_bidi_isolation_and_override_reach_consumers(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """Arabic copy isolates Latin names with <bdi> and pins numbers' direction with <bdo>:
    the sanitizer dropped both, and `Eliud Kipchoge: 5` rendered reordered in every reader."""
    publish_first_entry(celery_app, database, BIDI_FEED, "http://127.0.0.1/bidi.xml")
    story = publisher.get("/api/v1/stories").get_json()["data"][0]
    body = next(b["value"] for b in story["bodies"] if b["contentType"] == "text/html")
    item = publisher.get("/feeds/all.json").get_json()["items"][0]
    atom_content = feedparser.parse(publisher.get("/feeds/all.atom").data,
                                    sanitize_html=False).entries[0].content[0].value
    for html_body in (body, item["content_html"], atom_content):
        assert "<bdi>Eliud Kipchoge</bdi>" in html_body
        assert '<bdo dir="ltr">2:01:09</bdo>' in html_body


def test_a_paid_feeds_password_is_not_published(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """Paid wires hand out feed URLs with a user and password in them. The ninjs infoSources
    (name and uri), the Atom author of an unsigned story and the front page showed that URL
    as it was registered, password and all."""
    publish_first_entry(celery_app, database, FLASH_FEED,
                         "http://wireuser:s3cret-pass@127.0.0.1/paid.xml")
    story_uri = publisher.get("/api/v1/stories").get_json()["data"][0]["uri"]
    paths = ["/api/v1/stories", "/api/v1/stories/" + story_uri.rsplit("/", 1)[1],
             "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/"]
    for path in paths:
        body = publisher.get(path).data.decode()
        assert "s3cret-pass" not in body and "wireuser" not in body, path
    sources = publisher.get("/api/v1/stories").get_json()["data"][0]["infoSources"]
    assert sources[0]["uri"] == "http://127.0.0.1/paid.xml"
