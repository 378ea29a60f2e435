"""The hub at work: the publisher app (its hub endpoint) and a real Celery worker on the
``deliver`` queue, sharing the test's database and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.deliver.subscriber import Subscriber, serving
from tests.helpers import celery_worker

BASE = "http://127.0.0.1:8000"  # the test config's public URL: topics are this publisher's


@pytest.fixture
def hub_client(config: Any, database: Any, celery_app: Any) -> Any:
    """A test client of the publisher whose hub sends its tasks to ``celery_app``."""
    from wiredesk.publisher.app import create_app

    app = create_app(config)
    app.extensions.update(wiredesk_db=database, wiredesk_celery=celery_app)
    return app.test_client()


@pytest.fixture
def deliver_worker(celery_app: Any) -> Iterator[Any]:
    """A real Celery worker (threads pool) consuming the ``deliver`` queue."""
    with celery_worker(celery_app, ["deliver"]) as running:
        yield running


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    with serving(Subscriber()) as running:
        yield running
