"""Language detection: restricted model, hints as tie-breakers, corpus accuracy."""

from __future__ import annotations

import pytest

from wiredesk.config import Config
from wiredesk.evaluation.corpus import read_tsv
from wiredesk.pipeline.stages.language import identify, primary_subtag

LANGS = Config().news_languages


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The central bank raised interest rates again on Thursday.", "en"),
        ("Le gouvernement a annoncé jeudi de nouvelles mesures budgétaires.", "fr"),
        ("وقالت الحكومة إنها ستعلن عن إجراءات جديدة الأسبوع المقبل", "ar"),
        ("国务院常务会议研究部署进一步稳定外贸的政策措施", "zh"),
        ("Правительство объявило о новых мерах поддержки экономики", "ru"),
        ("El Gobierno anunció nuevas medidas económicas este jueves", "es"),
        ("Die Regierung kündigte am Donnerstag neue Maßnahmen an", "de"),
    ],
)
def test_identifies_news_sentences(text, language):
    guess = identify(text, LANGS)
    assert guess.language == language
    assert guess.confidence > 0.5


def test_hint_wins_on_too_short_text():
    assert identify("PARIS", LANGS, hint="fr").language == "fr"
    assert identify("ok", LANGS, hint="en-GB").language == "en"


def test_hint_does_not_override_clear_text():
    assert identify("وقالت الحكومة إنها ستعلن عن إجراءات", LANGS, hint="en").language == "ar"


def test_no_letters_falls_back_to_hint():
    assert identify("2025 - 10:30", LANGS, hint="de").language == "de"
    assert identify("", LANGS).language is None


def test_hint_outside_the_configured_set_is_ignored():
    assert identify("The central bank raised rates.", LANGS, hint="xx").language == "en"


def test_primary_subtag():
    assert primary_subtag("zh_Hans_CN") == "zh"
    assert primary_subtag("EN-us") == "en"
    assert primary_subtag("") is None


@pytest.mark.parametrize(
    ("folder", "language"),
    [
        ("arb_Arab", "ar"),
        ("zho_Hans", "zh"),
        ("rus_Cyrl", "ru"),
        ("fra_Latn", "fr"),
        ("eng_Latn", "en"),
    ],
)
def test_sib200_test_sentences(corpus_file, folder, language):
    rows = list(read_tsv(corpus_file(f"sib200/{folder}/test.tsv")))
    right = sum(identify(r["text"], LANGS).language == language for r in rows)
    assert right / len(rows) >= 0.99
