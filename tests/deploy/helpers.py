"""Shared helpers for the offline checks of deploy/: where the files are and how to find tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
INSTALL_HINT = "run deploy/install-tools.sh"

# The service commands of issue 2: compose, Kubernetes and `make run` all run exactly these.
SERVICE_COMMANDS: dict[str, list[str]] = {
    "migrate": ["wiredesk", "db", "upgrade"],
    "ingester": ["wiredesk", "serve", "ingester"],
    "pipeline": ["wiredesk", "serve", "pipeline"],
    "publisher": ["wiredesk", "serve", "publisher"],
    "desk": ["wiredesk", "serve", "desk"],
    "deliver": ["wiredesk", "serve", "deliver"],
}
# The /healthz port of each long-running service (DESIGN.md, "Services and names").
HEALTH_PORTS = {"ingester": 9101, "pipeline": 9102, "publisher": 8000, "desk": 8001,
                "deliver": 9103}

_METRIC = re.compile(r"\bwiredesk_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_count", "_sum")


def find_tool(name: str) -> str | None:
    """The project-local copy of a tool (.tools/bin, then the venv), else one on PATH."""
    for candidate in (REPO / ".tools" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """Path of a tool; skip the test when it is missing (fail in CI, which must install it)."""
    path = find_tool(name)
    if path is None:
        missing(name)
    return path


def missing(name: str) -> NoReturn:
    """Skip a test whose tool is not installed; in CI (which must install it) fail instead."""
    message = f"{name} is not installed: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a validator; fail the test with its output when it exits non-zero."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def load_yaml(path: Path) -> object:
    """One YAML document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[dict]:
    """Every non-empty document of a multi-document YAML file."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def metric_contract() -> dict[str, dict]:
    """deploy/prometheus/metrics.yml: the metrics rules and dashboard may use."""
    return load_yaml(DEPLOY / "prometheus" / "metrics.yml")["metrics"]  # type: ignore[index]


def metric_names(text: str) -> set[str]:
    """wiredesk_* metric names used in PromQL text, without histogram series suffixes."""
    names = set()
    for name in _METRIC.findall(text):
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in metric_contract():
                name = name[: -len(suffix)]
        names.add(name)
    return names
