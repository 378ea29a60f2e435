"""Fixtures for the deploy/ checks."""

from __future__ import annotations

import pytest

from .helpers import COMPOSE_FILE, load_yaml


@pytest.fixture(scope="session")
def compose_file() -> dict:
    """docker-compose.yml as data (anchors and merge keys resolved)."""
    return load_yaml(COMPOSE_FILE)  # type: ignore[return-value]
