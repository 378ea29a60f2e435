"""`wiredesk run` (what `make run` starts) on embedded defaults: stories appear, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import REPO, fetch_text, free_port, wait_until


def fetch_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def exposed(pages: list[str]) -> dict[str, set[str]]:
    """Each wiredesk_* family on these /metrics pages that has samples, by its series name
    (counters with ``_total``), with the labels of its samples (``le`` aside)."""
    found: dict[str, set[str]] = {}
    for page in pages:
        for family in text_string_to_metric_families(page):
            if family.name.startswith("wiredesk_") and family.samples:
                name = family.name + ("_total" if family.type == "counter" else "")
                found.setdefault(name, set()).update(
                    label for sample in family.samples for label in sample.labels if label != "le")
    return found


def read_by_operators() -> dict[str, set[str]]:
    """The metrics the alert rules and the Grafana dashboard read, with their contract labels."""
    from tests.deploy.helpers import metric_contract, metric_names

    text = "\n".join(path.read_text(encoding="utf-8") for path in (
        REPO / "deploy/prometheus/rules/wiredesk.rules.yml",
        REPO / "deploy/grafana/dashboards/wiredesk.json"))
    contract = metric_contract()
    return {name: set(contract[name]["labels"]) for name in metric_names(text)}


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_run_serves_sample_stories_and_stops_cleanly(tmp_path: Path) -> None:
    port, ingester_port, pipeline_port = free_port(), free_port(), free_port()
    desk_port, deliver_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "WIREDESK_DATA_DIR": str(tmp_path / "data"),
        "WIREDESK_SAMPLE_FEEDS": "1",
        "WIREDESK_SAMPLE_FEEDS_PORT": str(free_port()),
        "WIREDESK_PUBLISHER_PORT": str(port),
        "WIREDESK_PUBLISHER_WORKERS": "1",
        "WIREDESK_DESK_PORT": str(desk_port),
        "WIREDESK_INGESTER_METRICS_PORT": str(ingester_port),
        "WIREDESK_PIPELINE_METRICS_PORT": str(pipeline_port),
        "WIREDESK_DELIVER_METRICS_PORT": str(deliver_port),
        "WIREDESK_WORKER_CONCURRENCY": "1",
        "WIREDESK_SCHEDULE_EVERY_SECONDS": "1",
    })
    log = (tmp_path / "run.log").open("wb")
    child = subprocess.Popen([sys.executable, "-m", "wiredesk", "run"], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    try:
        def six_stories() -> bool:
            body = fetch_json(f"http://127.0.0.1:{port}/api/v1/stories")
            return bool(body) and len(body["data"]) == 6

        wait_until(six_stories, timeout=90, interval=0.5, message="the sample stories")
        # The desk counts its requests: one answered before the scrape below.
        wait_until(lambda: answers(f"http://127.0.0.1:{desk_port}/healthz"), timeout=30,
                   interval=0.5, message="the desk")
        # Every service reports what it did (multiprocess metrics from worker children).
        expectations = {
            ingester_port: 'wiredesk_ingest_fetches_total{outcome="ok"} 4.0',
            pipeline_port: 'wiredesk_pipeline_stage_items_total{outcome="publish",stage="route"}',
            port: "wiredesk_publisher_requests_total",
            desk_port: "wiredesk_desk_requests_total",
            deliver_port: "wiredesk_deliver_active_subscriptions 0.0",
        }
        for metrics_port, needle in expectations.items():
            assert needle in fetch_text(f"http://127.0.0.1:{metrics_port}/metrics")
            assert fetch_text(f"http://127.0.0.1:{metrics_port}/healthz").strip() == "ok"
            assert fetch_text(f"http://127.0.0.1:{metrics_port}/livez").strip() == "alive"
        pipeline_metrics = fetch_text(f"http://127.0.0.1:{pipeline_port}/metrics")
        assert "wiredesk_queue_depth" in pipeline_metrics
        # No trained model in the data dir: the workers answer from the lexicon alone.
        assert "\nwiredesk_pipeline_categorizer_model_languages 0.0\n" in pipeline_metrics
        # What alerts and panels read is there from the start, with its labels: before the
        # first push or tier-3 wait, the deliveries and waits counters had no series at all
        # (their panels empty, and the first increments after a restart lost to rate()).
        pages = [fetch_text(f"http://127.0.0.1:{p}/metrics") for p in expectations]
        live = exposed(pages)
        assert {name: live.get(name) for name in read_by_operators()} == read_by_operators()
        # The desk reads its review queue from the database at scrape time.
        assert "\nwiredesk_desk_review_queue_articles " in fetch_text(
            f"http://127.0.0.1:{desk_port}/metrics")
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert "embedded Valkey" in output and "stopped" in output
    assert (tmp_path / "data" / "wiredesk.db").exists()
    # What a newcomer reads: where things are and the warnings that matter (no trained
    # categorizer yet), not 300-odd lines of Alembic plugins and migrations, Celery banners,
    # one line per task, gunicorn's boots, and Celery's root warning once per worker process.
    assert f"publisher: http://127.0.0.1:{port}/" in output
    assert "no categorizer model" in output
    for noise in ("alembic.runtime", "superuser privileges", "[tasks]", "] received",
                  "succeeded in", "Booting worker", "Sending due task"):
        assert noise not in output, noise
    if os.geteuid() == 0:  # said once, by `wiredesk run`
        assert output.count("as root") == 1
    assert len(output.splitlines()) < 40, output
