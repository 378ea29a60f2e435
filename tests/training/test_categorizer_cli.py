"""The training command: extra examples only (no corpus needed), versioned artifact."""

from __future__ import annotations

import json
from pathlib import Path

from wiredesk.pipeline.stages.categorize import MODEL_FILENAME, load_categorizer
from wiredesk.training import categorizer as training


def test_train_command_from_extra_examples(tmp_path: Path, capsys) -> None:
    extra = tmp_path / "corrections.jsonl"
    rows = [
        {"text": "Le match de football s'est terminé par un but", "language": "fr",
         "qcodes": ["medtop:15000000"]},
        {"text": "La banque centrale relève ses taux d'intérêt", "language": "fr",
         "qcodes": ["medtop:04000000"]},
    ] * 60
    extra.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    out = tmp_path / "models" / MODEL_FILENAME
    training.main(["--no-corpus", "--extra", str(extra), "--out", str(out)])
    assert out.is_file() and out.name == MODEL_FILENAME
    model = load_categorizer(out)
    assert model.speaks("fr") and model.metadata["examples"] == 120
    assert "models for ['fr']" in capsys.readouterr().out


def test_training_without_the_corpus_says_where_it_looked(tmp_path: Path) -> None:
    """`wiredesk train categorizer` with no corpus at WIREDESK_CORPUS_DIR (a fresh install,
    a typo) was a FileNotFoundError traceback from deep in the loader."""
    from click.testing import CliRunner

    from wiredesk.cli import main

    env = {"WIREDESK_CORPUS_DIR": str(tmp_path / "no-corpus"),
           "WIREDESK_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "REDIS_URL": ""}
    result = CliRunner().invoke(main, ["train", "categorizer"], env=env)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert str(tmp_path / "no-corpus") in result.stderr
    assert "--no-corpus" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("usage: wiredesk train categorizer")
