"""Logging for every command and service: Wiredesk's own lines at WIREDESK_LOG_LEVEL, the
libraries' routine lines (Celery, Alembic, gunicorn) at WIREDESK_LIBRARY_LOG_LEVEL."""

from __future__ import annotations

import logging
import warnings

from wiredesk.config import Config

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LIBRARIES = ("alembic", "celery", "kombu")
# Lines no reader needs at any level: which of its own plugins Alembic loaded.
ALWAYS_QUIET = ("alembic.runtime.plugins",)
# Celery's warning, from every worker process, that it runs as root (it refuses pickle then;
# Wiredesk's messages are JSON). `wiredesk run` says it once instead.
ROOT_WARNING = "You're running the worker with superuser privileges"


def library_level(config: Config) -> str:
    return config.library_log_level or config.log_level


def quiet_libraries(config: Config) -> bool:
    """Whether the libraries' INFO lines (banners, a line per task) are left out."""
    return logging.getLevelNamesMapping()[library_level(config)] > logging.INFO


def setup(config: Config) -> None:
    """Configure this process's logging (again, when called again with another config)."""
    logging.basicConfig(level=config.log_level, format=FORMAT, force=True)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(library_level(config))
    for name in ALWAYS_QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if quiet_libraries(config):
        from celery.exceptions import SecurityWarning

        warnings.filterwarnings("ignore", message=ROOT_WARNING, category=SecurityWarning)
