"""Entry dates to UTC. RFC 822 and ISO 8601 are read strictly here (fast, and they say whether a
zone was given); anything else (other languages' day and month names, malformed dates, 12-hour
clocks) goes to dateparser. A date without a zone is read in the feed's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# Named zones seen in feeds. IST is taken as India's: the commonest by far in news feeds.
NAMED_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 60, "WEST": 60, "CET": 60,
    "MET": 60, "CEST": 120, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "IST": 330,
    "PKT": 300, "HKT": 480, "SGT": 480, "JST": 540, "KST": 540, "AEST": 600, "AEDT": 660,
    "NZST": 720, "NZDT": 780, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420,
    "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
    "AST": -240,
}
# Names two zones share, read as a feed in that language means them: Gulf outlets write AST
# for Arabia, Chinese ones CST for China (elsewhere: Atlantic, US Central).
ZONES_BY_LANGUAGE = {"ar": {"AST": 180}, "zh": {"CST": 480}}
_RFC822 = re.compile(
    r"^\s*(?:[A-Za-z]{2,9}\.?,?\s+)?(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{2,4}),?\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(?:([A-Za-z]{1,5})|([+-])(\d{2}):?(\d{2}))?\s*$"
)
_ISO = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
_HAS_ZONE = re.compile(r"(?:[+-]\d{2}:?\d{2}|\b(?!AM\b|PM\b)[A-Za-z]{1,5}|\dZ)\s*$")
_LEADING_NAME = re.compile(r"^\s*[^\W\d]+\.?,\s*")
DATE_FLAGS = ("zone_assumed", "future_clamped", "unparsed")
# The longest text read as a date. Real ones are under 70 characters ("Wednesday, September 27,
# 2023 10:00:00 AM Eastern Daylight Time"); dateparser's time grows with its input, to minutes
# for a 50 KB one.
MAX_DATE_LENGTH = 100


# How many dates of one document dateparser may fail to read. Each failure costs it tens of
# milliseconds (it tries every locale): a feed of junk dates would cost hours. Past this, the
# document's remaining dates that RFC 822 and ISO 8601 do not read are flagged unparsed.
MAX_DATEPARSER_FAILURES = 20


@dataclass
class DateBudget:
    """What one document may still spend on dates dateparser cannot read."""

    failures_left: int = MAX_DATEPARSER_FAILURES


@dataclass
class EntryDate:
    value: datetime | None
    raw: str | None
    flags: list[str] = field(default_factory=list)


@lru_cache(maxsize=64)
def zone_info(name: str) -> Any:
    """A tzinfo for an IANA name or a fixed offset like +03:00; UTC if unknown."""
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name.strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _zone_offset(name: str, languages: list[str] | None) -> int | None:
    """Minutes east of UTC for a zone name, as a feed in ``languages`` means it."""
    name = name.upper()
    for language in languages or ():
        regional = ZONES_BY_LANGUAGE.get(language.split("-")[0].lower(), {})
        if name in regional:
            return regional[name]
    return NAMED_ZONES.get(name)


def _rfc822(raw: str, languages: list[str] | None = None) -> tuple[datetime, bool] | None:
    m = _RFC822.match(raw)
    if not m:
        return None
    day, month_name, year, hour, minute, second, name, sign, zh, zm = m.groups()
    month = MONTHS.get(month_name[:3].lower())
    if month is None:
        return None
    offset: int | None = None
    if name:
        offset = _zone_offset(name, languages)
        if offset is None:
            return None  # an unknown zone name: let dateparser try
    elif sign:
        offset = (int(zh) * 60 + int(zm)) * (-1 if sign == "-" else 1)
    year_n = int(year)
    if year_n < 100:
        year_n += 2000 if year_n < 70 else 1900
    naive = datetime(year_n, month, int(day), int(hour), int(minute), int(second or 0))
    if offset is None:
        return naive, False
    return naive.replace(tzinfo=timezone(timedelta(minutes=offset))), True


def _iso(raw: str) -> tuple[datetime, bool] | None:
    if not _ISO.match(raw):
        return None
    text = re.sub(r"\s+([+-]\d{2}:?\d{2})$", r"\1", raw.strip())
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value, value.tzinfo is not None


def _dateparser(raw: str, zone: str, languages: list[str] | None) -> tuple[datetime, bool] | None:
    import dateparser  # loads its locale data lazily: only feeds that need it pay

    # dateparser reads the zone in the text, else assumes ``zone``, and converts to UTC. It
    # must not invent: a missing day, month or year would be taken from today, and a relative
    # date ("2 hours ago", and what it misreads as one) is relative to this machine's clock.
    settings = {"TIMEZONE": zone, "TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True,
                "REQUIRE_PARTS": ["day", "month", "year"],
                "PARSERS": ["timestamp", "custom-formats", "absolute-time"]}
    for text in (raw, _LEADING_NAME.sub("", raw, count=1)):
        value = None
        if languages:
            try:
                value = dateparser.parse(text, languages=languages, settings=settings)  # type: ignore[arg-type]
            except ValueError:  # a language hint dateparser does not know
                value = None
        if value is None:
            value = dateparser.parse(text, settings=settings)  # type: ignore[arg-type]
        if value is not None:
            return value, bool(_HAS_ZONE.search(text))
    return None


def parse_date(raw: str | None, *, zone: str = "UTC", fetched_at: datetime | None = None,
               languages: list[str] | None = None, budget: DateBudget | None = None) -> EntryDate:
    """Read one feed date as UTC, keeping the original string and flags saying what was assumed."""
    if not raw or not raw.strip():
        return EntryDate(None, None)
    raw = raw.strip()
    if len(raw) > MAX_DATE_LENGTH:
        return EntryDate(None, raw, ["unparsed"])
    try:
        parsed = _rfc822(raw, languages) or _iso(raw)
    except (ValueError, OverflowError):  # well-formed but out of range: 31 Feb, a +9999 zone
        parsed = None
    if parsed is None and (budget is None or budget.failures_left > 0):
        try:
            parsed = _dateparser(raw, zone, languages)
        except (ValueError, OverflowError, TypeError):
            parsed = None
        if parsed is None and budget is not None:
            budget.failures_left -= 1
    if parsed is None:
        return EntryDate(None, raw, ["unparsed"])
    value, had_zone = parsed
    flags: list[str] = []
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_info(zone))
    if not had_zone:
        flags.append("zone_assumed")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # within hours of year 1 or 9999: in UTC it is outside datetime's range
        return EntryDate(None, raw, ["unparsed"])
    if fetched_at is not None and value > fetched_at:
        value = fetched_at  # a date from the future would float the entry above everything
        flags.append("future_clamped")
    return EntryDate(value, raw, flags)
