"""Prometheus scrape config and alert rules: checked and unit-tested with promtool."""

from __future__ import annotations

import re

from .helpers import (
    DEPLOY,
    HEALTH_PORTS,
    label_problems,
    load_yaml,
    metric_contract,
    metric_names,
    require_tool,
    run,
)

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules" / "wiredesk.rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))


def _alerts() -> dict[str, dict]:
    groups = load_yaml(RULES)["groups"]  # type: ignore[index]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_promtool_check_config() -> None:
    promtool = require_tool("promtool")
    run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    out = run([promtool, "check", "rules", str(RULES)]).stdout
    assert f"{len(_alerts())} rules found" in out


def test_promtool_test_rules() -> None:
    promtool = require_tool("promtool")
    assert RULE_TESTS, "no deploy/prometheus/tests/*.test.yml"
    run([promtool, "test", "rules", *[path.name for path in RULE_TESTS]], cwd=RULE_TESTS[0].parent)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:  # type: ignore[index]
            for check in case.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert set(_alerts()) == fired
    assert set(_alerts()) == quiet


def test_the_alerts_the_design_asks_for() -> None:
    assert {
        "WiredeskServiceDown",
        "WiredeskServiceMissing",
        "WiredeskFetchErrorRatioHigh",
        "WiredeskArticlesFailing",
        "WiredeskPipelineStalled",
        "WiredeskQueueBacklogGrowing",
        "WiredeskIngestToPublishSlow",
        "WiredeskFeedsInError",
        "WiredeskPublisherErrors",
    } <= set(_alerts())
    for name, rule in _alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_rules_use_only_contracted_metrics() -> None:
    used = metric_names(RULES.read_text(encoding="utf-8"))
    assert used <= set(metric_contract()), used - set(metric_contract())


def test_rules_use_only_labels_their_metrics_have() -> None:
    """A selector, a grouping or an annotation naming a label the series do not carry (one
    renamed in the app, or a typo) leaves an alert that never fires, or fires saying nothing:
    promtool accepts it, and the rule tests only feed the series they were written with."""
    problems = {name: found for name, rule in _alerts().items()
                if (found := label_problems(rule["expr"], "\n".join(rule["annotations"].values())))}
    assert problems == {}


def test_every_service_is_watched_down_and_missing() -> None:
    """The desk was scraped and watched for being down, but not for having no target at all:
    with no desk running, editors could not work and no alert said so."""
    services = set(HEALTH_PORTS)
    (down,) = re.findall(r'up\{job=~"([^"]+)"\}', _alerts()["WiredeskServiceDown"]["expr"])
    assert set(down.split("|")) == services
    missing = _alerts()["WiredeskServiceMissing"]["expr"]
    assert set(re.findall(r'absent\(up\{job="([^"]+)"\}\)', missing)) == services


def test_every_service_is_scraped_on_its_health_port() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}  # type: ignore[index]
    for service, port in HEALTH_PORTS.items():
        (sd,) = jobs[service]["dns_sd_configs"]
        # DNS discovery finds every replica of a scaled service.
        assert sd["names"] == [service] and sd["port"] == port and sd["type"] == "A"
    assert config["rule_files"] == ["rules/*.yml"]  # type: ignore[index]
