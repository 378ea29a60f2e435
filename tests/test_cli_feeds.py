"""``wiredesk feeds``: add, list, show, update, remove, OPML import and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from wiredesk.cli import main
from wiredesk.store.models import Feed


def run(config: Any, *args: str) -> Any:
    env = {"DATABASE_URL": config.sqlalchemy_url, "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_feed_lifecycle_through_the_cli(config: Any, database: Any, tmp_path: Path) -> None:
    added = run(config, "feeds", "add", "https://example.org/rss", "--name", "Example",
                "--language", "en", "--trust", "auto", "--interval", "600", "--identity", "link",
                "--zone", "Europe/London", "--full-text")
    assert added.exit_code == 0, added.output
    feed_id = added.output.split("\t")[0]

    bad = run(config, "feeds", "update", feed_id, "--zone", "Atlantis/Capital")
    assert bad.exit_code == 1 and "zone" in bad.output

    assert run(config, "feeds", "update", feed_id, "--disabled", "--interval", "1200").exit_code == 0
    with database.session() as session:
        feed = session.get(Feed, int(feed_id))
        feed.error_count, feed.last_error = 3, "http_error: HTTP 500"

    shown = run(config, "feeds", "show", feed_id)
    assert shown.exit_code == 0, shown.output
    for line in ("error_count:      3", "last_error:       http_error: HTTP 500",
                 "next_fetch_at:", "zone:             Europe/London", "enabled:          False",
                 "interval:         1200"):
        assert line in shown.output
    as_json = json.loads(run(config, "feeds", "show", "https://example.org/rss", "--json").output)
    assert as_json["identity"] == "link" and as_json["full_text"] is True

    listed = run(config, "feeds", "list").output
    assert "https://example.org/rss" in listed and "http_error: HTTP 500" in listed

    exported = tmp_path / "feeds.opml"
    assert run(config, "feeds", "export-opml", str(exported)).exit_code == 0
    assert run(config, "feeds", "remove", feed_id, "--yes").exit_code == 0
    assert run(config, "feeds", "show", feed_id).exit_code == 1
    imported = run(config, "feeds", "import-opml", str(exported))
    assert "added 1 feeds, 0 already registered" in imported.output


def test_a_feeds_language_and_zone_hints_can_be_cleared(config: Any, database: Any) -> None:
    # `--language ""` and `--zone ""` were refused, and nothing else cleared them: a feed given
    # a wrong language hint or zone kept one until it was removed and added again.
    added = run(config, "feeds", "add", "https://example.org/rss", "--language", "en",
                "--zone", "Europe/London")
    feed_id = added.output.split("\t")[0]
    cleared = run(config, "feeds", "update", feed_id, "--language", "none", "--zone", "none")
    assert cleared.exit_code == 0, cleared.output
    with database.session() as session:
        feed = session.get(Feed, int(feed_id))
        assert (feed.language, feed.date_zone) == (None, "UTC")
    shown = run(config, "feeds", "show", feed_id).output
    assert "language:         -" in shown and "zone:             UTC" in shown
    again = run(config, "feeds", "add", "https://example.org/other", "--language", "none")
    assert again.exit_code == 0, again.output
    helped = run(config, "feeds", "update", "--help").output
    assert "none" in helped and "clears" in helped
