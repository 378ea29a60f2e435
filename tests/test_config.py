"""One config module, and the README's table generated from it."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from wiredesk import config


def test_readme_table_matches_the_config_module() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- config-table:start -->\n(.*?)\n<!-- config-table:end -->", readme, re.S)
    assert table, "README lost its configuration table markers"
    assert table.group(1) == config.markdown_table(), "regenerate: wiredesk config --markdown"


def test_settings_are_parsed_with_their_types() -> None:
    loaded = config.load({"WIREDESK_FETCH_ALLOW_NETWORKS": "127.0.0.1/32, 10.0.0.0/8",
                          "WIREDESK_SAMPLE_FEEDS": "yes", "WIREDESK_PUBLISHER_PORT": "9000"})
    assert loaded.fetch_allow_networks == (ipaddress.ip_network("127.0.0.1/32"),
                                           ipaddress.ip_network("10.0.0.0/8"))
    assert loaded.sample_feeds is True and loaded.publisher_port == 9000
    assert config.load({}).fetch_allow_networks == ()
    with pytest.raises(ValueError, match="WIREDESK_PUBLISHER_PORT"):
        config.load({"WIREDESK_PUBLISHER_PORT": "eighty"})


def test_no_other_module_reads_settings_from_the_environment() -> None:
    offenders = [p for p in (REPO / "src").rglob("*.py")
                 if p.name != "config.py" and re.search(r"os\.environ(\.get|\[)\s*\(?\s*[\"']"
                                                        r"(?!PROMETHEUS_MULTIPROC_DIR)",
                                                        p.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.parametrize(("variable", "value"), [
    ("WIREDESK_PUBLISHER_PORT", "eighty"),
    ("WIREDESK_FETCH_ALLOW_NETWORKS", "10.0.0.0/33"),
    ("WIREDESK_SAMPLE_FEEDS", "maybe"),
    ("WIREDESK_LOG_LEVEL", "LOUD"),
])
@pytest.mark.parametrize("command", [["config"], ["serve", "publisher"]])
def test_a_bad_setting_is_one_clear_line_not_a_traceback(
        tmp_path: Path, variable: str, value: str, command: list[str]) -> None:
    """An operator's typo in compose or a ConfigMap: the service crash-looped on a traceback."""
    env = {**os.environ, "WIREDESK_DATA_DIR": str(tmp_path), variable: value}
    result = subprocess.run([sys.executable, "-m", "wiredesk", *command], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert variable in result.stderr and value in result.stderr, result.stderr


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_URL", "postgres://wiredesk:s3cret@db.internal:5432/wiredesk"),  # Heroku's form
    ("DATABASE_URL", "wiredesk:s3cret@db.internal:5432/wiredesk"),
    ("REDIS_URL", "redis.internal:6379"),
    ("REDIS_URL", "http://:s3cret@redis.internal:6379/0"),
])
def test_a_bad_url_says_what_a_good_one_looks_like_and_keeps_its_password(
        tmp_path: Path, variable: str, value: str) -> None:
    """A URL without a scheme, or PostgreSQL's `postgres://` that SQLAlchemy does not know:
    `wiredesk serve` died on a driver's traceback (NoSuchModuleError, 'Redis URL must
    specify one of the following schemes') long after start, from deep in a worker."""
    env = {**os.environ, "WIREDESK_DATA_DIR": str(tmp_path), variable: value}
    result = subprocess.run([sys.executable, "-m", "wiredesk", "serve", "pipeline"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert variable in result.stderr and "s3cret" not in result.stderr, result.stderr
    example = "postgresql+psycopg://" if variable == "DATABASE_URL" else "redis://"
    assert example in result.stderr, result.stderr


@pytest.mark.parametrize("variable", ["WIREDESK_PUBLIC_URL", "WIREDESK_WEBSUB_CALLBACK_URL"])
@pytest.mark.parametrize("value", ["news.example.org", "ftp://news.example.org", "https://"])
def test_public_urls_must_be_absolute_http_urls(variable: str, value: str) -> None:
    """WIREDESK_PUBLIC_URL=news.example.org was served: every Atom <id> and ninjs uri became
    'news.example.org/api/v1/stories/...', not a URI; fixing it later changed every story's
    id, so feed readers showed every story again."""
    with pytest.raises(ValueError, match=f"{variable}: .*https://"):
        config.load({variable: value})
    assert config.load({variable: "https://news.example.org/"})
