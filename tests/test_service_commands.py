"""`make run`, compose and Kubernetes start the services with the very same commands."""

from __future__ import annotations

import yaml

from tests.helpers import REPO
from wiredesk.cli import SERVICES, service_command


def test_compose_runs_what_make_run_runs() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in SERVICES:
        assert compose["services"][name]["command"] == service_command(name)
    assert compose["services"]["migrate"]["command"] == ["wiredesk", "db", "upgrade"]


def test_make_run_uses_the_wiredesk_run_command() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/wiredesk run" in makefile
