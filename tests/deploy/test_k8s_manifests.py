"""deploy/k8s, validated offline: core kinds against the Kubernetes OpenAPI schemas shipped in
kubernetes-validate (strict: unknown fields fail), KEDA kinds against the KEDA CRD models of
cloudcoil-models-keda, and the operational promises checked on the data."""

from __future__ import annotations

import json
import subprocess

import pytest

from .helpers import (
    DEPLOY,
    HEALTH_PORTS,
    REPO,
    SERVICE_COMMANDS,
    load_yaml,
    load_yaml_all,
    missing,
)

K8S = DEPLOY / "k8s"
KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")
KEDA_PYTHON = REPO / ".tools" / "keda-venv" / "bin" / "python"
# Validate with the CRD models and fail on any field they dropped (pydantic ignores extras).
KEDA_CHECK = """
import json, sys
import yaml
from cloudcoil.models.keda import v1alpha1
problems = []
for doc in json.load(sys.stdin):
    model = getattr(v1alpha1, doc["kind"]).model_validate(doc)
    again = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if again != doc:
        problems.append(f"{doc['kind']}: unknown or mistyped fields: {again} != {doc}")
print("\\n".join(problems))
sys.exit(1 if problems else 0)
"""
# Parameters of KEDA's `redis` (lists) scaler; trigger metadata is a free map, so check names.
REDIS_SCALER_PARAMETERS = {
    "address",
    "addressFromEnv",
    "host",
    "hostFromEnv",
    "port",
    "portFromEnv",
    "usernameFromEnv",
    "passwordFromEnv",
    "listName",
    "listLength",
    "activationListLength",
    "enableTLS",
    "unsafeSsl",
    "databaseIndex",
}


def _documents() -> dict[str, list[dict]]:
    return {
        path.name: load_yaml_all(path)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def _by_kind(kind: str) -> dict[str, dict]:
    return {
        doc["metadata"]["name"]: doc
        for docs in _documents().values()
        for doc in docs
        if doc["kind"] == kind
    }


def _core(doc: dict) -> bool:
    return not doc["apiVersion"].startswith("keda.sh/")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_validate_strictly(version: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate")
    count = 0
    for name, docs in _documents().items():
        for doc in filter(_core, docs):
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
            count += 1
    assert count >= 9


def test_keda_manifests_validate_against_the_crd_models() -> None:
    if not KEDA_PYTHON.exists():
        missing("cloudcoil-models-keda (.tools/keda-venv)")
    docs = [doc for docs in _documents().values() for doc in docs if not _core(doc)]
    assert {doc["kind"] for doc in docs} == {"ScaledObject", "TriggerAuthentication"}
    result = subprocess.run(
        [str(KEDA_PYTHON), "-c", KEDA_CHECK],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])  # type: ignore[index]
    # The example Secret is for reading, never applied: real secrets are created by hand.
    expected = {name for name in _documents() if name != "secret.example.yaml"}
    assert listed == expected


def test_commands_are_the_compose_commands() -> None:
    deployments = _by_kind("Deployment")
    for service in ("ingester", "pipeline", "publisher", "desk", "deliver"):
        (container,) = deployments[f"wiredesk-{service}"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == SERVICE_COMMANDS[service]
    (job_container,) = _by_kind("Job")["wiredesk-migrate"]["spec"]["template"]["spec"]["containers"]
    assert job_container["command"] == SERVICE_COMMANDS["migrate"]


def test_read_only_pods_can_write_where_the_app_writes() -> None:
    """The image's WIREDESK_DATA_DIR, PROMETHEUS_MULTIPROC_DIR and /tmp are writable volumes."""
    pods = [d["spec"]["template"]["spec"] for d in _by_kind("Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in _by_kind("Job").values()]
    for pod in pods:
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert {"/var/lib/wiredesk", "/run/wiredesk/metrics", "/tmp"} <= mounts, container["name"]


def test_probes_resources_and_secrets() -> None:
    for name, deployment in _by_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        service = name.removeprefix("wiredesk-")
        port = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            http = container[probe]["httpGet"]
            # Liveness must not depend on Redis/PostgreSQL: an outage would restart every pod.
            # Nor the startup probe: a pod waiting (up to 10 min) for the migrate Job's schema
            # failed /healthz for 60 s and was restarted, again and again.
            expected = "/healthz" if probe == "readinessProbe" else "/livez"
            assert http["path"] == expected, (name, probe)
            assert port[http["port"]] == HEALTH_PORTS[service], (name, probe)
        assert set(container["resources"]) == {"requests", "limits"}, name
        env = {item["name"]: item for item in container["env"]}
        for secret in ("REDIS_URL", "DATABASE_URL"):
            assert env[secret]["valueFrom"]["secretKeyRef"]["name"] == "wiredesk-secrets"
        assert pod["securityContext"]["runAsNonRoot"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/etc/wiredesk", "/run/wiredesk/metrics"} <= mounts, name
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_beat_runs_once() -> None:
    ingester = _by_kind("Deployment")["wiredesk-ingester"]["spec"]
    assert ingester["replicas"] == 1
    assert ingester["strategy"]["type"] == "Recreate"
    targets = {so["spec"]["scaleTargetRef"]["name"] for so in _by_kind("ScaledObject").values()}
    assert "wiredesk-ingester" not in targets


def test_keda_scales_pipeline_on_the_process_list() -> None:
    (scaled,) = _by_kind("ScaledObject").values()
    assert scaled["spec"]["scaleTargetRef"]["name"] in _by_kind("Deployment")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "wiredesk-pipeline"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "process"
    assert set(trigger["metadata"]) <= REDIS_SCALER_PARAMETERS
    auth = _by_kind("TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    secret_keys = set(_by_kind("Secret")["wiredesk-secrets"]["stringData"])
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["name"] == "wiredesk-secrets" and ref["key"] in secret_keys


def test_publisher_service_targets_the_publisher() -> None:
    service = _by_kind("Service")["wiredesk-publisher"]["spec"]
    pod = _by_kind("Deployment")["wiredesk-publisher"]["spec"]["template"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["ports"]
    assert port["targetPort"] == "http"
    env = {item["name"]: item.get("value") for item in pod["spec"]["containers"][0]["env"]}
    assert env["WIREDESK_PUBLISHER_HOST"] == "0.0.0.0"


def test_manifests_name_their_namespace() -> None:
    for name, docs in _documents().items():
        for doc in docs:
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == "wiredesk", (name, doc["kind"])


def test_publisher_keeps_serving_while_it_leaves_the_service() -> None:
    """On SIGTERM gunicorn closes its listening socket at once, while kube-proxy and ingresses
    still send the pod new connections for a few seconds: with no preStop delay, every
    rollout refused some consumers' requests. The delay and gunicorn's 30 s graceful timeout
    must both fit in the grace period."""
    from gunicorn.config import Config as GunicornConfig

    pod = _by_kind("Deployment")["wiredesk-publisher"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and int(command[1]) >= 5
    graceful = GunicornConfig().graceful_timeout
    assert pod["terminationGracePeriodSeconds"] > int(command[1]) + graceful
