"""Encodings through the real HTTP path: what a server's Content-Type says against the feed's own
evidence (BOM, XML declaration, the bytes)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.helpers import FeedHTTPServer
from wiredesk.config import Config
from wiredesk.ingester.fetch import fetch, make_client
from wiredesk.ingester.parse import ParsedFeed, parse_feed

CONFIG = Config(fetch_allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                fetch_read_timeout=5.0, fetch_connect_timeout=2.0)
RU = "Правительство одобрило законопроект о налоговой реформе"


@pytest.fixture(scope="module")
def server() -> Iterator[FeedHTTPServer]:
    shared = FeedHTTPServer()
    yield shared
    shared.stop()


def fetched(server: FeedHTTPServer, path: str, body: bytes, content_type: str) -> ParsedFeed:
    url = server.serve(path, body, content_type)
    with make_client(CONFIG) as client:
        result = fetch(client, url, CONFIG)
    return parse_feed(result.body, feed_id=1, url=result.url, headers=result.headers)


def rss(title: str, declaration: str) -> str:
    return (f'<?xml version="1.0" encoding="{declaration}"?><rss version="2.0"><channel>'
            f"<title>{title}</title><item><guid>1</guid><title>{title}</title></item>"
            "</channel></rss>")


@pytest.mark.parametrize("label", ["ISO-8859-1", "iso-8859-1", "us-ascii", "windows-1252"])
def test_a_servers_default_western_charset_does_not_override_the_declaration(
        label: str, server: FeedHTTPServer) -> None:
    """Apache's AddDefaultCharset (and RFC 3023's text/xml) label every feed ISO-8859-1 or
    US-ASCII; a windows-1251 feed declaring itself so must not turn into mojibake."""
    body = rss(RU, "windows-1251").encode("cp1251")
    feed = fetched(server, "/ru-" + label, body, f"application/rss+xml; charset={label}")
    assert (feed.title, feed.articles[0].title) == (RU, RU)
    assert feed.encoding_source == "declaration"


def test_a_deliberate_header_charset_still_wins_over_the_declaration(
        server: FeedHTTPServer) -> None:
    body = rss(RU, "iso-8859-5").encode("koi8-r")  # the declaration is wrong, the header right
    feed = fetched(server, "/koi8", body, "text/xml; charset=koi8-r")
    assert feed.articles[0].title == RU and feed.encoding_source == "http"


UNDECLARED = {
    "polish-iso-8859-2": ("Rząd przyjął projekt ustawy o zmianie podatków. Minister finansów "
                          "zapowiedział, że nowe przepisy wejdą w życie od przyszłego roku. "
                          "Opozycja krytykuje pośpiech. Źródło: PAP, Łódź, Gdańsk, Kraków.",
                          "iso-8859-2"),
    "polish-windows-1250": ("Rząd przyjął projekt ustawy o zmianie podatków. Minister finansów "
                            "zapowiedział, że nowe przepisy wejdą w życie od przyszłego roku. "
                            "Opozycja krytykuje pośpiech. Źródło: PAP, Łódź, Śląsk.", "cp1250"),
    "czech-iso-8859-2": ("Vláda schválila návrh zákona o změně daní. Ministr financí oznámil, "
                         "že nová pravidla vstoupí v platnost od příštího roku. Opozice "
                         "kritizuje spěch. Zdroj: ČTK, Brno, Ostrava, Plzeň, Žďár.", "iso-8859-2"),
    "czech-windows-1250": ("Vláda schválila návrh zákona o změně daní. Ministr financí oznámil, "
                           "že nová pravidla vstoupí v platnost od příštího roku. Opozice "
                           "kritizuje spěch. Zdroj: ČTK, Brno, Ostrava, Plzeň, Žďár.", "cp1250"),
    "turkish-iso-8859-9": ("Hükümet vergi reformu tasarısını onayladı. Maliye bakanı yeni "
                           "kuralların gelecek yıldan itibaren yürürlüğe gireceğini söyledi. "
                           "Muhalefet eleştiriyor. İstanbul, Şanlıurfa, Iğdır, Çanakkale.",
                           "iso-8859-9"),
    "french-windows-1252": ("Le gouvernement a présenté un projet de loi sur la réforme fiscale. "
                            "Le ministre a déclaré que les nouvelles règles entreront en vigueur "
                            "l’année prochaine. Les syndicats dénoncent « une précipitation ».",
                            "cp1252"),
    "german-iso-8859-1": ("Die Regierung hat den Gesetzentwurf zur Steuerreform gebilligt. Der "
                          "Finanzminister erklärte, die neuen Regeln träten im kommenden Jahr in "
                          "Kraft. Die Opposition kritisiert die Eile. Größere Änderungen folgen.",
                          "iso-8859-1"),
}


@pytest.mark.parametrize("case", UNDECLARED)
def test_undeclared_legacy_encodings_read_in_the_right_script(case: str,
                                                              server: FeedHTTPServer) -> None:
    """No charset in the header and no XML declaration: detection must find the code page, not
    a cousin that turns 'Rząd przyjął' into 'Rzḟd przyjḟġ' or 'tasarısını' into 'tasarýsýný'."""
    text, codec = UNDECLARED[case]
    items = "".join(f"<item><guid>{n}</guid><title>{text[:50]}</title>"
                    f"<description>{text}</description></item>" for n in range(3))
    body = f'<rss version="2.0"><channel><title>{text[:40]}</title>{items}</channel></rss>'
    feed = fetched(server, "/" + case, body.encode(codec), "application/rss+xml")
    assert feed.encoding_source == "detected"
    assert [a.body_text for a in feed.articles] == [text] * 3


FR = "Le gouvernement a présenté la réforme fiscale : « une étape décisive », selon le ministre"


@pytest.mark.parametrize("text", [FR, RU], ids=["fr", "ru"])
@pytest.mark.parametrize("content_type", ["application/rss+xml; charset=utf-8",
                                          "application/rss+xml",
                                          "application/rss+xml; charset=ISO-8859-1"])
def test_one_stray_byte_does_not_turn_a_utf8_feed_into_mojibake(text: str, content_type: str,
                                                                server: FeedHTTPServer) -> None:
    """One entry pasted from Word (a windows-1252 apostrophe, byte 0x92) made the whole UTF-8
    document invalid UTF-8: detection then read every entry as cp932 or gb18030."""
    good = "".join(f"<item><guid>{n}</guid><title>{text}</title></item>" for n in range(5))
    body = (rss("T", "utf-8").split("<item>")[0].encode() + good.encode()
            + b"<item><guid>word</guid><title>It\x92s a quote</title></item></channel></rss>")
    feed = fetched(server, f"/stray-{len(text)}-{content_type[-5:]}", body, content_type)
    titles = {a.guid: a.title for a in feed.articles}
    assert titles == {**{str(n): text for n in range(5)}, "word": "It’s a quote"}
