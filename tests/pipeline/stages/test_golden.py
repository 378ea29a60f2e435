"""Language, tag and dateline on wire stories written for the project, in six languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wiredesk.config import Config
from wiredesk.pipeline.stages.dateline import apply_dateline, shingle_text
from wiredesk.pipeline.stages.language import detect_language
from wiredesk.pipeline.stages.tag import tag
from wiredesk.schemas import Article, article_schema

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "stages"

STORIES = sorted(p.stem for p in GOLDEN.glob("*.txt"))


def _article(name: str, hint: str | None) -> Article:
    title, body = (GOLDEN / f"{name}.txt").read_text("utf-8").split("\n", 1)
    return Article(
        id="a" * 16,
        feed_id=1,
        guid=name,
        url=None,
        title=title,
        content_hash="c",
        body_text=body.strip(),
        language_hint=hint,
        published_at=datetime(2025, 7, 11, 8, tzinfo=UTC),
    )


def test_golden_covers_five_languages_three_scripts():
    assert len(STORIES) >= 5


@pytest.mark.parametrize("name", STORIES)
def test_story(name):
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text("utf-8"))
    article = _article(name, expected["hint"])
    article = detect_language(article, Config().news_languages)
    article = tag(apply_dateline(article))

    assert article.language == expected["language"]
    assert article.language_confidence is not None and article.language_confidence > 0.5
    ids = {e.id for e in article.entities}
    assert set(expected["entities"]) <= ids, set(expected["entities"]) - ids
    assert not ids & set(expected["not_entities"])
    first = {e.id: e.first_offset for e in article.entities}
    text = f"{article.title}\n{article.body_text}"
    assert all(0 <= offset < len(text) for offset in first.values())
    got = article.dateline
    assert got is not None
    assert {k: getattr(got, k) for k in expected["dateline"]} == expected["dateline"]
    # The displayed body is untouched; the dedupe text has the dateline stripped.
    assert article.body_text == _article(name, None).body_text
    assert not shingle_text(article).startswith(got.text)
    assert got.text not in shingle_text(article)[:5]
    # The enriched article still crosses the schema boundary.
    assert article_schema.load(article_schema.dump(article)).entities == article.entities
