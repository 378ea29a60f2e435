"""Format: encodings, hostile XML, dates, identity and HTML safety, on small hand-made feeds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from wiredesk.ingester.dates import parse_date
from wiredesk.ingester.encoding import decode_document
from wiredesk.ingester.parse import ParseError, parse_feed, sanitize_html

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def rss(items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>', channel: str = "") -> bytes:
    return (f'{head}<rss version="2.0"><channel><title>T</title><link>https://news.example/</link>'
            f"{channel}{items}</channel></rss>").encode()


def item(guid: str = "", link: str = "", title: str = "t", body: str = "b", date: str = "") -> str:
    parts = [f"<title>{title}</title>", f"<description>{body}</description>"]
    if guid:
        parts.append(f"<guid>{guid}</guid>")
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def parse(body: bytes, **kwargs):  # type: ignore[no-untyped-def]
    return parse_feed(body, feed_id=7, url="https://news.example/rss", fetched_at=NOW, **kwargs)


# --- hostile XML: refused with a clear outcome, never expanded

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"""
QUADRATIC = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "a" * 50_000 + '">]>'
             '<rss version="2.0"><channel><title>t</title><item><title>' + "&a;" * 20_000
             + "</title></item></channel></rss>")
EXTERNAL_FILE = """<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item></channel></rss>"""
EXTERNAL_HTTP = """<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % dtd SYSTEM "http://127.0.0.2/x.dtd"> %dtd;]>
<rss version="2.0"><channel><title>t</title><item><title>x</title></item></channel></rss>"""
PUBLIC_ENTITY = """<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x PUBLIC "-//X//EN" "http://127.0.0.2/x">]>
<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item></channel></rss>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, QUADRATIC, EXTERNAL_FILE, EXTERNAL_HTTP,
                                 PUBLIC_ENTITY], ids=["billion", "quadratic", "file", "http", "public"])
def test_entity_bombs_and_external_entities_are_refused(doc: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(doc.encode())
    assert err.value.outcome == "unsafe_xml" and "refused" in str(err.value)


def test_small_character_entities_still_read() -> None:
    doc = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY mdash "&#x2014;">]>'
           '<rss version="2.0"><channel><title>t</title><item><title>a&nbsp;b&mdash;c</title>'
           "<guid>g</guid></item></channel></rss>")
    assert parse(doc.encode()).articles[0].title == "a b\u2014c"  # text whitespace is normalized


def test_external_dtd_reference_is_not_fetched_but_feed_reads() -> None:
    doc = ('<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
           ' "http://127.0.0.2/rss-0.91.dtd"><rss version="0.91"><channel><title>t</title>'
           "<item><title>x</title><link>https://news.example/x</link></item></channel></rss>")
    assert [a.title for a in parse(doc.encode()).articles] == ["x"]


# --- encodings: header, BOM, declaration, then detection

def test_encoding_evidence_order() -> None:
    cyr = "Новости дня: правительство и парламент обсудили бюджет"
    body = f'<?xml version="1.0" encoding="windows-1251"?><rss><t>{cyr}</t></rss>'.encode("cp1251")
    assert decode_document(body).encoding == "cp1251"
    assert decode_document(body, "text/xml; charset=koi8-r").source == "http"  # header first
    assert decode_document(b"\xef\xbb\xbf" + cyr.encode(), "text/xml; charset=cp1251").source == "bom"
    # A wrong single-byte label on valid UTF-8 is overridden by the UTF-8 evidence.
    assert decode_document(cyr.encode(), "text/xml; charset=iso-8859-1").encoding == "utf-8"
    # No label and not UTF-8: detected.
    detected = decode_document(f"<rss><t>{cyr} {cyr}</t></rss>".encode("cp1251"))
    assert detected.source == "detected" and cyr in detected.text


def test_gb2312_and_latin1_without_declaration_read() -> None:
    zh = "国务院新闻办公室举行发布会"
    body = rss(item("g", title=zh), head='<?xml version="1.0" encoding="gb2312"?>')
    assert parse(body.decode().encode("gb18030")).articles[0].title == zh
    fr = "Élections : la réforme des retraites adoptée à l’Assemblée"
    latin = rss(item("g", title=fr.replace("’", "'")), head="").decode().encode("cp1252")
    assert parse(latin).articles[0].title == fr.replace("’", "'")


# --- dates

@pytest.mark.parametrize("raw, expected, flags", [
    ("Tue, 21 Aug 2012 10:33:00 EST", "2012-08-21T15:33:00", []),
    ("Wed, 17 Jan 2018 15:50:00 PST", "2018-01-17T23:50:00", []),
    ("Seg, 24 Set 2018 19:42:40 -0300", "2018-09-24T22:42:40", []),
    ("January, 29 Jan 2021 17:56:15 +0530", "2021-01-29T12:26:15", []),
    ("2019-05-18 10:58:46 +0300", "2019-05-18T07:58:46", []),
    ("2017-11-08T18:15:58-05:00", "2017-11-08T23:15:58", []),
    ("Tue, 15 Nov 2022 20:15:04 Z", "2022-11-15T20:15:04", []),
    ("2018-09-18 14:38:10", "2018-09-18T06:38:10", ["zone_assumed"]),  # read in Asia/Shanghai
    ("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T06:02:33", ["zone_assumed"]),
    ("Mon, 01 Jan 2035 00:00:00 GMT", "2024-06-01T12:00:00", ["future_clamped"]),
])
def test_dates_are_utc_with_the_original_kept(raw: str, expected: str, flags: list[str]) -> None:
    date = parse_date(raw, zone="Asia/Shanghai", fetched_at=NOW)
    assert date.value == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert date.raw == raw and date.flags == flags


def test_unreadable_date_is_flagged_not_invented() -> None:
    date = parse_date("the day after tomorrow-ish, maybe", fetched_at=NOW)
    assert date.value is None and date.flags == ["unparsed"]


@pytest.mark.parametrize("raw", [
    "N/A", "2023", "Jan 2023", "10:00",  # no day, month or year: dateparser took today's
    "yesterday", "2 hours ago", "vor 2 Stunden",  # relative to the machine's clock, not the feed
    "20230102T100000Z",  # read as a relative date: 1753
])
def test_a_partial_or_relative_date_is_flagged_not_invented(raw: str) -> None:
    date = parse_date(raw, fetched_at=NOW)
    assert (date.value, date.raw, date.flags) == (None, raw, ["unparsed"])
    article = parse(rss(item("g", date=raw))).articles[0]
    assert (article.published_at, article.published_raw) == (None, raw)


    article = parse(rss(item("g", date="the day after tomorrow-ish, maybe"))).articles[0]
    assert article.published_at is None
    assert article.published_raw == "the day after tomorrow-ish, maybe"
    assert article.date_flags == ["unparsed"]

def test_feed_zone_applies_to_entries() -> None:
    body = rss(item("g", date="2018-09-18 14:38:10"))
    article = parse(body, zone="Europe/Moscow").articles[0]
    assert article.published_at == datetime(2018, 9, 18, 11, 38, 10, tzinfo=UTC)
    assert article.published_raw == "2018-09-18 14:38:10" and article.date_flags == ["zone_assumed"]
    future = parse(rss(item("g", date="Mon, 01 Jan 2035 00:00:00 GMT"))).articles[0]
    assert future.published_at == NOW and future.date_flags == ["future_clamped"]


# --- identity

def test_identity_guid_then_link_then_content() -> None:
    body = rss(item("g1", "https://news.example/a?utm_source=x") + item(link="https://news.example/b?utm_medium=rss")
               + item(title="only text", body="words"))
    by_guid, by_link, by_content = parse(body).articles
    again = parse(rss(item("g1", "https://news.example/CHANGED") + item(
        link="https://news.example/b?fbclid=1") + item(title="only text", body="words"))).articles
    assert [a.id for a in again] == [by_guid.id, by_link.id, by_content.id]
    assert by_link.url == "https://news.example/b"
    assert len({by_guid.id, by_link.id, by_content.id}) == 3


def test_identity_rule_link_ignores_guids() -> None:
    a = parse(rss(item("urn:x:rotating-1", "https://news.example/a")), identity="link").articles[0]
    b = parse(rss(item("urn:x:rotating-2", "https://news.example/a")), identity="link").articles[0]
    assert a.id == b.id and a.guid == "urn:x:rotating-1"


def test_repeated_guid_in_one_document_keeps_both_deterministically() -> None:
    body = rss(item("urn:x:same", "https://news.example/1", title="one") + item(
        "urn:x:same", "https://news.example/2", title="two"))
    first, second = parse(body).articles
    assert first.id != second.id and first.guid == second.guid == "urn:x:same"
    assert [a.id for a in parse(body).articles] == [first.id, second.id]
    alone = parse(rss(item("urn:x:same", "https://news.example/1", title="one"))).articles[0]
    assert alone.id == first.id  # the first keeps the plain guid id


# --- HTML

def test_sanitizer_drops_active_content_and_trackers() -> None:
    raw = ('<p onclick="steal()" style="color:red">Hi <a href="javascript:alert(1)">x</a>'
           '<a href="/story/2">rel</a><img src="img/a.jpg" alt="photo">'
           '<img src="https://t.example/p.gif" width="1" height="1">'
           '<img src="https://pixel.wp.com/g.gif?x=1"><script>bad()</script>'
           '<style>p{}</style><iframe src="https://evil.example/"></iframe></p>')
    out = sanitize_html(raw, base="https://news.example/world/item.html")
    for banned in ("script", "style", "onclick", "javascript", "iframe", "p.gif", "pixel.wp.com",
                   "bad()"):
        assert banned not in out
    assert 'href="https://news.example/story/2"' in out
    assert 'src="https://news.example/world/img/a.jpg"' in out


def test_sanitizer_resolves_against_each_callers_base_across_threads() -> None:
    # One sanitizer serves every ingest thread; the base it resolves against is each caller's.
    def sanitize(k: int) -> list[bool]:
        base = f"https://site{k}.example/dir/"
        return [f'href="{base}story{i}"' in sanitize_html(f'<a href="story{i}">s</a>', base=base)
                for i in range(300)]

    with ThreadPoolExecutor(4) as pool:
        assert all(all(ok) for ok in pool.map(sanitize, range(8)))
    assert 'href="story"' in sanitize_html('<a href="story">s</a>')  # no base: left as is


def test_sanitizer_keeps_the_direction_of_mixed_copy() -> None:
    """An Arabic paragraph set right-to-left inside English copy (`<div dir="rtl">`, or a
    `<span dir="rtl">` quote) lost its direction: the sanitizer dropped div and span, dir and
    all, and the published HTML rendered it left-to-right. Only ltr, rtl and auto are kept."""
    arabic = "قال الوزير إن المحادثات ستستأنف"
    raw = (f'<p>The minister said:</p><div dir="rtl"><p>{arabic}</p></div>'
           f'<p>He added <span dir="RTL">{arabic}</span> and <span dir="auto">{arabic}</span>.</p>'
           '<div dir="sideways" lang="en">x</div><span dir="">y</span><p dir="rtl ltr">z</p>')
    out = sanitize_html(raw)
    assert f'<div dir="rtl"><p>{arabic}</p></div>' in out
    assert f'<span dir="rtl">{arabic}</span>' in out
    assert f'<span dir="auto">{arabic}</span>' in out
    assert "x" in out and "<div" not in out.split(arabic)[-1]  # no direction: no div
    assert "<span" not in out.split(arabic)[-1] and "<p>z</p>" in out
    # A plain div or span is unwrapped as before: no new block boundary in anyone's text.
    assert sanitize_html('<div class="a"><span>One</span><div>two</div></div>') == "Onetwo"


def test_json_feed_reads() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
            b'{"id": "1", "url": "https://news.example/1", "title": "One", '
            b'"content_html": "<p>Body <script>x()</script></p>", '
            b'"date_published": "2020-02-21T18:08:06+01:00"}]}')
    feed = parse(body)
    (article,) = feed.articles
    assert feed.format == "json11" and article.title == "One" and article.body_text == "Body"
    assert article.published_at == datetime(2020, 2, 21, 17, 8, 6, tzinfo=UTC)
    with pytest.raises(ParseError) as err:
        parse(b'{"hello": "world"}')
    assert err.value.outcome == "not_a_feed"


def test_links_taken_as_they_are_are_those_urljoin_would_keep() -> None:
    """The shortcut past urljoin for absolute links never changes a link (hence an id)."""
    import random
    from urllib.parse import urljoin

    from wiredesk.ingester.parse import _plainly_absolute

    pieces = [*"ab/?#;:.%@=&\\ \t\n-_~[]", "//", "x.com", "%20", "::1", "http://"]
    rng = random.Random(3)
    taken = 0
    for _ in range(20000):
        link = (rng.choice(["http://", "https://", "http://x.com", "https://a.b:8080"])
                + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))).strip()
        if _plainly_absolute(link):
            taken += 1
            for base in ("http://f.example/d/rss?x#y", "https://f.example/rss"):
                assert urljoin(base, link) == link, link
    assert taken > 1000
    assert _plainly_absolute("https://example.org/story/1?utm_source=rss")
    for link in ("http://", "http:///x", "http://a/x?", "http://a/x#", "http://a/x?#y",
                 "http://a/x;", "http://[::1/x", "/relative"):
        assert not _plainly_absolute(link), link


def test_feedparser_dicts_copy_as_deepcopy_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse.py gives copy.deepcopy a direct way to copy feedparser's dicts (feedparser copies
    one for every title and description): the copy must still be deep and keep the type."""
    import copy

    import feedparser

    def generic_copy(self: object, protocol: int) -> object:
        raise AssertionError("copied through __reduce_ex__: the direct way is not registered")

    # The generic way (what deepcopy does with no entry for the type) would pass the checks
    # below too; barred, they also fail when parse.py's registration goes.
    monkeypatch.setattr(feedparser.FeedParserDict, "__reduce_ex__", generic_copy)
    original = feedparser.FeedParserDict(
        {"type": "text/html", "language": None, "base": "http://127.0.0.1/",
         "tags": [feedparser.FeedParserDict({"term": "x"})]})
    copied = copy.deepcopy(original)
    assert type(copied) is feedparser.FeedParserDict and copied == original
    assert copied["tags"] is not original["tags"]
    assert type(copied["tags"][0]) is feedparser.FeedParserDict
    assert copied.category == "x"  # FeedParserDict's aliases still work on the copy


@pytest.mark.parametrize("raw, languages, expected", [
    ("Wed, 10 Apr 2024 09:15:00 AST", ["ar"], "2024-04-10T06:15:00"),  # Arabia, +03:00
    ("Wed, 10 Apr 2024 09:15:00 CST", ["zh"], "2024-04-10T01:15:00"),  # China, +08:00
    ("Wed, 10 Apr 2024 09:15:00 CST", ["en"], "2024-04-10T15:15:00"),  # US Central, -06:00
    ("Wed, 10 Apr 2024 09:15:00 AST", None, "2024-04-10T13:15:00"),  # Atlantic, -04:00
])
def test_a_zone_name_is_read_as_the_feeds_language_means_it(
        raw: str, languages: list[str] | None, expected: str) -> None:
    """AST and CST each name two zones. Gulf outlets write AST for Arabia (+03:00) and Chinese
    ones CST for China (+08:00); read as Atlantic and US Central, their stories were dated
    seven and fourteen hours off."""
    date = parse_date(raw, fetched_at=NOW, languages=languages)
    assert date.value == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert date.flags == []
