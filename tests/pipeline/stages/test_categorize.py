"""Categorize: golden stories in five languages, score contract, model loading and training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wiredesk import taxonomy
from wiredesk.pipeline.stages.categorize import (
    MODEL_FILENAME,
    MODEL_FORMAT_VERSION,
    Categorizer,
    categorize,
    load_categorizer,
)
from wiredesk.schemas import Article, article_schema
from wiredesk.topics.lexicon import default_lexicon

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "categorize" / "stories.yaml"
STORIES = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))


def story_article(story: dict[str, str]) -> Article:
    return Article(
        id=story["id"], feed_id=1, guid=story["id"], url=None, title=story["title"],
        content_hash="c", body_text=story["body"], language=story["language"],
    )


@pytest.fixture(scope="module")
def lexicon_only() -> Categorizer:
    return Categorizer(lexicon=default_lexicon())


def test_golden_covers_five_languages() -> None:
    assert {s["language"] for s in STORIES} >= {"ar", "en", "fr", "ru", "zh"}


@pytest.mark.parametrize("story", STORIES, ids=[s["id"] for s in STORIES])
def test_golden_top_topic_from_lexicon(story: dict[str, str], lexicon_only: Categorizer) -> None:
    result = categorize(story_article(story), lexicon_only)
    assert result.categories, "every story gets at least one category"
    assert result.categories[0].qcode == story["top"]


@pytest.mark.parametrize("story", STORIES[:: 4], ids=[s["id"] for s in STORIES[:: 4]])
def test_categories_honour_the_contract(story: dict[str, str], lexicon_only: Categorizer) -> None:
    result = categorize(story_article(story), lexicon_only)
    tops = [c for c in result.categories if c.qcode in taxonomy.TOP_LEVEL]
    assert 1 <= len(tops) <= 3
    assert [c.score for c in tops] == sorted((c.score for c in tops), reverse=True)
    for category in result.categories:
        assert 0.0 <= category.score <= 1.0
        assert category.qcode in taxonomy.topics()
    # The result still validates against the Article contract.
    article_schema.load(article_schema.dump(result))


def test_labels_in_the_story_language_when_iptc_has_one(lexicon_only: Categorizer) -> None:
    by_id = {s["id"]: s for s in STORIES}
    fr = categorize(story_article(by_id["fr-sport"]), lexicon_only).categories[0]
    ar = categorize(story_article(by_id["ar-sport"]), lexicon_only).categories[0]
    ru = categorize(story_article(by_id["ru-sport"]), lexicon_only).categories[0]
    assert (fr.label, ar.label) == ("Sport", "رياضة")
    assert ru.label == "sport"  # IPTC has no Russian labels: English


def test_lower_level_topic_when_evidence_is_strong(lexicon_only: Categorizer) -> None:
    article = story_article({
        "id": "en-sub", "language": "en", "title": "Tennis: seeds advance at Wimbledon",
        "body": "Tennis fans watched tennis legends play tennis. The tennis final is Sunday.",
    })
    result = categorize(article, lexicon_only)
    subs = [c for c in result.categories if c.qcode not in taxonomy.TOP_LEVEL]
    assert subs and all(taxonomy.top_level_of(c.qcode) == "medtop:15000000" for c in subs)


def test_empty_text_gets_no_category(lexicon_only: Categorizer) -> None:
    article = Article(id="e", feed_id=1, guid=None, url=None, title="", content_hash="c")
    assert categorize(article, lexicon_only).categories == []


def _trained_languages_gauge() -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("wiredesk_pipeline_categorizer_model_languages")


def test_without_artifact_falls_back_to_lexicon(tmp_path: Path) -> None:
    model = load_categorizer(tmp_path / MODEL_FILENAME)
    assert model.model is None and model.version.startswith("lexicon-")
    assert load_categorizer(tmp_path / MODEL_FILENAME) is model  # loaded once
    # Operators see on /metrics that the workers answer from the lexicon alone.
    assert _trained_languages_gauge() == 0


def test_train_with_extra_examples_save_and_load(tmp_path: Path) -> None:
    """A tiny training run from editors' examples only: artifact versioned, loaded, used."""
    from wiredesk.training import categorizer as training

    sport = ("the match ended with a late goal and the team celebrated", "en",
             ["medtop:20000822"])  # a level-2 sport code counts for its top-level topic
    economy = ("shares and bonds fell as the bank raised interest rates", "en",
               ["medtop:04000000"])
    extra = [sport, economy] * 60
    artifact = training.train([], extra, min_examples=50)  # 96 rows fit, 24 validate
    assert artifact["metadata"]["languages"] == {"en": 120}
    path = tmp_path / MODEL_FILENAME
    training.save(artifact, path)
    model = load_categorizer(path)
    assert model.model is not None and model.speaks("en") and not model.speaks("ar")
    assert _trained_languages_gauge() == 1  # the model's languages: en
    assert model.version.endswith(f"model-{MODEL_FORMAT_VERSION}")
    result = categorize(story_article({
        "id": "x", "language": "en", "title": "Late goal",
        "body": "The team won the match with a late goal.",
    }), model)
    assert result.categories[0].qcode == "medtop:15000000"
    # The blend is calibrated per language on the inner validation split, stored in the artifact.
    a, b, _ = model.calibration["en"]
    assert a + b > 0 and b >= 0 and artifact["metadata"]["calibration"]["en"] == model.calibration["en"]


def test_blend_uses_lexicon_shares_and_calibration_keeps_the_ranking() -> None:
    """The model blends with the lexicon's evidence shares; the calibration keeps the ranking."""
    from wiredesk.pipeline.stages.categorize import _lexicon_shares, blend, calibrate

    shares = _lexicon_shares({"medtop:11000000": 3.0, "medtop:04000000": 1.0})
    assert shares["medtop:11000000"] == pytest.approx(0.75 * (1 - 2.718281828 ** (-4 / 3)))
    mixed = blend({"medtop:04000000": 0.9, "medtop:11000000": 0.2}, shares, 0.5)
    assert set(mixed) == {"medtop:04000000", "medtop:11000000"}
    assert mixed["medtop:04000000"] == pytest.approx(0.5 * 0.9 + 0.5 * shares["medtop:04000000"])
    calibrated = calibrate(mixed, (5.0, 8.0, -2.0))
    assert all(0.0 < s < 1.0 for s in calibrated.values())
    assert sorted(calibrated, key=calibrated.get) == sorted(mixed, key=mixed.get)


CONFIDENCE = yaml.safe_load(
    (GOLDEN.parent / "confidence.yaml").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("story", CONFIDENCE, ids=[s["id"] for s in CONFIDENCE])
def test_clear_story_is_confident_from_the_lexicon_alone(
    story: dict[str, str], lexicon_only: Categorizer
) -> None:
    """A plain politics or disaster story clears the low-confidence routing threshold."""
    top = categorize(story_article(story), lexicon_only).categories[0]
    assert top.qcode == story["top"]
    assert top.score >= 0.35


def test_lexicon_scores_are_calibrated_not_shares(lexicon_only: Categorizer) -> None:
    """One strong topic scores high; evidence split evenly over four topics scores low."""
    from wiredesk.pipeline.stages.categorize import _lexicon_probabilities

    strong = _lexicon_probabilities({"medtop:11000000": 4.0})
    split = _lexicon_probabilities({f"medtop:{n:02d}000000": 1.0 for n in (1, 2, 4, 11)})
    assert strong["medtop:11000000"] > 0.8
    assert max(split.values()) < 0.35


def test_per_source_svms_are_fitted_and_used() -> None:
    """Two sources in one language: a source classifier plus per-source topic SVMs."""
    from wiredesk.topics.model import DEFAULT_DOMAIN_SHARE, TopicModel

    sport = ["the striker scored a goal in the match", "the team won the cup final",
             "the coach praised the players", "a late penalty decided the game"]
    economy = ["the bank raised interest rates", "shares fell on the stock market",
               "inflation climbed as prices rose", "the company reported higher profits"]
    texts = [f"{t} on saturday, the wire reports at length." for t in sport + economy]
    texts += [t.split(" the ")[-1] for t in sport + economy]  # headline-like fragments
    topics = [["medtop:15000000"]] * 4 + [["medtop:04000000"]] * 4
    topics = topics + topics
    sources = ["wire"] * 8 + ["headlines"] * 8
    model = TopicModel(min_examples=4).fit(texts, ["en"] * 16, topics, sources)
    assert model.domains["en"] == DEFAULT_DOMAIN_SHARE
    assert model.source_of("the striker scored on saturday, the wire reports at length.",
                           "en") == "wire"
    scores = model.scores("the striker scored a late goal", "en")
    assert max(scores, key=scores.__getitem__) == "medtop:15000000"


def test_per_source_share_mixes_the_margins() -> None:
    """The share training picks moves a text's margins from the language-wide SVMs (0) to the
    per-source ones (1), linearly in between."""
    import math

    from wiredesk.topics.model import SIGMOID_SLOPE, TopicModel

    texts = ["the striker scored a goal", "the team won the cup", "the bank raised rates",
             "shares fell on the market"] * 2
    topics = [["medtop:15000000"]] * 2 + [["medtop:04000000"]] * 2
    topics = topics + topics
    model = TopicModel(min_examples=4).fit(texts, ["en"] * 8, topics, ["a"] * 4 + ["b"] * 4)
    text = "the striker scored as shares fell"

    def margin(share: float) -> float:
        model.domains["en"] = share
        p = model.scores(text, "en")["medtop:15000000"]
        return math.log(p / (1 - p)) / SIGMOID_SLOPE

    alone, own, half = margin(0.0), margin(1.0), margin(0.5)
    assert alone != pytest.approx(own)
    assert half == pytest.approx((alone + own) / 2, abs=1e-4)


def test_calibration_rewards_a_clear_lead() -> None:
    """The same top score counts for more when the runner-up is far behind."""
    from wiredesk.pipeline.stages.categorize import calibrate

    platt = (5.0, 8.0, -2.0)
    clear = calibrate({"medtop:15000000": 0.5, "medtop:04000000": 0.1}, platt)
    close = calibrate({"medtop:15000000": 0.5, "medtop:04000000": 0.45}, platt)
    assert clear["medtop:15000000"] > close["medtop:15000000"]
    assert close["medtop:15000000"] > close["medtop:04000000"]
