"""deploy/Dockerfile: linted with hadolint, and the promises of the one app image."""

from __future__ import annotations

import re

from .helpers import DEPLOY, REPO, require_tool, run

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_hadolint() -> None:
    hadolint = require_tool("hadolint")
    run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)])


def test_one_slim_image_installed_from_the_lock() -> None:
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [arg for op, arg in steps if op == "RUN"]
    lock = next(i for i, arg in enumerate(runs) if "pip install -r requirements.lock" in arg)
    project = next(i for i, arg in enumerate(runs) if "pip install --no-deps ." in arg)
    assert lock < project


def test_runs_as_a_non_root_user() -> None:
    users = [arg for op, arg in _instructions() if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_build_context_lets_in_what_the_image_copies() -> None:
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for needed in ("!requirements.lock", "!pyproject.toml", "!src/"):
        assert needed in ignore
