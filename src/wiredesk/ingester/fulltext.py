"""Optional full text: fetch an entry's article page (same guard and limits as feeds) and keep
only its main text, for feeds whose entries carry a teaser instead of the story."""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura

from wiredesk.config import Config
from wiredesk.ingester.fetch import FeedClient, fetch
from wiredesk.ingester.parse import LIMITS, fit_body_html, sanitize_html
from wiredesk.text.html import html_to_text

# Blocks trafilatura's own heuristics may keep on some sites: breadcrumbs, "related" and photo
# galleries, share bars. Matched on class/id words so a story about "relations" survives.
_BOILERPLATE = ("breadcrumb", "related", "gallery", "share", "social", "newsletter", "promo",
                "recommend", "most-read", "trending", "comments")
PRUNE_XPATH = [
    "//nav", "//footer", "//aside", "//*[@role='navigation']", "//*[@aria-label='breadcrumb']",
    *(f"//*[contains(concat(' ', translate(@class, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
      f"'abcdefghijklmnopqrstuvwxyz'), ' '), '{word}') or contains(@id, '{word}')]"
      for word in _BOILERPLATE),
]


@dataclass(frozen=True)
class FullText:
    html: str  # sanitized, ready for Article.body_html
    text: str


def extract(page: bytes | str, url: str | None = None) -> FullText | None:
    """The main text of an article page, or None when nothing article-like is found."""
    extracted = trafilatura.extract(
        page, url=url, output_format="html", include_comments=False, include_tables=True,
        include_images=False, include_links=False, favor_precision=True, prune_xpath=PRUNE_XPATH,
    )
    if not extracted:
        return None
    # Cut to the Article contract as a feed's body is: past a limit the pipeline refuses the
    # row, and the article would fail instead of going on with less text.
    body_html = fit_body_html(sanitize_html(extracted))
    text = html_to_text(body_html)[:LIMITS["body_text"]]
    return FullText(body_html, text) if text else None


def fetch_full_text(client: FeedClient, url: str, config: Config) -> FullText | None:
    """Fetch ``url`` through the guarded fetcher and extract its main text."""
    result = fetch(client, url, config)
    return extract(result.body, result.url)
