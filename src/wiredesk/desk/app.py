"""The desk's Flask app: the review queue, article pages, decisions, health and metrics."""

from __future__ import annotations

import redis
from flask import Blueprint, Flask, Response, current_app, request

from wiredesk import metrics
from wiredesk.config import Config, load
from wiredesk.store.db import Database
from wiredesk.webops import ops

desk = Blueprint("desk", __name__)


def _db() -> Database:
    return current_app.extensions["wiredesk_db"]  # type: ignore[no-any-return]


def _redis() -> redis.Redis:
    return current_app.extensions["wiredesk_redis"]  # type: ignore[no-any-return]


def create_app(config: Config | None = None) -> Flask:
    """The desk app for ``config`` (read from the environment when not given)."""
    config = config or load()
    app = Flask(__name__)
    app.extensions["wiredesk_config"] = config
    app.extensions["wiredesk_db"] = Database(config)
    app.extensions["wiredesk_redis"] = redis.Redis.from_url(config.redis_url)  # connects on use
    for blueprint in (desk, ops):
        app.register_blueprint(blueprint)

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        metrics.DESK_REQUESTS.labels(endpoint, f"{response.status_code // 100}xx").inc()
        return response

    return app
