"""The threaded ingester runs several worker processes; one that dies is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.test_make_run import free_port
from wiredesk.services import WorkerProcesses


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


def _alive(pids: set[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()
            and not Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"]


def _start_ingester(config: Any, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": config.redis_url, "DATABASE_URL": config.sqlalchemy_url,
           "WIREDESK_DATA_DIR": str(tmp_path / "data"), "WIREDESK_WORKER_CONCURRENCY": "2",
           "WIREDESK_INGEST_THREADS": "2", "WIREDESK_LOG_LEVEL": "WARNING",
           "WIREDESK_INGESTER_METRICS_PORT": str(free_port())}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "wiredesk", "serve", "ingester"], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _kill_group(service: subprocess.Popen[bytes]) -> None:
    """Whatever a failed test left behind: a stray worker would answer later tests' pings."""
    try:
        os.killpg(service.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    service.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_a_killed_ingest_worker_process_is_replaced(config: Any, tmp_path: Path) -> None:
    service = _start_ingester(config, tmp_path)
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
        # Often before the parent's Celery worker has installed its handlers: still a clean
        # exit, and no worker process left behind.
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0
        assert not _alive(workers)
    finally:
        _kill_group(service)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_worker_processes_stop_when_the_service_is_killed_outright(
    config: Any, tmp_path: Path
) -> None:
    service = _start_ingester(config, tmp_path)
    try:
        wait_until(lambda: len(_spawned_workers(service.pid)) == 1, timeout=60,
                   message="the second worker process")
        workers = _spawned_workers(service.pid)
        service.kill()  # SIGKILL, as the OOM killer would: no handler runs in the parent
        service.wait(timeout=60)
        wait_until(lambda: not _alive(workers), timeout=60,
                   message="the orphaned worker process to stop")
    finally:
        _kill_group(service)


class _FakeProcess:
    def __init__(self) -> None:
        self.pid, self.exitcode, self.alive, self.terminated = None, None, True, False

    def is_alive(self) -> bool:
        return self.alive

    def terminate(self) -> None:
        self.terminated, self.alive = True, False

    def join(self, timeout: float | None = None) -> None:
        pass


class _WatchedLock:
    """A lock that tells when someone has asked for it."""

    def __init__(self) -> None:
        self._lock, self.asked = threading.Lock(), threading.Event()

    def __enter__(self) -> None:
        self.asked.set()
        self._lock.acquire()

    def __exit__(self, *_: Any) -> None:
        self._lock.release()


def test_a_stop_while_a_dead_worker_is_replaced_stops_the_replacement_too() -> None:
    # A spawned process takes a while to start (its parent waits for it to read its arguments):
    # a service stopping meanwhile left the replacement running after the service had exited.
    replacing, go_on = threading.Event(), threading.Event()
    started: list[_FakeProcess] = []

    def start(n: int) -> _FakeProcess:
        started.append(_FakeProcess())
        if len(started) > 1:  # the replacement
            replacing.set()
            go_on.wait(30)
        return started[-1]

    workers = WorkerProcesses(start, 1)
    lock = workers._lock = _WatchedLock()  # type: ignore[assignment]
    started[0].alive = False  # died
    replace = threading.Thread(target=workers.replace_dead)
    replace.start()
    assert replacing.wait(30)
    lock.asked.clear()  # asked by the replacement, which holds it
    stop = threading.Thread(target=workers.stop)
    stop.start()
    wait_until(lambda: lock.asked.is_set() or not stop.is_alive(), timeout=30,
               message="the stop to wait for the replacement, or to finish")
    go_on.set()
    replace.join(30)
    stop.join(30)
    assert len(started) == 2 and started[1].terminated
