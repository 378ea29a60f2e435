"""Golden matching forms: what tagging, dedupe and categorization compare."""

from __future__ import annotations

import pytest

from wiredesk.text.normalize import (
    _DROP_INVISIBLE,
    _FOLD,
    normalize,
    normalize_with_offsets,
    tokens,
)

GOLDEN = [
    ("KUALA LUMPUR, July 10 (Xinhua) --", "kuala lumpur july 10 xinhua"),
    ("Growth of 1,234.5 bn", "growth of 12345 bn"),
    ("وَقَالَ الرَّئِيسُ الصِّينِيُّ", "وقال الرييس الصيني"),
    ("أحمد إلى آسيا مؤتمر", "احمد الي اسيا موتمر"),
    ("مدرسة ـــ كبيرة", "مدرسه كبيره"),
    ("عام ٢٠٢٥ و۱۴۰۴", "عام 2025 و1404"),
    ("吉隆坡７月１０日电（记者）", "吉隆坡7月10日电 记者"),
    ("ПРЕЗИДЕНТ Ёлкин", "президент елкин"),
    ("Straße ÉLYSÉE", "strasse élysée"),
    ("Ma\u00adlay\u200bsia \u200fsaid", "malaysia said"),
    ("ﻻ إله", "لا اله"),
    ("  ", ""),
    # Separators are dropped only between two digits (Arabic-Indic ones too).
    ("v1.2.3, 4.x, x.5 and ١٫٢٬٣ then 7,\n8 and 9.\t1 end 1..2 3,,4",
     "v123 4 x x 5 and 123 then 7 8 and 9 1 end 1 2 3 4"),
    ("ـــمُحَمَّد ٱلْقُرْآن ۖ ۗ ٰ",
     "محمد القران"),
    # Turkish dotted capital I: casefold() gives i + U+0307, which no Istanbul/Iran alias has.
    ("İSTANBUL İran İZMİR I\u0307srail", "istanbul iran izmir israil"),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_normalize_golden(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_normalize_with_offsets_agrees(text, expected):
    normalized, offsets = normalize_with_offsets(text)
    assert normalized == expected
    assert len(offsets) == len(normalized)
    assert offsets == sorted(offsets)


def test_offsets_point_into_the_source():
    text = "وقال (شينخوا) في بكين"
    normalized, offsets = normalize_with_offsets(text)
    at = normalized.index("بكين")
    assert text[offsets[at] :].startswith("بكين")


def test_tokens():
    assert tokens("U.S. President, WHO") == ["u", "s", "president", "who"]


def test_the_folding_tables_leave_ascii_alone():
    # normalize() skips both tables for ASCII text; an ASCII entry here would be silently unused.
    assert all(codepoint > 127 for codepoint in (*_FOLD, *_DROP_INVISIBLE))


def test_turkish_capitals_match_like_any_other_spelling():
    """Turkish copy writes İstanbul, İran, İsrail: the dotted capital folded to "i" plus a
    combining dot, so the gazetteer, dedupe and the dateline never matched those words."""
    assert normalize("İstanbul'da") == normalize("Istanbul da")
    assert normalize("DİYARBAKIR") == "diyarbakir"
