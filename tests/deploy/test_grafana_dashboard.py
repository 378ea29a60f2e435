"""The provisioned Grafana datasource and dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

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

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "wiredesk.json").read_text(encoding="utf-8"))


def _queries(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_datasource_is_provisioned_with_the_uid_the_panels_use() -> None:
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for panel in _dashboard()["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "wiredesk.yml")["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert DASHBOARDS


def test_dashboard_layout() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "wiredesk-overview"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for y in range(grid["y"], grid["y"] + grid["h"]):  # no two panels share a cell
            for x in range(grid["x"], grid["x"] + grid["w"]):
                assert (x, y) not in taken, (panel["title"], taken.get((x, y)))
                taken[x, y] = panel["title"]


def test_dashboard_shows_what_operators_need() -> None:
    used = metric_names("\n".join(_queries(_dashboard())))
    assert used <= set(metric_contract()), used - set(metric_contract())
    # Every contracted metric is on the dashboard.
    assert used == set(metric_contract())


def test_dashboard_queries_use_only_labels_their_metrics_have() -> None:
    """A panel filtering or grouping on a label its series lack shows nothing, or one line
    where there should be several, and no tool complains."""
    problems = {
        panel["title"]: found for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
        if (found := label_problems(target["expr"], legend=target.get("legendFormat", "")))}
    assert problems == {}


def test_services_up_shows_every_service() -> None:
    """The deliver service (pushes to subscribers) was missing from the "Services up" panel."""
    (panel,) = [p for p in _dashboard()["panels"] if p["title"] == "Services up"]
    (target,) = panel["targets"]
    (jobs,) = re.findall(r'up\{job=~"([^"]+)"\}', target["expr"])
    assert set(jobs.split("|")) == set(HEALTH_PORTS)


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool parses every panel query (as a recording rule; Grafana's $__ variables filled)."""
    promtool = require_tool("promtool")
    rules = [
        {"record": f"wiredesk:dashboard_query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, expr in enumerate(_queries(_dashboard()))
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run([promtool, "check", "rules", str(path)])


# An aggregation straight around a rate or increase of a metric: sum by (cause) (increase(...
_AGGREGATED = re.compile(r"\b(sum|max|min|avg|count)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?"
                         r"\(\s*(?:rate|increase)\(\s*(wiredesk_[a-z0-9_]+)")


def test_counters_every_desk_reports_whole_are_not_added_up_across_desks() -> None:
    """Each desk process reports the newsroom's whole count (read from Redis at scrape time),
    so summed over the desk's replicas (2 in deploy/k8s) a panel showed every kill twice."""
    from wiredesk.metrics import NEWSROOM_COUNTERS

    reported_whole = {f"{counter.name}_total" for counter in NEWSROOM_COUNTERS}
    aggregations = [(found.group(1), found.group(2)) for expr in _queries(_dashboard())
                    for found in _AGGREGATED.finditer(expr) if found.group(2) in reported_whole]
    assert {name for _, name in aggregations} == reported_whole  # each is on the dashboard
    assert [(how, name) for how, name in aggregations if how != "max"] == []
