"""Readable plain text of an HTML fragment: what the ingester stores as an article's body text,
and what restoring an earlier version derives again from its HTML."""

from __future__ import annotations

import html
import re

import nh3

# [^<>]: a tag never closed must not make each attempt scan to the end (quadratic time).
_BLOCK_BOUNDARY = re.compile(r"(?i)<\s*(/?(p|div|br|li|h[1-6]|tr|blockquote|pre|figure)\b)[^<>]*>")
# Built once: nh3.clean() compiles its allow-lists on every call.
_TAG_STRIPPER = nh3.Cleaner(tags=set())
# nh3's parser (html5ever) takes time quadratic in the depth of open elements: 20,000 nested
# <div>s cost seconds, a 10 MB feed of them hours. A fragment with more tags than this is
# read as text by a linear strip instead (its markup is lost, not its words).
MAX_TAGS = 10_000
_ANY_TAG = re.compile(r"<[^>]*>?")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
_HIDDEN = frozenset({"script", "style", "template"})


def too_many_tags(raw: str) -> bool:
    """True when ``raw`` has too many tags for nh3 to read in bounded time."""
    return raw.count("<") > MAX_TAGS


def _strip_tags(raw: str) -> str:
    """``raw`` without its tags (and what script, style and template hold), in one pass."""
    parts: list[str] = []
    position, hidden = 0, ""
    for tag in _ANY_TAG.finditer(raw):
        if not hidden:
            parts.append(raw[position:tag.start()])
            parts.append(" ")
        name = _TAG_NAME.match(tag.group())
        if name:
            closing, element = name.group(1), name.group(2).lower()
            if not hidden and not closing and element in _HIDDEN:
                hidden = element
            elif closing and element == hidden:
                hidden = ""
        position = tag.end()
    if not hidden:
        parts.append(raw[position:])
    return "".join(parts)


def html_to_text(raw: str) -> str:
    """Readable plain text of an HTML fragment, paragraphs kept as line breaks."""
    if "<" not in raw and "&" not in raw:
        return "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
    marked = _BLOCK_BOUNDARY.sub("\n", raw)
    if too_many_tags(marked):
        text = html.unescape(_strip_tags(marked))
    else:
        text = html.unescape(_TAG_STRIPPER.clean(marked))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()
