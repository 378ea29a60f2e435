"""`wiredesk serve deliver`: the service consuming the ``deliver`` queue, as compose, Kubernetes
and `wiredesk run` start it, verifies a subscription and reports it on /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.deliver.conftest import BASE
from tests.deliver.subscriber import Subscriber
from tests.helpers import fetch_text, free_port, serve_env, served, stop, wait_until
from tests.test_services import status_of_or_none


def test_serve_deliver_verifies_subscriptions_and_reports_them(
        config: Any, database: Any, hub_client: Any, subscriber: Subscriber,
        tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(config, tmp_path / "data", WIREDESK_WORKER_CONCURRENCY="1",
                    WIREDESK_DELIVER_THREADS="2", WIREDESK_DELIVER_METRICS_PORT=str(port),
                    WIREDESK_FETCH_ALLOW_NETWORKS="127.0.0.1/32", WIREDESK_PUBLIC_URL=BASE)
    log_path = tmp_path / "deliver.log"
    with served("deliver", env, log_path) as child:
        wait_until(lambda: status_of_or_none(f"http://127.0.0.1:{port}/healthz") == 200,
                   timeout=60, interval=0.2, message="the deliver service")
        assert hub_client.post("/websub/hub", data={
            "hub.mode": "subscribe", "hub.topic": f"{BASE}/feeds/all.rss",
            "hub.callback": subscriber.url()}).status_code == 202
        wait_until(lambda: subscriber.verifications, timeout=30, message="the verification")

        def gauge() -> str:
            return fetch_text(f"http://127.0.0.1:{port}/metrics")

        wait_until(lambda: "wiredesk_deliver_active_subscriptions 1.0" in gauge(), timeout=30,
                   message="the active subscription on /metrics")
        assert 'wiredesk_deliver_verifications_total{outcome="verified"} 1.0' in gauge()
        assert stop(child) == 0
    assert "Traceback" not in log_path.read_text(errors="replace")
