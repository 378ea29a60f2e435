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
# PromQL, read just far enough to find label names: selectors' matchers and grouping clauses.
_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NAME = re.compile(r"\b(?:wiredesk_[a-z0-9_]+|up|ALERTS)\b")
_TEMPLATE_LABEL = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")  # alert annotations
_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")  # Grafana legends
# What Prometheus puts on every scraped series, and the series it makes itself.
TARGET_LABELS = frozenset({"job", "instance"})
BUILTIN_SERIES = {"up": TARGET_LABELS,
                  "ALERTS": TARGET_LABELS | {"alertname", "alertstate", "severity"}}


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


def series_labels(name: str) -> set[str] | None:
    """The labels a series of ``name`` may carry once scraped (None: no such series): its
    contract labels, the target's, and ``le`` on a histogram's buckets."""
    if name in BUILTIN_SERIES:
        return set(BUILTIN_SERIES[name])
    contract = metric_contract()
    if name in contract:
        return set(contract[name]["labels"]) | TARGET_LABELS
    for suffix in _SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and contract.get(base, {}).get("type") == "histogram":
            return set(contract[base]["labels"]) | TARGET_LABELS | ({"le"} if suffix == "_bucket"
                                                                    else set())
    return None


def label_problems(expr: str, annotations: str = "", legend: str = "") -> list[str]:
    """Where a PromQL expression, or the text showing its result (an alert's annotations, a
    panel's legend), names a label its series do not have: each selector's matchers against
    that metric's labels; grouping clauses and the labels shown against every metric used."""
    problems: list[str] = []
    present: set[str] = set()
    for name, matchers in _SELECTOR.findall(expr):
        labels = series_labels(name)
        if labels is None:
            problems.append(f"{name}: no such series in the contract")
            continue
        problems += [f"{name} has no label {label!r}" for label in _MATCHER.findall(matchers)
                     if label not in labels]
    for name in set(_NAME.findall(expr)):
        present |= series_labels(name) or set()
    for clause in _GROUPING.findall(expr):
        problems += [f"grouping by {label!r}, which no series here has"
                     for label in (part.strip() for part in clause.split(","))
                     if label and label not in present]
    shown = set(_TEMPLATE_LABEL.findall(annotations)) | set(_LEGEND_LABEL.findall(legend))
    problems += [f"shows label {label!r}, which no series here has"
                 for label in sorted(shown - present)]
    return problems
