"""The desk over HTTP (Flask's test client): health, metrics."""

from __future__ import annotations

from typing import Any


def test_health_and_metrics(desk_app: Any) -> None:
    client = desk_app.test_client()
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/livez").text == "alive\n"
    assert 'wiredesk_desk_requests_total{endpoint="ops.healthz",status="2xx"}' in client.get(
        "/metrics").text
