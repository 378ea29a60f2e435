"""Operator-facing HTTP endpoints served by the publisher app: the feed admin JSON API and the
WebSub callback hubs call."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the admin API and the WebSub callback blueprints to ``app``."""
    from wiredesk.admin.api import admin_api
    from wiredesk.admin.websub import websub_callback

    app.register_blueprint(admin_api)
    app.register_blueprint(websub_callback)
