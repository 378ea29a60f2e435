"""Redis for the dedupe index tests (real Redis, DB 5; the top-level `redis_url` replaces it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_url() -> str:
    return os.environ.get("WIREDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"no Redis at {redis_url}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
