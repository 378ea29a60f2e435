"""deploy/Dockerfile: linted with hadolint, and the promises of the one app image."""

from __future__ import annotations

import re

from .helpers import DEPLOY, HEALTH_PORTS, REPO, require_tool, run

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


def test_every_service_port_in_the_config_is_exposed() -> None:
    """EXPOSE listed 8000, 8001, 9101 and 9102 but not deliver's 9103, so a platform that
    reads the image's ports (``docker run -P``, a PaaS) never reached deliver's /metrics and
    /healthz. Every port setting of a service is exposed, and nothing else."""
    from dataclasses import fields

    from wiredesk.config import Config

    loopback_only = {"sample_feeds_port"}  # `make run`'s sample feed server, never in the image
    defaults = Config()
    ports = {getattr(defaults, f.name) for f in fields(Config)
             if f.name.endswith("_port") and f.name not in loopback_only}
    exposed = {int(port) for op, arg in _instructions() if op == "EXPOSE"
               for port in arg.split()}
    assert exposed == ports
    assert set(HEALTH_PORTS.values()) == ports
