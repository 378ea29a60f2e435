"""docker-compose.yml, validated offline: Compose v2 itself, the Compose JSON schema, and the
promises the operators rely on (commands, healthchecks, start order, scaling)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .helpers import (
    COMPOSE_FILE,
    HEALTH_PORTS,
    REPO,
    SERVICE_COMMANDS,
    find_tool,
    require_tool,
    run,
)

APP_SERVICES = tuple(SERVICE_COMMANDS)


# What an operator puts in .env (deploy/README.md): compose refuses to start without it.
OPERATOR_ENV = {"WIREDESK_DESK_SECRET_KEY": "a-long-random-string-for-the-tests"}


def _compose_env(docker_config: Path | None = None, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("COMPOSE_") and k not in OPERATOR_ENV}
    env.update(OPERATOR_ENV)
    env.update(overrides)
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    return env


def test_compose_v2_accepts_the_file() -> None:
    binary = require_tool("docker-compose")
    assert "Docker Compose version" in run([binary, "version"]).stdout
    run([binary, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO, env=_compose_env())


def test_compose_v2_as_docker_cli_plugin(tmp_path: Path) -> None:
    """`docker compose config` with the same binary linked as a CLI plugin."""
    binary = require_tool("docker-compose")
    docker = find_tool("docker")
    if docker is None:
        pytest.skip("no docker client on this machine (the direct compose check still runs)")
    docker_config = REPO / ".tools" / "docker"
    if not (docker_config / "cli-plugins" / "docker-compose").exists():
        docker_config = tmp_path / "docker"
        (docker_config / "cli-plugins").mkdir(parents=True)
        (docker_config / "cli-plugins" / "docker-compose").symlink_to(binary)
    env = _compose_env(docker_config)
    run([docker, "compose", "version"], env=env)
    run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO, env=env)


def test_pipeline_scales(tmp_path: Path) -> None:
    """What `--scale pipeline=3` does, checked by Compose: no fixed container name."""
    binary = require_tool("docker-compose")
    override = tmp_path / "scale.yml"
    override.write_text("services:\n  pipeline:\n    scale: 3\n", encoding="utf-8")
    run(
        [binary, "-f", str(COMPOSE_FILE), "-f", str(override), "config", "-q"],
        cwd=REPO,
        env=_compose_env(),
    )


@pytest.mark.parametrize("unset", [None, ""])
def test_compose_refuses_to_start_without_the_desk_secret_key(unset: str | None) -> None:
    """Without WIREDESK_DESK_SECRET_KEY compose started everything and the desk, which
    refuses to run without it, restarted in a loop: an operator saw a desk that never came
    up and had to dig the reason out of its logs. Compose now stops before starting anything
    and says which variable to set, and where."""
    binary = require_tool("docker-compose")
    env = _compose_env()
    if unset is None:
        del env["WIREDESK_DESK_SECRET_KEY"]
    else:
        env["WIREDESK_DESK_SECRET_KEY"] = unset
    result = subprocess.run([binary, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "WIREDESK_DESK_SECRET_KEY" in result.stderr and ".env" in result.stderr, result.stderr


def test_the_desk_gets_the_operators_secret_key() -> None:
    binary = require_tool("docker-compose")
    config = json.loads(run([binary, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
                            cwd=REPO, env=_compose_env()).stdout)
    desk = config["services"]["desk"]["environment"]
    assert desk["WIREDESK_DESK_SECRET_KEY"] == OPERATOR_ENV["WIREDESK_DESK_SECRET_KEY"]


def test_compose_json_schema() -> None:
    checker = require_tool("check-jsonschema")
    run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)])


def test_service_commands_are_the_wiredesk_commands(compose_file: dict) -> None:
    commands = {name: compose_file["services"][name].get("command") for name in SERVICE_COMMANDS}
    assert commands == SERVICE_COMMANDS


def test_app_services_share_one_image(compose_file: dict) -> None:
    services = compose_file["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    builds = {repr(services[name]["build"]) for name in APP_SERVICES}
    assert len(images) == 1 and len(builds) == 1
    assert services["ingester"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / "deploy" / "Dockerfile").is_file()


def test_start_order(compose_file: dict) -> None:
    services = compose_file["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("ingester", "pipeline", "publisher", "desk", "deliver"):
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_healthcheck(compose_file: dict) -> None:
    services = compose_file["services"]
    for name, service in services.items():
        if name == "migrate":
            continue
        assert "test" in service.get("healthcheck", {}), name
    for name, port in HEALTH_PORTS.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe and "urllib" in probe, name


def test_redis_is_a_safe_broker(compose_file: dict) -> None:
    command = compose_file["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-cli ping" in " ".join(compose_file["services"]["redis"]["healthcheck"]["test"])


def test_pipeline_has_no_fixed_name_or_host_port(compose_file: dict) -> None:
    pipeline = compose_file["services"]["pipeline"]
    assert "container_name" not in pipeline
    assert "ports" not in pipeline


def test_environment_names_the_app_reads(compose_file: dict) -> None:
    env = compose_file["services"]["publisher"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["WIREDESK_PUBLISHER_HOST"] == "0.0.0.0"
    assert env["WIREDESK_FEEDS_FILE"] == "/etc/wiredesk/feeds.yaml"
    assert (REPO / "deploy" / "config" / "feeds.yaml").is_file()
    assert env["PROMETHEUS_MULTIPROC_DIR"]
    assert env["WIREDESK_METRICS_HOST"] == "0.0.0.0"
    (port,) = compose_file["services"]["publisher"]["ports"]
    assert port.endswith(":8000")


def test_prometheus_and_grafana_mount_deploy_files(compose_file: dict) -> None:
    prometheus = " ".join(compose_file["services"]["prometheus"]["volumes"])
    assert "./deploy/prometheus/prometheus.yml:" in prometheus
    assert "./deploy/prometheus/rules:/etc/prometheus/rules" in prometheus
    grafana = " ".join(compose_file["services"]["grafana"]["volumes"])
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards" in grafana


def _seconds(duration: str) -> float:
    """A compose duration ("90s", "2m30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0.0, ""
    for char in str(duration):
        if char.isdigit() or char == ".":
            number += char
        else:
            total, number = total + float(number) * units[char], ""
    return total


def test_pipeline_stop_grace_outlasts_a_task(compose_file: dict) -> None:
    """Kubernetes gives the pipeline 150 s for its warm shutdown; compose gave 60 s, so a
    `docker compose up -d` of a new image SIGKILLed tasks still within their 120 s time limit
    (redelivered only after the broker's visibility timeout, minutes later)."""
    from wiredesk.config import Config

    grace = _seconds(compose_file["services"]["pipeline"]["stop_grace_period"])
    assert grace > Config().task_time_limit


def test_publisher_stop_grace_outlasts_gunicorns_graceful_timeout(compose_file: dict) -> None:
    """On SIGTERM gunicorn lets the requests in flight finish for up to its graceful timeout;
    compose stopped the publisher after Docker's default 10 s (Kubernetes gives it 45 s)."""
    from gunicorn.config import Config as GunicornConfig

    grace = compose_file["services"]["publisher"].get("stop_grace_period", "10s")
    assert _seconds(grace) > GunicornConfig().graceful_timeout
