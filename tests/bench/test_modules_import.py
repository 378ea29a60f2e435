"""Every benchmark module imports (they run only under `make bench`, never in the suite)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import wiredesk.bench

MODULES = [m.name for m in pkgutil.iter_modules(wiredesk.bench.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name: str) -> None:
    importlib.import_module(f"wiredesk.bench.{name}")
