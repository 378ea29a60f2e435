"""Which lines each command logs: the libraries' routine is quieted for `wiredesk run` only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from wiredesk import logs
from wiredesk.config import Config
from wiredesk.services import _worker_argv


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    names = ("", *logs.LIBRARIES, *logs.ALWAYS_QUIET)
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = logging.getLogger().handlers[:]
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def test_operators_keep_the_libraries_lines_and_a_first_run_does_not() -> None:
    served = Config()  # what compose and Kubernetes run: WIREDESK_LIBRARY_LOG_LEVEL unset
    logs.setup(served)
    assert logging.getLogger("celery.app.trace").isEnabledFor(logging.INFO)
    assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)
    assert _worker_argv(served, "pipeline", "process", 1)[0] == "worker"  # with its banner

    first_run = Config(library_log_level="WARNING")  # what `wiredesk run` sets
    logs.setup(first_run)
    assert not logging.getLogger("celery.app.trace").isEnabledFor(logging.INFO)
    assert logging.getLogger("celery.app.trace").isEnabledFor(logging.WARNING)
    assert logging.getLogger("wiredesk.pipeline").isEnabledFor(logging.INFO)
    assert _worker_argv(first_run, "pipeline", "process", 1)[:2] == ["--quiet", "worker"]
