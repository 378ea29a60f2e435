"""The feed registry: validation, declarative apply (feeds.yaml), OPML in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import listparser
import pytest
from marshmallow import ValidationError

from wiredesk.services import apply_feeds_file
from wiredesk.store import feeds as registry
from wiredesk.store.models import Feed


def test_a_spec_sets_every_per_feed_field(database: Any) -> None:
    with database.session() as session:
        feed = registry.put_feed(session, {
            "url": "https://example.org/rss", "name": "Example", "language": "fr",
            "trust": "auto", "interval": 600, "identity": "link", "zone": "Europe/Paris",
            "full_text": True, "enabled": True})
        feed_id = feed.id
    with database.session() as session:
        data = registry.feed_to_dict(session.get(Feed, feed_id))
    assert {k: v for k, v in data.items() if k not in {"id", "state"}} == {
        "url": "https://example.org/rss", "name": "Example", "language": "fr", "trust": "auto",
        "interval": 600, "identity": "link", "zone": "Europe/Paris", "full_text": True,
        "enabled": True}
    assert data["state"]["error_count"] == 0 and data["state"]["next_fetch_at"]


@pytest.mark.parametrize(("spec", "field"), [
    ({"url": "ftp://example.org/rss"}, "url"),
    ({"url": "https://example.org/rss", "zone": "Mars/Olympus"}, "zone"),
    ({"url": "https://example.org/rss", "identity": "title"}, "identity"),
    ({"url": "https://example.org/rss", "trust": "yes"}, "trust"),
    ({"url": "https://example.org/rss", "interval": 1}, "interval"),
    ({"url": "https://example.org/rss", "interval": "600"}, "interval"),
    ({"url": "https://example.org/rss", "language": "not a tag"}, "language"),
    ({"url": "https://example.org/rss", "colour": "blue"}, "colour"),
])
def test_bad_specs_are_refused_with_the_field_named(database: Any, spec: dict, field: str) -> None:
    with database.session() as session, pytest.raises(ValidationError) as raised:
        registry.put_feed(session, spec)
    assert field in raised.value.normalized_messages()


def test_update_changes_only_what_is_given_and_reenabling_makes_due(database: Any) -> None:
    with database.session() as session:
        feed = registry.put_feed(session, {"url": "https://example.org/a", "language": "en",
                                           "enabled": False})
        feed.error_count = 7
        feed_id = feed.id
    with database.session() as session:
        feed = registry.update_feed(session, feed_id, {"enabled": True, "zone": "Asia/Tokyo"})
        assert feed is not None
        assert (feed.language, feed.date_zone, feed.enabled, feed.error_count) == (
            "en", "Asia/Tokyo", True, 0)
        assert registry.update_feed(session, 99999, {"name": "x"}) is None
        with pytest.raises(ValidationError):
            registry.update_feed(session, feed_id, {"url": "not a url"})


def test_a_new_url_starts_without_the_old_urls_validators(database: Any) -> None:
    with database.session() as session:
        feed = registry.put_feed(session, {"url": "https://example.org/a"})
        feed.etag, feed.last_modified = '"v1"', "Mon, 02 Nov 2026 10:00:00 GMT"
        feed_id = feed.id
    with database.session() as session:
        feed = registry.update_feed(session, feed_id, {"name": "renamed"})
        assert (feed.etag, feed.last_modified) == ('"v1"', "Mon, 02 Nov 2026 10:00:00 GMT")
        feed = registry.update_feed(session, feed_id, {"url": "https://example.net/a"})
        assert (feed.etag, feed.last_modified) == (None, None)

def test_remove_by_id_or_url(database: Any) -> None:
    with database.session() as session:
        registry.put_feed(session, {"url": "https://example.org/a"})
        b = registry.put_feed(session, {"url": "https://example.org/b"}).id
    with database.session() as session:
        assert registry.remove_feed(session, "https://example.org/a")
        assert registry.remove_feed(session, str(b))
        assert not registry.remove_feed(session, b)
        assert registry.list_feeds(session) == []


def test_feeds_yaml_is_applied_declaratively(database: Any, config: Any, tmp_path: Path) -> None:
    with database.session() as session:
        registry.put_feed(session, {"url": "https://old.example.org/rss"})
    path = tmp_path / "feeds.yaml"
    path.write_text("""
prune: true
feeds:
  - url: https://example.org/world.rss
    name: World
    language: en
    trust: auto
    interval: 300
    identity: link
    zone: America/New_York
    full_text: true
  - url: https://example.org/ar.rss
    language: ar
""", encoding="utf-8")
    assert apply_feeds_file(config.replace(feeds_file=str(path))) == 2
    with database.session() as session:
        by_url = {f.url: f for f in registry.list_feeds(session)}
    world = by_url["https://example.org/world.rss"]
    assert (world.name, world.trust, world.interval_seconds, world.identity_rule,
            world.date_zone, world.full_text) == ("World", "auto", 300, "link",
                                                  "America/New_York", True)
    arabic = by_url["https://example.org/ar.rss"]
    assert (arabic.trust, arabic.interval_seconds, arabic.date_zone) == (
        "review", config.default_interval_seconds, "UTC")
    assert by_url["https://old.example.org/rss"].enabled is False  # pruned: disabled, kept


def test_a_bad_feeds_yaml_changes_nothing(database: Any, config: Any, tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("- url: https://example.org/ok.rss\n- url: https://example.org/x\n"
                    "  zone: Nowhere/City\n", encoding="utf-8")
    with pytest.raises(ValueError, match="zone"):
        apply_feeds_file(config.replace(feeds_file=str(path)))
    with database.session() as session:
        assert registry.list_feeds(session) == []


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Subscriptions</title></head><body>
<outline text="News">
  <outline text="World wire" type="rss" xmlUrl="https://example.org/world.rss"/>
  <outline title="Le fil" type="rss" xmlUrl="https://example.fr/fil.xml"/>
</outline>
<outline text="Not a feed" type="link" url="javascript:alert(1)"/>
</body></opml>"""


def test_opml_import_then_export_round_trips(database: Any) -> None:
    with database.session() as session:
        added, skipped = registry.import_opml(session, OPML)
        assert ([f.url for f in added], skipped) == (
            ["https://example.org/world.rss", "https://example.fr/fil.xml"], 0)
        assert registry.import_opml(session, OPML)[1] == 2  # again: nothing new
        exported = registry.export_opml(registry.list_feeds(session))
    reread = listparser.parse(exported)
    assert [(f.url, f.title) for f in reread.feeds] == [
        ("https://example.org/world.rss", "World wire"), ("https://example.fr/fil.xml", "Le fil")]



def test_opml_round_trip_keeps_each_feed_language(database: Any) -> None:
    """export-opml writes an outline's language; import-opml dropped it."""
    with database.session() as session:
        registry.add_feed(session, "https://example.org/ar.rss", name="Arabic", language="ar")
        registry.add_feed(session, "https://example.org/any.rss", name="Any")
        exported = registry.export_opml(registry.list_feeds(session))
    data = exported.replace(b'title="Any"', b'title="Any" language="English"')  # not BCP 47
    with database.session() as session:
        for feed in registry.list_feeds(session):
            registry.remove_feed(session, feed.id)
    with database.session() as session:
        added, _ = registry.import_opml(session, data)
        assert [(f.url, f.language) for f in added] == [
            ("https://example.org/ar.rss", "ar"), ("https://example.org/any.rss", None)]


def test_not_opml_is_an_error(database: Any) -> None:
    with database.session() as session, pytest.raises(ValueError):
        registry.import_opml(session, b"<html><body>no</body></html")
