"""Fixtures for the stage tests: golden wire stories and a corpus locator that skips when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiredesk.evaluation.corpus import labeled

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "stages"


@pytest.fixture
def corpus_file():
    """Return a labeled-corpus path, skipping the test when the shared corpus is absent."""

    def locate(relative: str) -> Path:
        path = labeled(relative)
        if path is None:
            pytest.skip(f"shared corpus file {relative} not found (set WIREDESK_CORPUS_DIR)")
        return path

    return locate
