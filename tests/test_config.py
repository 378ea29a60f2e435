"""One config module, and the README's table generated from it."""

from __future__ import annotations

import ipaddress
import re

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
