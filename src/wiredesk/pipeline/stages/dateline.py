"""Dateline stage: where, when and by which agency a wire story was filed, read from the opening
of its body (`KUALA LUMPUR, July 10 (Xinhua) --`, `吉隆坡7月10日电`, `МОСКВА, 3 марта. /ТАСС/.`).

The place resolves through the gazetteer, the date through dateparser in the article's language.
The parser also returns the body without its dateline, which dedupe shingles so that the same
story filed from two bureaus still matches; the displayed body is never changed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from wiredesk.pipeline.stages import gazetteer as gazetteer_module
from wiredesk.pipeline.stages.gazetteer import Entry, Gazetteer
from wiredesk.schemas import Article, Dateline
from wiredesk.text.normalize import normalize

HEAD_CHARS = 240  # a dateline sits in the first line; never look further
# Combining marks belong to the word they sit on: Arabic tashkeel (القَاهِرَة), accents sent
# decomposed (NFD). `\w` alone stops at them.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
_WORD = rf"[^\W\d_](?:[^\W\d_]|[{_MARKS}])*"
_DASH = r"(?:--|[-–—])"
# A month name; the Levantine كانون/تشرين months take two words ("كانون الثاني" = January).
_MONTH = rf"(?:(?:كانون|تشرين)[ \t]+{_WORD}|{_WORD})"
# Direction marks, embeddings/isolates, zero-width space and BOM that feeds put before the first
# word (Arabic copy often opens with U+200F): skipped like spaces.
_LEAD = "[ \t\u200b\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]*"
_LATIN_ETC = re.compile(
    rf"""
    ^{_LEAD}
    # "ST. LOUIS": a dot, then a space; dpa's "Frankfurt/Main": a slash between two words
    (?P<place>{_WORD}(?:(?:[ '’\-/]|\.[ ]?){_WORD}){{0,3}})
    (?:[ \t]*[,،][ \t]*(?P<region>{_WORD}(?:[ .\-]{_WORD}){{0,2}})\b)?
    (?:[ \t]*[,،]?[ \t]*\b(?P<date>
        \d{{1,2}}(?:er)?\.?[ \t]+(?:de[ \t]+)?{_MONTH}\.?(?:[ \t]*/[ \t]*{_MONTH})?
        (?:[ \t]+(?:de[ \t]+)?\d{{4}})?
      | {_WORD}\.?[ \t]+\d{{1,2}}(?:,?[ \t]+\d{{4}})?
    ))?
    [ \t]*[.,،]?[ \t]*
    (?:
        (?:{_DASH}[ \t]*)?
        (?:\([ \t]*(?P<agency>[^()\n]{{1,40}}?)[ \t]*\)|/[ \t]*(?P<agency2>[^/\n]{{1,40}}?)[ \t]*/)
        [ \t]*(?P<close>\.?{_DASH}|[:.])?  # "(EFE).-" closes most Spanish-language datelines
        (?:(?=\s|$)|(?<=[-–—])(?=\w))  # "(CNN)-أعلنت": after an agency, the dash may touch
      | (?:{_DASH} | :)(?=\s|$)
    )
    \s*
    """,
    re.VERBOSE,
)
# "مسقط في 29 أبريل": the place pattern takes في ("in") as a last word; it is not the place's.
_ARABIC_IN = re.compile(r"[ \t]+في$")
# The agency after the dash, closed by a colon, dot or dash: "القدس - أ ف ب:", "МОСКВА, 3 марта
# – РИА Новости." Only a known agency counts; anything else is the body's first words.
# The agency may name its correspondent after a comma: "– РИА Новости, Иван Иванов."
_AGENCY_AFTER = re.compile(rf"(?P<agency>[^\n:.()/\-–—]{{1,60}}?)[ \t]*(?:{_DASH}|[:.])(?=\s|$)\s*")
# The Saudi Press Agency dates by both calendars and signs unbracketed after the Gregorian
# date: "الرياض 15 ذو الحجة 1446 هـ الموافق 11 يونيو 2025 م واس". The Hijri date is skipped.
_BOTH_CALENDARS = re.compile(
    rf"^{_LEAD}(?P<place>{_WORD}(?:[ \t]+{_WORD}){{0,2}}?)[ \t]*[،,]?[ \t]+"
    rf"\d{{1,2}}[ \t]+{_WORD}(?:[ \t]+{_WORD})?[ \t]+\d{{4}}[ \t]*(?:هـ|ه)?[ \t]*[،,]?[ \t]*"
    rf"الموافق[ \t]+(?P<date>\d{{1,2}}[ \t]+{_MONTH}[ \t]+\d{{4}})[ \t]*م?\.?(?=[ \t\n])"
)
# Interfax: "Москва. 3 марта. INTERFAX.RU - ": dots after place and date, the agency (a known
# one) before the dash.
_DOTTED = re.compile(
    rf"^{_LEAD}(?P<place>{_WORD}(?:[ \-]{_WORD}){{0,2}})\.[ \t]+(?P<date>\d{{1,2}}[ \t]+{_WORD})\."
    rf"[ \t]+(?P<agency>[^\n\-–—]{{1,30}}?)[ \t]*{_DASH}(?=\s)\s*"
)
_WORD_AT = re.compile(rf"[ \t]*({_WORD})")
_CLOSE = re.compile(rf"[ \t]*(?:{_DASH}|[:.])?(?=\s|$)\s*")
# "(Reuters) - ", "(CNN)--": the agency alone, the place left out. A known agency, or an
# unknown one in capitals that names nothing else in the gazetteer ("(WHO) -" is no agency).
_AGENCY_ONLY = re.compile(
    rf"^{_LEAD}\([ \t]*(?P<agency>[^()\n]{{1,40}}?)[ \t]*\)[ \t]*{_DASH}(?=\s|\w)\s*"
)
# SANA and MENA put place and agency on a line of their own, nothing after the agency:
# "دمشق-سانا", "مسقط - أ ش أ". Only a known agency counts.
_OWN_LINE = re.compile(
    rf"^{_LEAD}(?P<place>{_WORD}(?:[ '’]{_WORD}){{0,2}})[ \t]*{_DASH}[ \t]*"
    r"(?P<agency>[^\n:.()/\-–—]{1,30}?)[ \t]*\n\s*"
)
_CJK = re.compile(
    rf"^\s*{_LEAD}\s*"
    r"""
    (?:本[报報]\s*|[据據]\s*)?  # "this paper": 本报北京7月10日电 is Beijing; 据: "according to"
    (?:(?P<agency>新华社|中新社|中新网|新华网|人民网|路透社|法新社|美联社|塔斯社|共同社
        |新華社|中新網|新華網|人民網|美聯社|中央社)\s*)?
    (?P<place>[\u4e00-\u9fff]{2,8}?)?\s*  # none in "中新网7月10日电"
    (?P<date>(?:(?P<year>\d{4})年)?(?P<month>\d{1,2})月(?P<day>\d{1,2})日)\s*
    (?:电|讯|消息|電|訊)  # traditional: Taiwan, Hong Kong
    (?:\s*[（(][^）)\n]{1,30}[）)])?
    \s*
    """,
    re.VERBOSE,
)


# Kickers the wires print in capitals where a dateline would stand ("BREAKING: ...",
# "EXCLUSIVE - ..."): without an agency they are not places. Compared normalize()d.
_KICKERS = frozenset(
    normalize(kicker)
    for kicker in (
        "breaking", "breaking news", "exclusive", "analysis", "explainer", "factbox", "update",
        "urgent", "flash", "alert", "live", "watch", "video", "photo", "photos", "pictures",
        "graphic", "opinion", "editorial", "comment", "review", "interview", "correction",
        "corrected", "note to editors", "warning", "advisory",
        "exclusif", "en direct", "alerte", "analyse", "décryptage", "tribune",
        "urgente", "exclusiva", "última hora", "en vivo", "en directo", "análisis",
        "срочно", "молния", "эксклюзив", "онлайн", "мнение", "анализ",
    )
)


# Month names dateparser does not read, as the Egyptian/Gulf names it does: Syriac (Syria,
# Lebanon, Jordan, Iraq), French-derived (Algeria, Tunisia) and Moroccan. "تموز/يوليو" then
# folds to one "يوليو".
_REGIONAL_MONTHS = tuple(
    (re.compile(rf"(?<!\w){pattern}(?!\w)"), month)
    for pattern, month in (
        (r"كانون[ \t]+ال[ثت]اني", "يناير"), (r"كانون[ \t]+ال[أاإ]ول", "ديسمبر"),
        (r"تشرين[ \t]+ال[ثت]اني", "نوفمبر"), (r"تشرين[ \t]+ال[أاإ]ول", "أكتوبر"),
        (r"شباط", "فبراير"), (r"[آأا]ذار", "مارس"), (r"نيسان", "أبريل"), (r"[أا]يار", "مايو"),
        (r"حزيران", "يونيو"), (r"تموز", "يوليو"), (r"[آأا]ب", "أغسطس"), (r"[أا]يلول", "سبتمبر"),
        (r"جانفي", "يناير"), (r"فيفري", "فبراير"), (r"[أا]فريل", "أبريل"), (r"ماي", "مايو"),
        (r"جوان", "يونيو"), (r"جويلي[ةه]", "يوليو"), (r"[أا]وت", "أغسطس"),
        (r"يوليوز", "يوليو"), (r"غشت", "أغسطس"), (r"شتنبر", "سبتمبر"), (r"نونبر", "نوفمبر"),
        (r"دجنبر", "ديسمبر"),
    )
)
_PAIRED_MONTH = re.compile(r"(\w+)[ \t]*/[ \t]*\1")


def _standard_months(text: str) -> str:
    for pattern, month in _REGIONAL_MONTHS:
        text = pattern.sub(month, text)
    return _PAIRED_MONTH.sub(r"\1", text)


def _reference(published: datetime | None) -> datetime:
    return (published or datetime.now(UTC)).replace(tzinfo=None)


def _parse_date(text: str, language: str | None, published: datetime | None) -> str | None:
    import dateparser

    settings = {
        "PREFER_DATES_FROM": "past",
        "RELATIVE_BASE": _reference(published) + timedelta(days=1),
        "REQUIRE_PARTS": ["day", "month"],
    }
    languages = [language] if language else None
    try:
        parsed = dateparser.parse(_standard_months(text), languages=languages, settings=settings)
    except Exception:  # dateparser raises on languages it lacks; a dateline date is optional
        parsed = None
    return parsed.date().isoformat() if parsed else None


def _cjk_date(
    month: int, day: int, published: datetime | None, year: int | None = None
) -> str | None:
    reference = _reference(published).date()
    try:
        guess = date(year or reference.year, month, day)
        if not year and guess > reference + timedelta(days=1):  # filed in December, out in January
            guess = date(reference.year - 1, month, day)
    except ValueError:
        return None
    return guess.isoformat()


_POSSESSIVE = re.compile(r"(?<=['’])S\b")


# Turkish pairs dotted İ/i and dotless I/ı; str.lower() makes İ an "i" plus a combining dot.
_TURKISH_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_TURKISH_UPPER = {"i": "İ", "ı": "I"}
_WORD_START = re.compile(r"(?<!\w)\w")


def _display(place: str, language: str | None) -> str:
    if not place.isupper():
        return place
    if language == "tr" or "İ" in place:  # "DİYARBAKIR" -> "Diyarbakır"
        lower = place.translate(_TURKISH_LOWER).lower()
        return _WORD_START.sub(lambda m: _TURKISH_UPPER.get(m[0], m[0].upper()), lower)
    # str.title() capitalises after an apostrophe: "COX'S BAZAR" -> "Cox'S Bazar".
    return _POSSESSIVE.sub("s", place.title())


def _agency_at(gaz: Gazetteer, head: str, pos: int) -> tuple[Entry, int] | None:
    """A known agency of up to three words printed from ``pos``, and where its dateline ends."""
    ends: list[int] = []
    for _ in range(3):
        word = _WORD_AT.match(head, ends[-1] if ends else pos)
        if not word:
            break
        ends.append(word.end())
    for end in reversed(ends):  # the longest name first: "وكالة الأنباء السعودية" before "وكالة"
        entry = gaz.resolve(head[pos:end].strip(), ("agency",))
        close = _CLOSE.match(head, end)
        if entry and close:
            return entry, close.end()
    return None


def _known_agency_dateline(
    gaz: Gazetteer, place: str, language: str | None, day: str | None, agency: Entry, printed: str,
    context: str,
) -> Dateline:
    """A dateline whose agency the gazetteer knows; the place resolved when it can be."""
    entry = gaz.resolve(place, ("place", "country"), context)
    return Dateline(
        place=entry.name if entry else _display(place, language),
        place_id=entry.id if entry else None,
        date=day,
        agency=agency.name,
        text=printed.strip(),
    )


def parse_dateline(
    text: str,
    language: str | None,
    *,
    published: datetime | None = None,
    gazetteer: Gazetteer | None = None,
    context: str | None = None,
) -> tuple[Dateline | None, str]:
    """The dateline at the start of ``text`` (None if there is none) and ``text`` without it.
    A place name two places share is resolved by ``context`` (by default ``text``): "TRIPOLI,
    Lebanon", "طرابلس (لبنان)", or Lebanon named in the story."""
    gaz = gazetteer or gazetteer_module.load()
    context = text if context is None else context
    head = text[:HEAD_CHARS]
    cjk = _CJK.match(head)
    if cjk:
        entry = gaz.resolve(cjk["place"], ("place", "country"), context) if cjk["place"] else None
        agency_entry = gaz.resolve(cjk["agency"], ("agency",)) if cjk["agency"] else None
        dateline = Dateline(
            place=entry.name if entry else cjk["place"],
            place_id=entry.id if entry else None,
            date=_cjk_date(int(cjk["month"]), int(cjk["day"]), published,
                           int(cjk["year"]) if cjk["year"] else None),
            agency=agency_entry.name if agency_entry else cjk["agency"],
            text=cjk.group(0).strip(),
        )
        return dateline, text[cjk.end() :]
    both = _BOTH_CALENDARS.match(head)
    signed = _agency_at(gaz, head, both.end()) if both else None
    if both and signed:
        agency_entry, end = signed
        day = _parse_date(both["date"], language, published)
        place = _ARABIC_IN.sub("", both["place"])
        dateline = _known_agency_dateline(
            gaz, place, language, day, agency_entry, head[:end], context
        )
        return dateline, text[end:]
    dotted = _DOTTED.match(head)
    agency_entry = gaz.resolve(dotted["agency"], ("agency",)) if dotted else None
    if dotted and agency_entry:
        day = _parse_date(dotted["date"], language, published)
        dateline = _known_agency_dateline(
            gaz, dotted["place"], language, day, agency_entry, dotted.group(0), context
        )
        return dateline, text[dotted.end() :]
    alone = _AGENCY_ONLY.match(head)
    if alone:
        agency_entry = gaz.resolve(alone["agency"], ("agency",))
        printed = alone["agency"]
        if agency_entry or (
            printed.isupper() and normalize(printed) not in _KICKERS and not gaz.resolve(printed)
        ):
            dateline = Dateline(
                place=None, place_id=None, date=None,
                agency=agency_entry.name if agency_entry else printed,
                text=alone.group(0).strip(),
            )
            return dateline, text[alone.end() :]
    own_line = _OWN_LINE.match(head)
    if own_line:
        place = own_line["place"]
        entry = gaz.resolve(place, ("place", "country"), context)
        agency_entry = gaz.resolve(own_line["agency"], ("agency",))
        # An unknown place of three words is more likely a sentence than a town.
        if agency_entry and (entry or len(place.split()) <= 2):
            dateline = _known_agency_dateline(
                gaz, place, language, None, agency_entry, own_line.group(0), context
            )
            return dateline, text[own_line.end() :]
    match = _LATIN_ETC.match(head)
    if not match:
        return None, text
    place = _ARABIC_IN.sub("", match["place"])
    agency = match["agency"] or match["agency2"]
    slashed = False
    if "/" in place and not agency:  # "بيت لحم/PNN-": the agency after the slash, not a place
        first, _, last = place.rpartition("/")
        if gaz.resolve(last, ("agency",)) or (last.isupper() and not first.isupper()):
            place, agency, slashed = first, last, True
    entry = gaz.resolve(place, ("place", "country"), context)
    agency_entry = gaz.resolve(agency, ("agency",)) if agency else None
    # Without an agency, only a printed-in-capitals or known place makes this a dateline:
    # "Officials said - ..." is a sentence, "WASHINGTON -" is a dateline, "BREAKING:" a kicker.
    # Likewise an agency in brackets with no dash or colon after it, unless it is a known one:
    # "The World Health Organization (WHO) said" is a sentence. /AGENCY/ is only ever one.
    capitals = place.isupper() and normalize(place) not in _KICKERS
    marked = agency and (match["close"] or match["agency2"] or slashed or agency_entry)
    if not entry and not capitals and not marked:
        return None, text
    if match["agency"] and not agency_entry and gaz.resolve(agency, ("country", "place")):
        # "طرابلس (ليبيا) -": the country that tells one Tripoli from another. Not so between
        # slashes: "/العمانية/" (Omani) is how the Oman News Agency signs.
        agency = None
    if agency and not agency_entry:
        # A correspondent or a regional desk with the agency: "/Корр. ТАСС Иван Иванов/",
        # "(dpa/lby)". Named after the agency, but no evidence of a dateline by itself.
        inside = gaz.find(agency, ("agency",))
        agency_entry = inside[0].entry if inside else None
    end = match.end()
    if not agency:
        after = _AGENCY_AFTER.match(head, end)
        credit = after["agency"].split(",")[0] if after else ""
        agency_entry = gaz.resolve(credit, ("agency",)) if credit.strip() else None
        if after and agency_entry:
            agency, end = credit, after.end()
    day = _parse_date(match["date"], language, published) if match["date"] else None
    dateline = Dateline(
        place=entry.name if entry else _display(place, language),
        place_id=entry.id if entry else None,
        date=day,
        agency=agency_entry.name if agency_entry else (agency.strip() if agency else None),
        text=head[:end].strip(),
    )
    return dateline, text[end:]


def apply_dateline(article: Article) -> Article:
    """Return ``article`` with ``dateline`` set from its body (None when it has none)."""
    body = article.body_text or article.summary
    dateline, _ = parse_dateline(
        body, article.language, published=article.published_at,
        context=f"{article.title}\n{body}",  # what the tag stage reads: both resolve alike
    )
    return article.replace(dateline=dateline)


def shingle_text(article: Article) -> str:
    """The body (else summary, else title) without the dateline this stage found: what dedupe
    compares. Uses the stored ``dateline.text``, so nothing is parsed twice."""
    text = article.body_text or article.summary or article.title
    printed = article.dateline.text.strip() if article.dateline and article.dateline.text else ""
    if printed:
        stripped = text.lstrip()
        if stripped.startswith(printed):
            text = stripped[len(printed):]
    return text
