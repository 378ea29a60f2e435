"""Synthetic feeds for benchmarks: deterministic RSS 2.0 documents with unique entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

WORDS = ("minister", "council", "river", "election", "market", "harbour", "school", "court",
         "storm", "festival", "report", "budget", "railway", "hospital", "treaty", "museum")


def synthetic_feed(index: int, items: int = 20) -> bytes:
    """RSS 2.0 with ``items`` entries unique to feed ``index`` (about 9 KB for 20 items)."""
    base = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=index)
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
             f"<title>Bench feed {index}</title><link>https://feed{index}.example/</link>"
             f"<description>Synthetic feed {index}</description><language>en</language>"]
    for n in range(items):
        words = " ".join(WORDS[(index * 7 + n * 3 + k) % len(WORDS)] for k in range(40))
        parts.append(
            f"<item><title>Story {n} of feed {index}: {WORDS[(index + n) % len(WORDS)]} news</title>"
            f"<link>https://feed{index}.example/story/{n}?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{index}-story{n}</guid>'
            f"<pubDate>{format_datetime(base - timedelta(hours=n))}</pubDate>"
            f"<description>&lt;p&gt;{words}.&lt;/p&gt;&lt;p&gt;Feed {index}, item {n}: "
            f"{words[:120]}.&lt;/p&gt;</description></item>")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")
