"""Where the shared evaluation corpus lives, and small readers for its labeled sets.

The corpus is read in place and never copied into the repository; tests skip when it is absent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wiredesk import config

REPO_ROOT = Path(__file__).resolve().parents[3]


def configured_dir() -> Path:
    """Where the corpus should be: WIREDESK_CORPUS_DIR or `<repo>/../shared/corpus`."""
    configured = config.load().corpus_dir
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"


def corpus_dir() -> Path | None:
    """The corpus folder, None when it is absent."""
    path = configured_dir()
    return path if path.is_dir() else None


def labeled(relative: str) -> Path | None:
    """A path under `labeled/`, None when the corpus or that file is absent."""
    root = corpus_dir()
    if root is None:
        return None
    path = root / "labeled" / relative
    return path if path.exists() else None


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_tsv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a TSV file with a header line."""
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
