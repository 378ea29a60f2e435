"""Feed bytes to text: which encoding a document is in, and whether its DTD is safe to read.

Order of evidence: a byte-order mark, then the HTTP charset, then the XML declaration, each taken
only if the bytes actually decode with it (a server's default Western label yields to a
declaration of another encoding); then detection (charset-normalizer). The result is
re-encoded as UTF-8 with a matching declaration, so feedparser (and expat, which refuses
multi-byte encodings such as GB2312) always reads UTF-8.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels real feeds use for a superset encoding (as browsers treat them, WHATWG Encoding).
SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "iso-8859-1": "cp1252",
    "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "iso-8859-9": "cp1254", "tis-620": "cp874", "shift_jis": "cp932", "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949", "big5": "big5hkscs",
}
# Labels servers attach to every response by default (Apache's AddDefaultCharset, RFC 3023's
# text/xml), not chosen for the document: a feed's own XML declaration of another encoding that
# the bytes decode with knows better (a windows-1251 feed served as ISO-8859-1 is the classic).
DEFAULT_LABELS = frozenset({"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii",
                            "windows-1252", "cp1252"})
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)

# Entity declarations are refused unless they are tiny and reference nothing: that shuts out
# billion laughs (nested references), quadratic blowup (one big entity used many times) and
# external entities (file://, http:// SYSTEM/PUBLIC identifiers), while feeds that declare
# `<!ENTITY nbsp "&#160;">` still read.
_ENTITY = re.compile(r"<!ENTITY\s+(%\s*)?([^\s>]+)\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.I)
_CHAR_REF = re.compile(r"^&#(\d+|x[0-9a-fA-F]+);$")
MAX_ENTITY_VALUE = 16
MAX_ENTITIES = 64


# Detection names the language of Latin-script text well but often picks a cousin of its code
# page (ISO-8859-14 or -10 for Polish ISO-8859-2, cp1252 for Turkish): for these languages the
# page is taken from the language instead, when the detected page is a Latin one.
_LATIN_PAGES = frozenset({
    "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "iso8859-1", "iso8859-2", "iso8859-3",
    "iso8859-4", "iso8859-9", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15",
    "iso8859-16", "mac-latin2", "mac-roman", "mac-turkish", "cp850", "cp852",
})
_CENTRAL_EUROPEAN = frozenset({"Polish", "Czech", "Slovak", "Hungarian", "Slovene", "Croatian",
                               "Romanian"})
_WINDOWS_ONLY_BYTES = re.compile(rb"[\x80-\x9f]")


def _page_for_language(body: bytes, language: str) -> str | None:
    if language in _CENTRAL_EUROPEAN:
        # windows-1250 keeps letters (ś, š, ž, ť) and quotes in 0x80-0x9F, where ISO-8859-2
        # has only control characters.
        return "cp1250" if _WINDOWS_ONLY_BYTES.search(body) else "iso8859-2"
    if language == "Turkish":
        return "cp1254"  # ISO-8859-9's letters, and printable 0x80-0x9F
    return None


class UnsafeXML(Exception):
    """The document declares entities that could expand or reach outside it."""


@dataclass
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    source: str  # bom | http | declaration | utf-8 | utf-8-repaired | detected | fallback


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _single_byte(codec: str) -> bool:
    return codec.startswith(("cp12", "iso8859", "latin", "koi8", "mac-", "cp8")) or codec == "ascii"


def _try(body: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


_STRAYS = re.compile("[\udc80-\udcff]+")  # invalid UTF-8 bytes, as surrogateescape keeps them


def _utf8_with_strays(body: bytes) -> str | None:
    """UTF-8 text holding a few bytes of another encoding (an entry pasted from Word: a
    windows-1252 apostrophe), those bytes read as windows-1252; None unless the valid
    non-ASCII UTF-8 characters outnumber the stray bytes (then it is no UTF-8 document)."""
    text = body.decode("utf-8", "surrogateescape")
    strays = sum(len(run) for run in _STRAYS.findall(text))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if not strays or non_ascii - strays <= strays:
        return None
    return _STRAYS.sub(lambda run: run.group().encode("utf-8", "surrogateescape").decode(
        "cp1252", "replace"), text)


def decode_document(body: bytes, content_type: str | None = None) -> Decoded:
    """The document's text, from the first trustworthy evidence of its encoding."""
    for bom, codec in BOMS:
        if body.startswith(bom):
            text = _try(body[len(bom):], codec)
            if text is not None:
                return Decoded(text, codec, "bom")
    utf8 = _try(body, "utf-8")
    utf8_source = "utf-8"
    if utf8 is None and not body.isascii():
        # One stray byte must not send a whole UTF-8 document to detection (which then
        # reads every entry as cp932 or gb18030).
        utf8, utf8_source = _utf8_with_strays(body), "utf-8-repaired"
    match = _CHARSET.search(content_type or "")
    declared = _XML_DECL.match(body[:1024])
    http_label = match and match.group(1)
    declared_label = declared and declared.group(1).decode("ascii")
    if http_label and declared_label and http_label.lower() in DEFAULT_LABELS:
        declared_codec = _codec(declared_label)
        if declared_codec not in (None, _codec(http_label)) and _try(body, declared_codec):
            http_label = None
    for source, label in (("http", http_label), ("declaration", declared_label)):
        codec = _codec(label)
        text = _try(body, codec)
        if codec is None or text is None:
            continue
        # A single-byte label decodes any bytes; valid non-ASCII UTF-8 is far stronger evidence
        # (servers default to ISO-8859-1 labels for UTF-8 feeds all the time).
        if utf8 is not None and _single_byte(codec) and not body.isascii():
            return Decoded(utf8, "utf-8", utf8_source)
        return Decoded(text, codec, source)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", utf8_source)
    matches = list(charset_normalizer.from_bytes(body))
    if matches:
        best = matches[0]
        page = _page_for_language(body, best.language)
        if page is not None and codecs.lookup(best.encoding).name in _LATIN_PAGES:
            text = _try(body, page)
            if text is not None:
                return Decoded(text, page, "detected")
        # Unlabeled Western text scores the same in several Latin code pages; take the web's
        # default among the equally good ones instead of the first.
        for candidate in matches:
            if candidate.encoding == "cp1252" and candidate.chaos <= best.chaos + 0.01:
                best = candidate
                break
        return Decoded(str(best), codecs.lookup(best.encoding).name, "detected")
    return Decoded(body.decode("cp1252", errors="replace"), "cp1252", "fallback")


def as_utf8_xml(decoded: Decoded) -> bytes:
    """The text as UTF-8 bytes whose XML declaration (if any) says so."""
    text = decoded.text
    head = _XML_DECL_TEXT.match(text)
    if head:
        text = '<?xml version="1.0" encoding="utf-8"?>' + text[head.end():]
    return text.encode("utf-8")


def check_entities(text: str) -> None:
    """Raise UnsafeXML if the document declares entities that are not tiny and self-contained."""
    if "<!ENTITY" not in text and "<!entity" not in text.lower():
        return
    declarations = _ENTITY.findall(text)
    if len(declarations) > MAX_ENTITIES:
        raise UnsafeXML(f"{len(declarations)} entity declarations (at most {MAX_ENTITIES})")
    if text.lower().count("<!entity") != len(declarations):
        raise UnsafeXML("an entity declaration that cannot be checked")
    for parameter, name, value in declarations:
        if parameter:
            raise UnsafeXML(f"parameter entity %{name} declared")
        if value.upper() in {"SYSTEM", "PUBLIC"}:
            raise UnsafeXML(f"external entity {name} declared")
        value = value[1:-1]
        if "&" in value and not _CHAR_REF.match(value):
            raise UnsafeXML(f"entity {name} references other entities")
        if len(value) > MAX_ENTITY_VALUE:
            raise UnsafeXML(f"entity {name} is {len(value)} characters long")
