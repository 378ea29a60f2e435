"""The desk app on the test database and Redis."""

from __future__ import annotations

from typing import Any

import pytest

from wiredesk.config import Config

SECRET = "desk-test-secret"


@pytest.fixture
def desk_app(config: Config, database: Any, redis_client: Any) -> Any:
    from wiredesk.desk.app import create_app

    app = create_app(config.replace(desk_secret_key=SECRET))
    app.extensions["wiredesk_db"] = database
    return app
