"""Readable plain text of an HTML fragment: what the ingester stores as an article's body text,
and what restoring an earlier version derives again from its HTML."""

from __future__ import annotations

import html
import re

import nh3

_BLOCK_BOUNDARY = re.compile(r"(?i)<\s*(/?(p|div|br|li|h[1-6]|tr|blockquote|pre|figure)\b)[^>]*>")
# Built once: nh3.clean() compiles its allow-lists on every call.
_TAG_STRIPPER = nh3.Cleaner(tags=set())


def html_to_text(raw: str) -> str:
    """Readable plain text of an HTML fragment, paragraphs kept as line breaks."""
    if "<" not in raw and "&" not in raw:
        return "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
    marked = _BLOCK_BOUNDARY.sub("\n", raw)
    text = html.unescape(_TAG_STRIPPER.clean(marked))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()
