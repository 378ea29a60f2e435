"""The multilingual gazetteer the tag and dateline stages match against.

Countries come from Babel's locale data (names in ar, zh, ru, fr, es, de, en) keyed by ISO 3166-1
alpha-2; everything else (demonyms, organisations, agencies, people, cities, keyed by Wikidata
QIDs) from the curated, versioned `wiredesk/data/gazetteer.yaml`. All aliases are compiled into
one Aho-Corasick automaton over normalize()d text, built once per process.

A name two entries share (Tripoli in Libya and in Lebanon) is resolved by the text around it:
see `Gazetteer._choose`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import ahocorasick
import yaml

from wiredesk.text.normalize import normalize, normalize_with_offsets

LOCALE_LANGUAGES = ("en", "ar", "zh", "zh_Hant", "ru", "fr", "es", "de")
# Locale names that are also everyday words in that language (Russian "того" = "of that",
# Arabic "مالي" = "financial", "بنين" = "sons"), or that mean something else far more often.
LOCALE_BLOCKLIST = {
    "en": {"Chad", "Jersey", "Guernsey"},
    "fr": {"Jersey", "Guernesey"},
    "de": {"Jersey"},
    "es": {"Jersey"},
    "ru": {"Того", "Джерси"},
    "ar": {"مالي", "بنين", "جيرسي"},
}
# Proclitics the Arabic press attaches to a word: conjunctions و ف, prepositions ب ك ل.
_AR_PREFIXES = ("", "و", "ف", "ب", "ك", "ل", "وب", "ول", "وك", "فب", "فل", "فك")
_AR_DEFINITE = frozenset(p + "ال" for p in _AR_PREFIXES if p != "ل") | {"لل", "ولل", "فلل"}
_AR_BARE = frozenset(_AR_PREFIXES)
# Suffixes of a nisba adjective (الصيني -> الصينية/الصينيين/الصينيون/الصينيات), after folding.
_AR_NISBA_SUFFIXES = frozenset({"", "ه", "ين", "ون", "ات"})
STEM_EXTRA = 4  # letters a `*` stem may take
# A country or clue at most this many words from a shared name qualifies it ("TRIPOLI, Lebanon",
# "طرابلس شمال لبنان", "the Lebanese city of Tripoli"); further away it only counts as a mention.
NEAR_WORDS = 4
# A name that is also a noun of measure (قطر "diameter") is the noun when a length (a number or
# a quantity word, then a unit) starts within this many words after it: "بقطر 10 سم", "قطر
# فوهتها 30 مترا", "بقطر عشرات الأمتار".
MEASURE_WORDS = 3
# CLDR units whose names (Babel, in the noun's language) tell a measure after such a name.
_LENGTH_UNITS = ("kilometer", "meter", "centimeter", "millimeter", "mile", "foot", "inch", "yard")
_AREA_UNITS = ("area-square-kilometer", "area-square-meter", "area-square-mile",
               "volume-cubic-meter")


@dataclass(frozen=True)
class Entry:
    """One gazetteer entity (``country``: the ISO code of the country a place lies in)."""

    id: str | None
    type: str
    name: str
    country: str | None = None


@dataclass(frozen=True)
class _Alias:
    entry: int
    arabic: bool  # Arabic: clitic-aware boundaries
    definite: bool  # Arabic alias that carried the article ال (stripped from the key)
    nisba: bool  # Arabic adjective: feminine/plural suffixes allowed
    cjk: bool  # no word boundaries in Chinese/Japanese
    cased: bool  # acronym: must be printed in capitals
    pattern: re.Pattern[str] | None  # stem alias: checked by regex from the key's start
    latin: bool  # in Latin letters: a word of the languages it was written for only
    languages: frozenset[str] = field(default=frozenset(), compare=False)  # written for


@dataclass(frozen=True)
class _Noun:
    """Where a name is a common noun instead (`nouns` in gazetteer.yaml)."""

    after: frozenset[str]  # a word before it that makes it the noun (نصف قطر: "radius")
    units: frozenset[str]  # a number and a unit after it make it a measure (بقطر 10 سم)
    quantities: frozenset[str]  # words that count like a number (عشرات الأمتار)
    areas: frozenset[str]  # ... unless this follows the unit (كيلومترا مربعا: an area)


@dataclass(frozen=True)
class Match:
    """One alias occurrence: span in normalized text, span start in the source text."""

    entry: Entry
    start: int
    end: int
    source_offset: int


def _is_arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def _is_cjk(text: str) -> bool:
    return any(
        "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
        for ch in text
    )


def _is_latin(key: str) -> bool:
    letters = [ch for ch in key if ch.isalpha()]
    return bool(letters) and all(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters)


def _is_acronym(alias: str) -> bool:
    letters = [ch for ch in alias if unicodedata.category(ch).startswith("L")]
    return 0 < len(letters) <= 5 and all(ch.isupper() for ch in letters)


class Gazetteer:
    """Aliases compiled into one automaton; `find` returns clitic- and boundary-aware matches."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version = f"{data['version']}"
        self.entries: list[Entry] = []
        self._by_id: dict[str, int] = {}
        self._aliases: dict[str, list[_Alias]] = defaultdict(list)
        self._automaton = ahocorasick.Automaton()
        # What tells one holder of a shared name from another: entry -> the entries its mention
        # supports (a country supports its places, a clue the place it was written for).
        self._supports: dict[Entry, list[Entry]] = defaultdict(list)
        located: list[Entry] = []
        related: list[tuple[str, Entry]] = []
        for item in data.get("entities", []):
            index = self._entry(item.get("id"), item["type"], item["name"], item.get("country"))
            for language, names in (item.get("aliases") or {}).items():
                for alias in names:
                    self._add(alias, index, language, curated=True)
            self._add_clues(index, item.get("clues"))
            related += [(str(other), self.entries[index]) for other in item.get("related") or ()]
            if self.entries[index].country:
                located.append(self.entries[index])
        for code, by_language in (data.get("countries") or {}).items():
            index = self._entry(code, "country", _country_name(code))
            for language, names in by_language.items():
                if language == "clues":
                    self._add_clues(index, names)
                    continue
                for alias in names:
                    self._add(alias, index, language, curated=True)
        self._add_locale_countries()
        # Latin-script languages the gazetteer writes names for: in their text, a Latin name
        # written for another of them is another word (German "Island" is Iceland, French
        # "Maurice" Mauritius, "Mexico" Mexico City; in English: island, Maurice, the country).
        self._latin_languages = frozenset(
            language for aliases in self._aliases.values() for alias in aliases if alias.latin
            for language in alias.languages
        )
        self._nouns = {normalize(item["alias"]): _noun(item) for item in data.get("nouns") or ()}
        # A place is supported by its country and the other places there (Beirut for Lebanon's
        # Tripoli), and supports its country in turn; any entry by its own unshared aliases.
        for place in located:
            country = self._by_id.get(place.country or "")
            if country is not None:
                self._supports[self.entries[country]].append(place)
                self._supports[place].append(self.entries[country])
            for other in located:
                if other.country == place.country and other.name != place.name:
                    self._supports[other].append(place)
        for other, entry in related:  # `related`: ids whose mention supports the entry
            self._supports[self.entries[self._by_id[other]]].append(entry)
        for key, aliases in self._aliases.items():
            shared = len({alias.entry for alias in aliases}) > 1
            self._automaton.add_word(key, (key, tuple(aliases), shared))
        self._automaton.make_automaton()

    # -- building ---------------------------------------------------------------------------
    def _entry(
        self, entity_id: str | None, kind: str, name: str, country: str | None = None
    ) -> int:
        if entity_id is not None and entity_id in self._by_id:
            return self._by_id[entity_id]
        self.entries.append(Entry(entity_id, kind, name, country))
        if entity_id is not None:
            self._by_id[entity_id] = len(self.entries) - 1
        return len(self.entries) - 1

    def _add(self, alias: str, index: int, language: str, *, curated: bool) -> None:
        alias = str(alias)
        stem = "*" in alias
        key = normalize(alias.replace("*", " ").strip()) if not stem else ""
        pattern = None
        if stem:
            tail = rf"\w{{0,{STEM_EXTRA}}}"
            words = [
                re.escape(normalize(w.rstrip("*"))) + (tail if w.endswith("*") else "")
                for w in alias.split()
            ]
            pattern = re.compile(" ".join(words) + r"(?!\w)")
            key = normalize(alias.split("*", 1)[0])
        if not key:
            return
        arabic = _is_arabic(key)
        definite = arabic and key.startswith("ال") and len(key) > 3
        if definite:
            key = key[2:]
        spec = _Alias(
            entry=index,
            arabic=arabic,
            definite=definite,
            nisba=arabic and not stem and key.endswith("ي"),
            cjk=_is_cjk(key),
            cased=_is_acronym(alias),
            pattern=pattern,
            latin=_is_latin(key),
            languages=frozenset({language.split("_")[0]}),
        )
        existing = self._aliases.get(key, [])
        # Locale names never take a key a curated alias holds in their language (عمان is
        # Amman first; French "Mexico" is Mexico City, English "Mexico" the country).
        if not curated and any(spec.languages <= held.languages for held in existing):
            return
        if spec in existing:  # the same alias in another language: one spec, both languages
            at = existing.index(spec)
            existing[at] = replace(existing[at], languages=existing[at].languages | spec.languages)
        else:
            self._aliases[key].append(spec)

    def _add_clues(self, index: int, clues: dict[str, list[str]] | None) -> None:
        """Aliases that support entry ``index`` where its name is shared; never tagged."""
        if clues:
            clue = self._entry(None, "clue", self.entries[index].name)
            self._supports[self.entries[clue]].append(self.entries[index])
            for language, aliases in clues.items():
                for alias in aliases:
                    self._add(alias, clue, language, curated=True)

    def _add_locale_countries(self) -> None:
        from babel import Locale

        # One automaton serves every language, so a name blocked in one is blocked in all:
        # Spanish also spells Chad "Chad".
        blocked = set().union(*LOCALE_BLOCKLIST.values())
        for language in LOCALE_LANGUAGES:
            territories = Locale.parse(language).territories
            for code, name in territories.items():
                if len(code) != 2 or not code.isalpha() or name in blocked:
                    continue
                if _country_name(code) == code:  # not an ISO 3166-1 country (EU, UN, QO ...)
                    continue
                index = self._entry(code, "country", _country_name(code))
                self._add(name, index, language, curated=False)

    # -- matching -----------------------------------------------------------------------------
    def find(
        self, text: str, types: tuple[str, ...] = (), language: str | None = None
    ) -> list[Match]:
        """Non-overlapping alias matches in ``text`` (of one of ``types``, if given), longest
        first, in text order; a name several entries share resolved by the text around it. In
        the text of a Latin-script ``language`` the gazetteer has names for, a Latin name only
        matches if it was written for that language."""
        normalized, found, shared = self._matches(text, types, language)
        taken = _longest_first(found)
        if not shared:
            return taken
        # What supports a place may be of any type (a country, a clue): look at all of them.
        context = taken if not types else _longest_first(self._matches(text, (), language)[1])
        return self._choose(normalized, taken, shared, context)

    def _matches(
        self, text: str, types: tuple[str, ...], language: str | None = None
    ) -> tuple[str, list[Match], list[Match]]:
        """Every alias occurrence (overlapping), and those of names several entries share."""
        normalized, offsets = normalize_with_offsets(text)
        found: list[Match] = []
        shared_found: list[Match] = []
        own = language if language in self._latin_languages else None
        for last, (key, aliases, shared) in self._automaton.iter(normalized):
            start = last - len(key) + 1
            for alias in aliases:
                if types and self.entries[alias.entry].type not in types:
                    continue
                if own and alias.latin and own not in alias.languages:
                    continue
                end = self._accept(normalized, start, start + len(key), alias)
                if end is None:
                    continue
                if alias.cased and not _printed_upper(text, offsets, start, end):
                    continue
                if key in self._nouns and _is_noun(normalized, start, end, self._nouns[key]):
                    continue
                # An Arabic match owns its whole word, clitics included (بالقاهرة).
                begin = normalized.rfind(" ", 0, start) + 1 if alias.arabic else start
                found.append(Match(self.entries[alias.entry], begin, end, offsets[begin]))
                if shared:
                    shared_found.append(found[-1])
        return normalized, found, shared_found

    def _choose(
        self, normalized: str, taken: list[Match], found: list[Match], context: list[Match]
    ) -> list[Match]:
        """Give each shared name (``found``: its matches, one per entry) the entry the text
        supports. A supporting mention (the entry by another name, the place's country or a
        demonym of it, another place in that country, a clue written for it) within NEAR_WORDS
        words of the name qualifies it; the entry with the most qualifying mentions wins, then
        the one with the most mentions anywhere, then the one listed first (the better-known
        place). One name means one place throughout a text."""
        rivals: dict[tuple[int, int], list[Entry]] = defaultdict(list)
        for match in found:
            span = rivals[(match.start, match.end)]
            if match.entry not in span:
                span.append(match.entry)
        shared = [m for m in taken if len(rivals[(m.start, m.end)]) > 1]
        if not shared:
            return taken
        spans = {(m.start, m.end) for m in shared}
        context = [m for m in context if (m.start, m.end) not in spans]
        chosen: dict[tuple[Entry, ...], Entry] = {}
        for group in {tuple(rivals[(m.start, m.end)]) for m in shared}:
            mentions = [m for m in shared if tuple(rivals[(m.start, m.end)]) == group]
            score = {entry: [0, 0] for entry in group}
            for other in context:
                for entry in (other.entry, *self._supports.get(other.entry, ())):
                    if entry not in score:
                        continue
                    near = any(_near(normalized, m, other) for m in mentions)
                    score[entry][0] += near
                    score[entry][1] += 1
            chosen[group] = max(group, key=lambda e: (*score[e], -group.index(e)))
        return [
            Match(chosen[tuple(rivals[(m.start, m.end)])], m.start, m.end, m.source_offset)
            if len(rivals[(m.start, m.end)]) > 1 else m
            for m in taken
        ]

    def _accept(self, text: str, start: int, end: int, alias: _Alias) -> int | None:
        """End of the match if ``alias`` really occurs at ``start``; None when it does not."""
        if alias.cjk:
            return end
        prefix = text[text.rfind(" ", 0, start) + 1 : start]
        if alias.arabic:
            if prefix not in (_AR_DEFINITE if alias.definite else _AR_BARE):
                return None
        elif prefix:
            return None
        if alias.pattern is not None:
            matched = alias.pattern.match(text, start)
            return matched.end() if matched else None
        word_end = text.find(" ", end)
        word_end = len(text) if word_end < 0 else word_end
        suffix = text[end:word_end]
        if not suffix or (alias.nisba and suffix in _AR_NISBA_SUFFIXES):
            return word_end
        return None

    def resolve(
        self, name: str, types: tuple[str, ...] = (), context: str | None = None
    ) -> Entry | None:
        """The entry whose alias is the whole of ``name`` (of one of ``types``), if any. Other
        types do not compete: "العمانية" is the Omani agency, though also "Omani" (Oman). A name
        several entries share is resolved as ``find`` resolves it in ``context`` (the text it
        was printed in), else it is the entry listed first."""
        normalized, found, _ = self._matches(name, types)
        candidates: list[Entry] = []
        for match in found:  # a match of the whole name is the longest there can be
            if match.start == 0 and match.end == len(normalized) and match.entry not in candidates:
                candidates.append(match.entry)
        if len(candidates) > 1 and context:
            for match in self.find(context):
                if match.entry in candidates:
                    return match.entry
        return candidates[0] if candidates else None


def _noun(item: dict[str, Any]) -> _Noun:
    """The rule of one `nouns` entry; unit names come from CLDR through Babel."""
    from babel.units import format_unit

    def names(units: tuple[str, ...]) -> set[tuple[str, ...]]:
        out = set()
        for unit in units:
            for count in (1, 2, 3, 11, 100):  # every plural form CLDR has
                for length in ("long", "short"):
                    printed = format_unit(count, unit, length=length, locale=item["language"])
                    out.add(tuple(w for w in normalize(printed).split() if not w.isdigit()))
        return out

    measure = item.get("measure") == "length"
    lengths = names(tuple(f"length-{unit}" for unit in _LENGTH_UNITS)) if measure else set()
    areas = {word for name in names(_AREA_UNITS) for word in name} if measure else set()
    single = {name[0] for name in lengths if len(name) == 1 and len(name[0]) > 1}  # not "م"
    return _Noun(
        after=frozenset(normalize(word) for word in item.get("after") or ()),
        units=frozenset(single),
        quantities=frozenset(normalize(word) for word in item.get("quantities") or ()),
        areas=frozenset(areas - single),
    )


# A proclitic or the article before a word ("ونصف"); the article alone before a unit
# ("عشرات الأمتار": a unit takes no conjunction where it measures).
_AR_LEADING = re.compile(r"^(?:[وفبلك]?ال|لل|[وفبلك](?=..))")
_AR_ARTICLE = re.compile(r"^ال(?=..)")


def _is_noun(text: str, start: int, end: int, noun: _Noun) -> bool:
    """Whether the name at ``start:end`` of normalized ``text`` reads as the common noun."""
    word_start = text.rfind(" ", 0, start) + 1  # before its proclitics (بقطر)
    before = text[text.rfind(" ", 0, max(word_start - 1, 0)) + 1 : max(word_start - 1, 0)]
    if before and (before in noun.after or _AR_LEADING.sub("", before) in noun.after):
        return True
    # A unit alone is no measure: قدم is also "presented" and "football" (كرة القدم), ميل
    # "inclination", كم "how many", سم "poison". A number or a quantity word comes first.
    after = text[end : end + 200].split()[: MEASURE_WORDS + 2]
    for index, word in enumerate(after[:MEASURE_WORDS]):
        if not (word.isdigit() or word in noun.quantities):
            continue
        unit = after[index + 1 : index + 2]
        if unit and _unit_form(unit[0], noun.units):
            following = after[index + 2 : index + 3]
            return not (following and _unit_form(following[0], noun.areas))
    return False


def _unit_form(word: str, names: frozenset[str]) -> bool:
    """``word`` is one of ``names``, perhaps with the article, a proclitic, the accusative
    alif (مترا) or the feminine plural (سنتيمترات)."""
    for form in (word, _AR_ARTICLE.sub("", word)):
        if form in names or (form.endswith("ا") and form[:-1] in names):
            return True
        if form.endswith("ات") and form[:-2] in names:
            return True
    return False


def _near(text: str, one: Match, other: Match) -> bool:
    """Whether at most NEAR_WORDS words stand between two matches in normalized ``text``."""
    first, second = (one, other) if one.start < other.start else (other, one)
    gap = text[first.end : min(second.start, first.end + 40 * (NEAR_WORDS + 1))]
    return second.start - first.end <= len(gap) and len(gap.split()) <= NEAR_WORDS


def _printed_upper(text: str, offsets: list[int], start: int, end: int) -> bool:
    source = text[offsets[start] : offsets[end - 1] + 1]
    return all(ch.isupper() for ch in source if ch.isalpha())


def _longest_first(matches: list[Match]) -> list[Match]:
    taken: list[Match] = []
    occupied: set[int] = set()
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        span = set(range(match.start, match.end))
        if span & occupied:
            continue
        occupied |= span
        taken.append(match)
    return sorted(taken, key=lambda m: m.start)


@cache
def _country_name(code: str) -> str:
    from babel import Locale

    return str(Locale.parse("en").territories.get(code, code)) if _is_iso(code) else code


def _is_iso(code: str) -> bool:
    import pycountry

    return pycountry.countries.get(alpha_2=code) is not None


@cache
def load() -> Gazetteer:
    """The process-wide gazetteer (built on first use: about a second)."""
    text = resources.files("wiredesk").joinpath("data/gazetteer.yaml").read_text("utf-8")
    return Gazetteer(yaml.safe_load(text))
