"""Tag stage: the countries, places, organisations, agencies and people an article names, and
its keywords.

Entities come from the gazetteer (one Aho-Corasick pass over the normalized text); keywords from
YAKE in the article's language. Offsets are into ``tag_text(article)`` (title, newline, body).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from wiredesk.pipeline.stages import gazetteer
from wiredesk.pipeline.stages.dateline import shingle_text
from wiredesk.schemas import Article, Entity
from wiredesk.text.languages import primary_subtag
from wiredesk.text.normalize import ARABIC_MARKS, fold_arabic

MAX_KEYWORDS = 8
MAX_KEYWORD_CHARS = 1500  # YAKE cost grows with length; the lede carries the keywords
# A key phrase is one or two words; a longer one is text YAKE could not split (Thai, a run-on
# hashtag), and over the schema's 200 characters the saved article would not load back.
MAX_KEYWORD_LENGTH = 100
# YAKE ships stopword lists for these; Chinese and Japanese have no spaces to split words on.
_YAKE_LANGUAGES = frozenset("ar de el en es fa fr hi it nl pl pt ru sk tr uk".split())
ENTITY_ORDER = ("country", "place", "organisation", "agency", "person")
# YAKE ends a phrase at ASCII punctuation only, and counts a vocalised word apart from the plain
# one: what it reads has Arabic punctuation in ASCII and no tashkeel or tatweel.
_YAKE_INPUT = str.maketrans({**dict.fromkeys(ARABIC_MARKS), "،": ",", "؛": ";", "؟": "?"})

# Elided articles and prepositions glued to the next word (French l'État, jusqu'au; Italian
# dell'Unione) and Turkish case endings after a name (Bakanı'na, İstanbul'da): YAKE keeps them
# in the word ("l'État versera"), so they are dropped from what it reads.
_CLITICS = {
    "fr": re.compile(r"(?<!\w)(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)['’](?=\w)",
                     re.IGNORECASE),
    "it": re.compile(r"(?<!\w)(?:[cdlmnstv]|un|dell|all|dall|nell|sull|coll|quest|quell|sant|tutt)"
                     r"['’](?=\w)", re.IGNORECASE),
    "tr": re.compile(r"(?<=\w)['’]\w+"),
}
# Quotes and slashes end a phrase, but YAKE splits only at ASCII punctuation standing alone:
# "‘grave concerns’ matter" gave "concerns’ matter", "ربيع/صيف" gave "شوب ربيع/صيف". They are
# set apart as a plain '"'; an apostrophe inside a word (We’re, O’Brien) is made ASCII, which
# the tokenizer knows.
_QUOTES = re.compile(r"[\"“”„«»/]|(?<!\w)['’‘`]|['’‘`](?!\w)")
# The link text feeds end a summary with ("Continue reading..."): no keyword.
_READ_MORE = re.compile(
    r"\s*(?:continue reading|read more|read the full story|lire la suite|leer más|weiterlesen"
    r"|читать далее|اقرأ المزيد|اقرأ أيضا)\W*$",
    re.IGNORECASE,
)


# Verbs of saying that open most Arabic wire sentences, beyond the few in YAKE's list (قال،
# وقالت، اكد): without them "قالت" and "أكدت منظمة" came out as keywords.
_ARABIC_REPORTING = (
    "قالت أعلن أكدت أضاف أضافت أوضح أوضحت أشار أشارت ذكر ذكرت صرح صرحت تابع تابعت كشف كشفت "
    "نفى نفت أفاد أفادت يقول تقول"
).split()


# The Arabic press names months the Egyptian/Gulf, Levantine and Maghreb ways.
_DATE_LOCALES = {"ar": ("ar", "ar_SY", "ar_IQ", "ar_DZ", "ar_TN", "ar_MA")}


@cache
def _date_words(language: str) -> frozenset[str]:
    """Weekday and month names of ``language`` (Babel, wide forms), word by word in lower case:
    every lede names the day, and a date is no keyword ("Mittwoch", "mai", "الأربعاء")."""
    from babel import Locale, UnknownLocaleError

    names: set[str] = set()
    for code in _DATE_LOCALES.get(language, (language,)):
        try:
            locale = Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
        for table in (locale.days, locale.months):
            for context in ("format", "stand-alone"):
                names.update(table[context]["wide"].values())
    words = {word.lower() for name in names for word in name.split()}
    if language == "ru":  # after в: "в среду" (среда), "в мае" (май), "в марте" (март)
        words |= {w[:-1] + "у" for w in words if w.endswith("а")}
        words |= {(w[:-1] if w[-1] in "ьй" else w) + "е" for w in words if w[-1] not in "аяуе"}
    return frozenset(words)


class _FoldedStopwords(frozenset[str]):
    """A stopword list looked up in folded form: YAKE's Arabic list is written without hamza
    (الى، ان، اكد) and the press writes إلى، أن، أكد. A stopword keeps its conjunction
    (وأكدت، فإن)."""

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        folded = fold_arabic(word)
        return super().__contains__(folded) or (
            folded[:1] in ("و", "ف") and super().__contains__(folded[1:])
        )


def tag_text(article: Article) -> str:
    """The text entities are found in: title, newline, body (or summary)."""
    return f"{article.title}\n{article.body_text or article.summary}"


def find_entities(text: str, language: str | None = None) -> list[Entity]:
    """Gazetteer entities in ``text`` (written in ``language``, if known), with mention counts
    and first offsets, in text order."""
    found: dict[str, Entity] = {}
    for match in gazetteer.load().find(text, language=language):
        entry = match.entry
        if entry.id is None:
            continue
        if entry.id in found:
            found[entry.id].mentions += 1
        else:
            found[entry.id] = Entity(
                type=entry.type,
                name=entry.name,
                id=entry.id,
                mentions=1,
                first_offset=match.source_offset,
            )
    return sorted(found.values(), key=lambda e: e.first_offset)


def keyword_text(article: Article) -> str:
    """The text keywords come from: the title, a sentence break (YAKE joins lines: "rates
    KUALA"), then the body without the dateline the dateline stage found ("Reuters" is no
    keyword)."""
    title = article.title.strip()
    body = shingle_text(article).strip() if article.body_text or article.summary else ""
    if not title or not body:
        return title or body
    return f"{title}{'' if title[-1] in '.!?؟。' else '.'} {body}"


@cache
def _extractor(language: str) -> Any:
    import yake

    extractor = yake.KeywordExtractor(lan=language, n=2, dedupLim=0.8, top=MAX_KEYWORDS * 2)
    extractor.stopword_set.update(_date_words(language))
    if language in ("ar", "fa"):
        # Read at each extraction (YAKE copies a list given to its constructor into a plain set).
        words = {*extractor.stopword_set, *_ARABIC_REPORTING}
        extractor.stopword_set = _FoldedStopwords(map(fold_arabic, words))
    return extractor


def keywords(text: str, language: str | None) -> list[str]:
    """Up to MAX_KEYWORDS key phrases of ``text`` (none for languages YAKE cannot split)."""
    if not language or language not in _YAKE_LANGUAGES or not text.strip():
        return []
    if trailer := _READ_MORE.search(text, max(0, len(text) - 40)):
        text = text[: trailer.start()]
    text = text[:MAX_KEYWORD_CHARS].translate(_YAKE_INPUT)
    if language in _CLITICS:
        text = _CLITICS[language].sub("", text)
    text = _QUOTES.sub(' " ', text).replace("’", "'")
    phrases = _extractor(language).extract_keywords(text)
    out: list[str] = []
    seen: set[str] = set()
    for phrase, _score in phrases:
        phrase = phrase.strip()
        folded = phrase.casefold()
        if not 3 <= len(phrase) <= MAX_KEYWORD_LENGTH or folded in seen or phrase.isdigit():
            continue
        seen.add(folded)
        out.append(phrase)
        if len(out) == MAX_KEYWORDS:
            break
    return out


def tag(article: Article) -> Article:
    """Return ``article`` with ``entities`` and ``keywords`` set (after the dateline stage, so
    that its dateline stays out of the keywords)."""
    return article.replace(
        entities=find_entities(tag_text(article), primary_subtag(article.language)),
        keywords=keywords(keyword_text(article), article.language),
    )
