"""What the Flask services (publisher, desk) serve operators: /metrics, /healthz, /livez."""

from __future__ import annotations

from typing import Any

import pytest

from wiredesk.config import Config


def _app(name: str, config: Config, database: Any) -> Any:
    if name == "publisher":
        from wiredesk.publisher.app import create_app
    else:
        from wiredesk.desk.app import create_app
    app = create_app(config.replace(desk_secret_key="webops-test-secret"))
    app.extensions["wiredesk_db"] = database
    return app.test_client()


@pytest.mark.parametrize("name", ["publisher", "desk"])
def test_metrics_content_type_names_its_charset_once(name: str, config: Config,
                                                     database: Any) -> None:
    """The Flask services sent ``text/plain; version=1.0.0; charset=utf-8; charset=utf-8``:
    a media type may not repeat a parameter (RFC 6838 4.3), and a strict parser refuses it.
    The worker services' own /metrics server sent it right; now all five send the same."""
    from prometheus_client import CONTENT_TYPE_LATEST

    response = _app(name, config, database).get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
