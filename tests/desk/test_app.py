"""The desk over HTTP (Flask's test client): health, metrics."""

from __future__ import annotations

from typing import Any


def test_health_and_metrics(desk_app: Any) -> None:
    client = desk_app.test_client()
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/livez").text == "alive\n"
    assert 'wiredesk_desk_requests_total{endpoint="ops.healthz",status="2xx"}' in client.get(
        "/metrics").text


def sample_value(text: str, name: str) -> float | None:
    """The value of a sample (``name`` with its labels, if any) in a /metrics page."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def test_metrics_show_the_review_queue(desk_app: Any, database: Any, celery_app: Any) -> None:
    """Operators could not see articles waiting for an editor, nor for how long: a desk nobody
    watched held stories back unnoticed. /metrics now says how many wait and the oldest's wait."""
    from datetime import timedelta

    from tests.desk.conftest import hold, store_sample
    from wiredesk.store import models

    client = desk_app.test_client()
    empty = client.get("/metrics").text
    assert sample_value(empty, "wiredesk_desk_review_queue_articles") == 0
    assert sample_value(empty, "wiredesk_desk_review_oldest_wait_seconds") == 0
    held = hold(celery_app, store_sample(database, "arabic-wire.xml")[:2])
    with database.session() as session:
        row = session.get(models.Article, held[0])
        row.status_changed_at -= timedelta(hours=2)
    waiting = client.get("/metrics").text
    assert sample_value(waiting, "wiredesk_desk_review_queue_articles") == 2
    assert 7200 <= sample_value(waiting, "wiredesk_desk_review_oldest_wait_seconds") < 7300


def test_decisions_are_counted_from_zero(desk_app: Any) -> None:
    """Before the first decision after a start the desk exposed no decisions series, so
    increase() over it saw nothing when an editor then decided: "nobody decided in the last
    hour" held while editors worked. Each decision's series now starts at 0."""
    exposed = desk_app.test_client().get("/metrics").text
    for channel in ("desk", "api", "cli"):
        for decision in ("approve", "reject"):
            assert sample_value(exposed, "wiredesk_desk_decisions_total"
                                f'{{channel="{channel}",decision="{decision}"}}') == 0


def test_every_decision_is_counted_whichever_way_it_is_taken(
        desk_app: Any, config: Any, database: Any, celery_app: Any) -> None:
    """WiredeskReviewQueueUnattended read the desk's own decisions alone: a newsroom deciding
    through the admin API or the CLI worked its queue and was still paged. Every decision now
    counts on the desk's /metrics, labelled with the way it was taken."""
    from tests.desk.conftest import csrf_token, hold, log_in, store_sample
    from tests.test_cli import run
    from wiredesk.publisher.app import create_app as create_publisher

    held = hold(celery_app, store_sample(database, "world-wire.xml"))
    client = desk_app.test_client()
    assert log_in(client).status_code == 303
    assert client.post(f"/articles/{held[0]}/decision", data={
        "decision": "approve", "csrf_token": csrf_token(client, "/")}).status_code == 303
    publisher = create_publisher(config.replace(admin_token="t0ken"))
    publisher.extensions["wiredesk_db"] = database
    assert publisher.test_client().post(
        f"/admin/api/review/{held[1]}", headers={"Authorization": "Bearer t0ken"},
        json={"decision": "reject", "editor": "omar"}).status_code == 200
    decided = run(config, "review", "decide", held[2], "approve", "--editor", "amal")
    assert decided.exit_code == 0, decided.output
    exposed = client.get("/metrics").text
    counted = {(channel, decision): sample_value(
        exposed, f'wiredesk_desk_decisions_total{{channel="{channel}",decision="{decision}"}}')
        for channel in ("desk", "api", "cli") for decision in ("approve", "reject")}
    assert counted == {("desk", "approve"): 1, ("desk", "reject"): 0, ("api", "approve"): 0,
                       ("api", "reject"): 1, ("cli", "approve"): 1, ("cli", "reject"): 0}
