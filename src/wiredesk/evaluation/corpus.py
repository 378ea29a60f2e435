"""Where the shared evaluation corpus lives: `<repo>/../shared/corpus`, or WIREDESK_CORPUS_DIR."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wiredesk import config

_REPO = Path(__file__).resolve().parents[3]


def corpus_dir() -> Path:
    """The corpus folder (it may not exist: callers skip with a reason)."""
    override = config.load().corpus_dir
    return Path(override) if override else _REPO.parent / "shared" / "corpus"


def read_jsonl(relative: str) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file under the corpus folder, read in place."""
    with (corpus_dir() / relative).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
