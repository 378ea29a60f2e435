"""The threaded ingester runs several worker processes; one that dies is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.test_make_run import free_port


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (Linux)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _spawned_workers(pid: int) -> set[int]:
    """The extra worker processes (billiard spawn children), not beat (a fork)."""
    found = set()
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.add(child)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_a_killed_ingest_worker_process_is_replaced(config: Any, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.sqlalchemy_url,
           "WIREDESK_DATA_DIR": str(tmp_path / "data"), "WIREDESK_WORKER_CONCURRENCY": "2",
           "WIREDESK_INGEST_THREADS": "2", "WIREDESK_LOG_LEVEL": "WARNING",
           "WIREDESK_INGESTER_METRICS_PORT": str(free_port())}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    service = subprocess.Popen([sys.executable, "-m", "wiredesk", "serve", "ingester"], env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        wait_until(lambda: len(_spawned_workers(service.pid)) == 1, timeout=60,
                   message="the second worker process")
        (first,) = _spawned_workers(service.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(_spawned_workers(service.pid) - {first}) == 1, timeout=60,
                   message="a new worker process in place of the killed one")
        assert service.poll() is None
        workers = _spawned_workers(service.pid)
    finally:
        # Often before the parent's Celery worker has installed its handlers: still a clean
        # exit, and no worker process left behind.
        service.send_signal(signal.SIGTERM)
        try:
            assert service.wait(timeout=60) == 0
            assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        finally:
            if service.poll() is None:
                os.killpg(service.pid, signal.SIGKILL)
