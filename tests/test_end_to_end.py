"""A real feed over real HTTP, real Celery workers on real Redis, the real publisher."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from sqlalchemy import func, select

from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force, require_corpus, wait_until
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

NINJS_SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared/schemas/ninjs/ninjs-schema_3.1.json"


def ninjs_validator() -> jsonschema.Draft202012Validator:
    if not NINJS_SCHEMA.exists():
        pytest.skip(f"ninjs schema {NINJS_SCHEMA} is absent")
    schema = json.loads(NINJS_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def all_api_stories(client: Any, validator: jsonschema.Draft202012Validator) -> list[dict]:
    """Every story the API serves, following cursors, each validated against ninjs 3.1."""
    stories, cursor = [], None
    while True:
        response = client.get("/api/v1/stories", query_string={"limit": 7, **(
            {"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        page = response.get_json()
        for doc in page["data"]:
            validator.validate(doc)
            detail = client.get(f"/api/v1/stories/{doc['uri'].rsplit('/', 1)[1]}")
            assert detail.status_code == 200
            validator.validate(detail.get_json())
        stories += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return stories


def settled(database: Any) -> bool:
    """Some articles, and none waiting for the pipeline, read in ONE statement: counted in two,
    an ingest committing between them made "no pending" (before) and "some" (after) agree."""
    with database.session() as session:
        by_status = dict(session.execute(select(models.Article.status, func.count())
                                         .group_by(models.Article.status)).all())
    return bool(by_status) and not (by_status.keys() & {"received", "processed"})


def test_feed_in_stories_out(worker: Any, celery_app: Any, database: Any, feed_server: Any,
                             publisher: Any) -> None:
    body = require_corpus("feeds", "tpm.atom").read_bytes()
    put_rules_in_force(database, PUBLISH_EVERYTHING)  # the spine, not the routing, is tested here
    url = feed_server.serve("/tpm.atom", body)
    with database.session() as session:
        feed_id = add_feed(session, url, name="TPM", trust="auto").id
    expected = feedparser.parse(body).entries
    assert len(expected) == 20

    from wiredesk.ingester.tasks import fetch_feed

    fetch_feed.delay(feed_id)
    wait_until(lambda: settled(database), message="all entries processed")

    validator = ninjs_validator()
    stories = all_api_stories(publisher, validator)
    guids = sorted(alt["value"] for s in stories for alt in s["altIds"] if alt["role"] == "guid")
    with database.session() as session:
        statuses = Counter(session.execute(select(
            models.Article.status, models.Article.routing_rule, models.Article.error,
            models.Article.revision)).all())
    assert guids == sorted(e.id for e in expected), statuses  # every entry exactly once

    # Same-story reports are grouped; the Atom feed carries one entry per story.
    atom = feedparser.parse(publisher.get("/feeds/all.atom").data)
    assert not atom.bozo
    assert sorted(e.title for e in atom.entries) == sorted(
        s["headlines"][0]["value"] for s in stories)
    entry_titles = {" ".join(e.title.split()) for e in expected}
    assert {e.title for e in atom.entries} <= entry_titles

    # Polling again is a conditional request answered 304, and adds nothing.
    fetch_feed.delay(feed_id)
    wait_until(lambda: 304 in feed_server.statuses("/tpm.atom"), message="a 304")
    assert feed_server.log[-1][2].get("If-None-Match")
    assert len(all_api_stories(publisher, validator)) == len(stories)

    # A changed entry becomes a revision of its story, not a new story.
    alone = {s["altIds"][0]["value"] for s in stories if len(s["altIds"]) == 1}
    first = next(e for e in expected if e.id in alone)  # its story's headline is its own
    changed = body.replace(first.title.encode(), b"CORRECTED: " + first.title.encode(), 1)
    assert changed != body
    feed_server.serve("/tpm.atom", changed)
    fetch_feed.delay(feed_id)

    def corrected() -> Any:
        return next((s for s in all_api_stories(publisher, validator)
                     if s["headlines"][0]["value"].startswith("CORRECTED: ")), None)

    story = wait_until(corrected, message="the corrected story")
    assert len(all_api_stories(publisher, validator)) == len(stories)
    assert story["version"] == str(1 + len(story["altIds"]))
    with database.session() as session:
        row = session.get(models.Article, first_article_id(session, first.id))
        assert (row.revision, row.status) == (2, "corrected")
        assert session.scalar(select(func.count()).select_from(models.ArticleRevision).where(
            models.ArticleRevision.article_id == row.id)) == 1  # the replaced version


def first_article_id(session: Any, guid: str) -> str:
    return session.scalar(select(models.Article.id).where(models.Article.guid == guid))


def test_exact_duplicates_across_feeds_make_one_story(worker: Any, database: Any,
                                                      feed_server: Any, publisher: Any) -> None:
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR
    from wiredesk.ingester.tasks import fetch_feed

    put_rules_in_force(database)
    ids = []
    for name in ("world-wire.xml", "partner-reprints.xml"):
        url = feed_server.serve(f"/{name}", (SAMPLE_FEEDS_DIR / name).read_bytes())
        with database.session() as session:
            ids.append(add_feed(session, url, name=name, trust="auto").id)
    for feed_id in ids:
        fetch_feed.delay(feed_id)
    wait_until(lambda: settled(database) and _count(database) == 4, message="4 articles")
    stories = all_api_stories(publisher, ninjs_validator())
    assert len(stories) == 3
    asean = next(s for s in stories if s["headlines"][0]["value"].startswith("ASEAN"))
    assert sorted(a["value"] for a in asean["altIds"]) == ["partner-88231",
                                                            "wiredesk-sample-en-0001"]
    assert [s["role"] for s in asean["infoSources"]] == ["source", "source", "originator"]
    assert asean["infoSources"][-1]["name"] == "Xinhua"  # the agency in the dateline
    assert asean["located"] == "Kuala Lumpur"
    assert {"name": "Malaysia", "literal": "MY"} in asean.get("places", [])


def _count(database: Any) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(models.Article)) or 0
