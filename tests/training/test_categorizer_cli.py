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
