"""What every Flask service (publisher, desk) serves for operators: /healthz, /livez, /metrics.

The app keeps its Database in ``app.extensions["wiredesk_db"]``, and may keep in
``app.extensions["wiredesk_scrape_registry"]`` collectors read at scrape time (its own state,
the same whichever process answers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wiredesk import metrics

ops = Blueprint("ops", __name__)


def celery_client() -> Any:
    """The app's Celery client (made on first use, from its config), for sending tasks."""
    ext = current_app.extensions
    if "wiredesk_celery" not in ext:
        from wiredesk.broker import create_celery

        ext["wiredesk_celery"] = create_celery(ext["wiredesk_config"])
    return ext["wiredesk_celery"]


@ops.get("/healthz")
def healthz() -> Response:
    try:
        ready = current_app.extensions["wiredesk_db"].schema_ready()
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return Response(f"database unavailable: {type(exc).__name__}\n", 503, mimetype="text/plain")
    if not ready:  # started before the migrate Job finished
        return Response("database schema not migrated: run `wiredesk db upgrade`\n", 503,
                        mimetype="text/plain")
    return Response("ok\n", mimetype="text/plain")


@ops.get("/livez")
def livez() -> Response:
    """The process answers; no dependency is checked (Kubernetes liveness, see /healthz)."""
    return Response("alive\n", mimetype="text/plain")


@ops.get("/metrics")
def metrics_endpoint() -> Response:
    body = generate_latest(metrics.registry())
    scraped = current_app.extensions.get("wiredesk_scrape_registry")
    if scraped is not None:
        body += generate_latest(scraped)
    # content_type, not mimetype: Flask would add a second charset to the one it names.
    return Response(body, content_type=CONTENT_TYPE_LATEST)
