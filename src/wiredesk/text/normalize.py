"""The matching form of a text: what tagging, dedupe and categorization compare, never display.

NFKC, case folding, Arabic folding (tashkeel, tatweel, alef/hamza forms, teh marbuta, alef
maqsura), Arabic-Indic and Persian digits to ASCII, punctuation to spaces, whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

# Bumped whenever the output of normalize() changes, since content hashes depend on it.
NORMALIZE_VERSION = 3  # 2: invisible in-word chars dropped; ё folded. 3: Turkish İ folds to i

# Arabic marks dropped by the fold: diacritics (tashkeel), Quranic marks, tatweel.
ARABIC_MARKS = "".join(chr(c) for first, last in (
    (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E8),
    (0x06EA, 0x06ED), (0x0640, 0x0640)) for c in range(first, last + 1))
# One table for the whole fold (marks deleted, letters and digits mapped): one pass at C speed.
_FOLD = str.maketrans({
    **dict.fromkeys(ARABIC_MARKS),
    "\u0622": "\u0627",  # آ -> ا
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0671": "\u0627",  # ٱ -> ا
    "\u0624": "\u0648",  # ؤ -> و
    "\u0626": "\u064a",  # ئ -> ي
    "\u0649": "\u064a",  # ى -> ي (alef maqsura)
    "\u06cc": "\u064a",  # Persian yeh -> ي
    "\u0629": "\u0647",  # ة -> ه (teh marbuta)
    "\u06a9": "\u0643",  # Persian keheh -> ك
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
    "\u0451": "\u0435",  # ё -> е: Russian copy mostly prints е
})


# Invisible characters that sit inside words (soft hyphen, zero-width space/joiners, BOM): dropped,
# so that a word split by them still matches; directional marks are dropped too.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u061c")
_NUMBER_GLUE = ".,\u066b\u066c"  # decimal points and thousands separators (Latin, Arabic)
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))
# casefold() turns the Turkish dotted capital İ into "i" plus a combining dot above (U+0307):
# "İstanbul" would never match "Istanbul". The dot after an "i" says nothing, so it goes.
_DOTTED_I = "i\u0307"
# A separator with a digit on each side. Written separator first, so the scan looks for the
# (rarer) separator and only then checks the digit before it: the matches of
# ``(?<=\d)[glue](?=\d)``, found three times faster.
_GLUE_IN_NUMBER = re.compile(f"[{re.escape(_NUMBER_GLUE)}]" + r"(?<=\d.)(?=\d)")


def _is_separator(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZC"


class _SeparatorTable(dict[int, str]):
    """str.translate table mapping separators to a space, filled lazily (per code point once):
    the same result as testing every character, at C speed once a script has been seen."""

    def __missing__(self, codepoint: int) -> str:
        ch = chr(codepoint)
        value = " " if _is_separator(ch) else ch
        if len(self) < 100_000:
            self[codepoint] = value
        return value


_SEPARATORS = _SeparatorTable()


def fold_arabic(text: str) -> str:
    """Drop Arabic diacritics and tatweel and fold letter variants; other scripts untouched."""
    return text.translate(_FOLD)


def normalize(text: str) -> str:
    """Return the matching form of ``text``: folded, punctuation-free, single-spaced."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():  # both tables map only non-ASCII characters
        text = fold_arabic(text)
        text = text.translate(_DROP_INVISIBLE)  # C-speed, not a Python loop per character
        text = text.replace(_DOTTED_I, "i")
    # Decimal points and thousands separators between digits would split numbers apart.
    text = _GLUE_IN_NUMBER.sub("", text)
    text = text.translate(_SEPARATORS)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Words of the matching form of ``text``."""
    return normalize(text).split()


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """``normalize(text)`` built character by character, with the source offset of each output
    character (offsets index the NFC form of ``text``, which is ``text`` for ordinary feed copy).
    """
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    offsets: list[int] = []
    pending_space = False
    for index, ch in enumerate(text):
        if ch in _INVISIBLE:
            continue
        if (
            ch in _NUMBER_GLUE and out and out[-1].isdigit() and not pending_space
            and index + 1 < len(text) and _digit_after(text, index + 1)
        ):
            continue
        piece = fold_arabic(unicodedata.normalize("NFKC", ch).casefold())
        for part in piece:
            if part in _INVISIBLE or (part == "\u0307" and out and out[-1] == "i"):
                continue
            if _is_separator(part):
                pending_space = bool(out)
                continue
            if pending_space:
                out.append(" ")
                offsets.append(index)
                pending_space = False
            out.append(part)
            offsets.append(index)
    return "".join(out), offsets


def _digit_after(text: str, index: int) -> bool:
    folded = fold_arabic(unicodedata.normalize("NFKC", text[index]))
    return folded[:1].isdigit()
