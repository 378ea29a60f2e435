"""Paging through the ninjs API reaches every visible story."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.helpers import put_rules_in_force, store_sample_feed
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.ingester.parse import parse_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import articles as article_store
from wiredesk.store import models

HOLD_EVERYTHING = "rules:\n  - {name: hold, action: review, when: {}}\n"


def _walk(publisher: Any, limit: int) -> list[str]:
    uris, cursor = [], ""
    for _ in range(10):
        page = publisher.get(f"/api/v1/stories?limit={limit}&cursor={cursor}").get_json()
        uris += [story["uri"] for story in page["data"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return uris
    raise AssertionError("the cursors never ended")


def test_a_story_whose_correction_waits_for_review_stays_as_published(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The newest story's article comes back revised and the rules hold the revision for an
    editor. The story vanished meanwhile (its only article's row held the unapproved text),
    and the page it would have filled came back short and without ``next_cursor``, so a
    consumer paging the API never saw older stories. It now shows its published copy."""
    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    with database.session() as session:
        newest = session.get(models.Article, ids[-1])
        held_story, old_text = newest.story_id, newest.body_text.split(".")[0]
    body = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_text(encoding="utf-8")
    assert old_text in body
    revised = parse_feed(body.replace(old_text, old_text + ", officials said later").encode(),
                         feed_id=newest.feed_id, url="http://127.0.0.1/world-wire.xml")
    with database.session() as session:
        assert article_store.upsert(
            session, next(a for a in revised.articles if a.id == ids[-1])) == "updated"
    put_rules_in_force(database, HOLD_EVERYTHING)
    assert process_article(celery_app.wiredesk, ids[-1]) == "pending_review"

    visible = _walk(publisher, limit=50)
    assert len(visible) == 3 and visible[0].endswith(held_story)
    assert _walk(publisher, limit=1) == visible
    shown = json.dumps(publisher.get(f"/api/v1/stories/{held_story}").get_json(),
                       ensure_ascii=False)
    assert old_text in shown and "officials said later" not in shown
    atom = publisher.get("/feeds/all.atom").get_data(as_text=True)
    assert "officials said later" not in atom


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("path, status", [
    ("/api/v1/stories/s1-%00", 404),
    ("/api/v1/stories?cursor=" + _cursor(b"2025-01-01T00:00:00+00:00|s1-\x00"), 400),
    ("/api/v1/stories?cursor=" + _cursor(b"2025-01-01T00:00:00|s1-ab"), 400),  # no zone
])
def test_ids_and_cursors_the_publisher_never_made_are_refused_not_500(
        publisher: Any, path: str, status: int) -> None:
    """Anyone could make the public API answer 500: PostgreSQL refuses a NUL in a string
    parameter, and the time column refuses a datetime without a zone."""
    assert publisher.get(path).status_code == status


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/v1/stories/s1-nothing", 404),
    ("get", "/api/v1/stories?limit=many", 400),
    ("get", "/api/v1/nothing-here", 404),
    ("post", "/api/v1/stories", 405),
])
def test_the_api_answers_errors_in_json(publisher: Any, method: str, path: str,
                                        status: int) -> None:
    response = getattr(publisher, method)(path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == status and response.get_json()["error"]


def test_feed_paths_keep_flasks_error_page(publisher: Any) -> None:
    response = publisher.get("/feeds/nothing.atom")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_rejecting_a_held_correction_brings_the_published_version_back(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The story vanished while its correction waited for an editor (its only copy was the
    held revision); rejecting the correction left it gone for good."""
    from wiredesk.store.review import decide

    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    with database.session() as session:
        newest = session.get(models.Article, ids[-1])
        story_id, old_text, old_hash = newest.story_id, newest.body_text, newest.content_hash
    body = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_text(encoding="utf-8")
    first_sentence = old_text.split(".")[0]
    revised_feed = body.replace(first_sentence, first_sentence + ", officials said later").encode()

    def revised() -> Any:
        return next(a for a in parse_feed(revised_feed, feed_id=newest.feed_id,
                                          url="http://127.0.0.1/world-wire.xml").articles
                    if a.id == ids[-1])

    with database.session() as session:
        assert article_store.upsert(session, revised()) == "updated"
    put_rules_in_force(database, HOLD_EVERYTHING)
    assert process_article(celery_app.wiredesk, ids[-1]) == "pending_review"
    held = json.dumps(publisher.get(f"/api/v1/stories/{story_id}").get_json(),
                      ensure_ascii=False)
    assert first_sentence in held and "officials said later" not in held  # as published

    with database.session() as session:
        assert decide(session, ids[-1], "reject", "amal", "not confirmed") == "published"
    story = publisher.get(f"/api/v1/stories/{story_id}").get_json()
    with database.session() as session:
        row = session.get(models.Article, ids[-1])
        assert (row.body_text, row.content_hash, row.status) == (old_text, old_hash, "published")
        assert "rejected by amal" in row.routing_reason
    assert first_sentence in json.dumps(story, ensure_ascii=False)
    assert "officials said later" not in json.dumps(story, ensure_ascii=False)
    # The feed still serving the rejected text brings no new revision to review.
    with database.session() as session:
        assert article_store.upsert(session, revised()) == "unchanged"


FRENCH_RATES_ITEM = (
    "<title>La banque centrale maintient ses taux</title>",
    "<p>FRANCFORT (Reuters) - La banque centrale a laissé son principal taux d'intérêt inchangé"
    " jeudi, estimant que l'inflation avait ralenti pour le troisième mois consécutif mais"
    " restait au-dessus de son objectif de deux pour cent. Les économistes s'attendaient"
    " largement à cette décision de politique monétaire.</p>")


def _feed_story_ids(publisher: Any, path: str) -> list[str]:
    return [item["id"] for item in publisher.get(path).get_json()["items"]]


def test_a_held_revision_keeps_its_topics_and_language_to_itself(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The sports story comes back as a French report on interest rates, held for an editor.
    Consumers saw its published English text under the held revision's topics: the story left
    the sport and English feeds for the economy and French ones; and rejecting the revision
    left those topics and that language on the published text for good."""
    from wiredesk.store.review import decide

    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    with database.session() as session:
        marathon = session.get(models.Article, ids[-1])
        story_id, feed_id = marathon.story_id, marathon.feed_id
        published = ([c["qcode"] for c in marathon.categories], marathon.language)
    assert "medtop:15000000" in published[0] and published[1] == "en"
    body = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_text(encoding="utf-8")
    title, paragraph = FRENCH_RATES_ITEM
    revised_feed = body.replace(
        "<title>Marathon runner sets course record in rain-soaked race</title>", title).replace(
        "<p>NAIROBI (AP) — A 24-year-old runner broke the course record by 41 seconds on Sunday"
        " despite heavy rain that flooded parts of the route.</p>", paragraph)
    revised = next(a for a in parse_feed(revised_feed.encode(), feed_id=feed_id,
                                         url="http://127.0.0.1/world-wire.xml").articles
                   if a.id == ids[-1])
    with database.session() as session:
        assert article_store.upsert(session, revised) == "updated"
    put_rules_in_force(database, HOLD_EVERYTHING)
    assert process_article(celery_app.wiredesk, ids[-1]) == "pending_review"
    with database.session() as session:
        held = session.get(models.Article, ids[-1])
        assert held.language == "fr" and "medtop:15000000" not in [
            c["qcode"] for c in held.categories]

    def consumers_see_the_published_version() -> None:
        story = publisher.get(f"/api/v1/stories/{story_id}").get_json()
        assert story["language"] == "en"
        assert [s["uri"].rsplit("/", 1)[1] for s in story["subjects"]] == [
            q.split(":")[1] for q in published[0]]
        in_feed = {path: story_id in " ".join(_feed_story_ids(publisher, path))
                   for path in ("/feeds/topic/15000000.json", "/feeds/topic/04000000.json",
                                "/feeds/lang/en.json", "/feeds/lang/fr.json")}
        assert in_feed == {"/feeds/topic/15000000.json": True,
                           "/feeds/topic/04000000.json": False,
                           "/feeds/lang/en.json": True, "/feeds/lang/fr.json": False}

    consumers_see_the_published_version()
    with database.session() as session:
        assert decide(session, ids[-1], "reject", "amal") == "published"
    with database.session() as session:
        row = session.get(models.Article, ids[-1])
        assert ([c["qcode"] for c in row.categories], row.language) == published
    consumers_see_the_published_version()


def test_rejecting_a_held_revision_brings_back_the_version_consumers_see(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """A published article's next version failed in the pipeline, and the one after that was
    held. Consumers saw the published version all along, but rejecting the held one looked only
    at the version just before it (the failed one), brought nothing back and took the story
    down."""
    from wiredesk.store.review import decide

    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    with database.session() as session:
        newest = session.get(models.Article, ids[-1])
        story_id, published_text = newest.story_id, newest.body_text
    body = (SAMPLE_FEEDS_DIR / "world-wire.xml").read_text(encoding="utf-8")
    first_sentence = published_text.split(".")[0]

    def revise(addition: str) -> None:
        feed = body.replace(first_sentence, first_sentence + addition).encode()
        article = next(a for a in parse_feed(feed, feed_id=newest.feed_id,
                                             url="http://127.0.0.1/world-wire.xml").articles
                       if a.id == ids[-1])
        with database.session() as session:
            assert article_store.upsert(session, article) == "updated"

    revise(", officials said")
    with database.session() as session:  # as the pipeline leaves an article it gave up on
        article_store.set_status(session.get(models.Article, ids[-1]), "failed", error="boom")
    revise(", officials said later")
    put_rules_in_force(database, HOLD_EVERYTHING)
    assert process_article(celery_app.wiredesk, ids[-1]) == "pending_review"
    assert first_sentence + "." in json.dumps(
        publisher.get(f"/api/v1/stories/{story_id}").get_json(), ensure_ascii=False)

    with database.session() as session:
        assert decide(session, ids[-1], "reject", "amal") == "published"
    with database.session() as session:
        assert session.get(models.Article, ids[-1]).body_text == published_text
    story = publisher.get(f"/api/v1/stories/{story_id}")
    assert story.status_code == 200
    assert first_sentence + "." in json.dumps(story.get_json(), ensure_ascii=False)


def test_a_page_of_stories_costs_the_same_few_queries_whatever_its_size(
        celery_app: Any, database: Any) -> None:
    """Each story on a page cost its own queries (its articles, their feeds): a 50-story page
    of the API or a feed made about 100 round trips to the database."""
    from sqlalchemy import event

    from wiredesk.publisher.stories import list_stories

    for article_id in store_sample_feed(database):
        assert process_article(celery_app.wiredesk, article_id) == "published"
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for limit in (1, 50):
            statements.clear()
            with database.session() as session:
                sizes[limit] = (len(list_stories(session, limit=limit)), len(statements))
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    (one, one_cost), (many, many_cost) = sizes[1], sizes[50]
    assert one == 1 and many >= 3
    assert many_cost == one_cost


@pytest.mark.parametrize("limit", ["0", "-1", "201", "100000", "1.5", "", "%C2%B3"])
def test_a_limit_out_of_range_is_refused_with_the_range(publisher: Any, limit: str) -> None:
    """``limit=0`` or ``-1`` answered one story and ``limit=1000`` two hundred, silently: a
    client that stops paging when a page holds fewer stories than it asked for stopped after
    the first 200 and never saw the rest. Now 400, saying what it takes."""
    response = publisher.get(f"/api/v1/stories?limit={limit}")
    assert response.status_code == 400
    assert "1 to 200" in response.get_json()["error"]


def test_limits_in_range_are_taken(publisher: Any, database: Any) -> None:
    for limit in ("1", "200"):
        assert publisher.get(f"/api/v1/stories?limit={limit}").status_code == 200


def _three_published_stories(celery_app: Any, database: Any) -> None:
    for article_id in store_sample_feed(database):
        assert process_article(celery_app.wiredesk, article_id) == "published"


@pytest.mark.parametrize("limit", [1, 3])
def test_the_last_page_hands_out_no_cursor_when_the_count_is_a_multiple_of_limit(
        celery_app: Any, database: Any, publisher: Any, limit: int) -> None:
    """Three stories, pages of one or of three: the last full page still carried a
    ``next_cursor`` (a full page was taken to mean more), and a client following it fetched
    an empty page. Now a page says there is a next one only when there is."""
    _three_published_stories(celery_app, database)
    pages, cursor = [], ""
    for _ in range(5):
        page = publisher.get(f"/api/v1/stories?limit={limit}&cursor={cursor}").get_json()
        pages.append(page)
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert [len(page["data"]) for page in pages] == [limit] * (3 // limit)


def test_a_page_links_to_the_next_in_a_link_header(
        celery_app: Any, database: Any, publisher: Any, config: Any) -> None:
    """The next page was only in the body's ``next_cursor``: clients that page by RFC 8288
    ``Link: <...>; rel="next"`` (as GitHub's API and most HTTP libraries do) stopped after the
    first. The header names the next page by its absolute URL, with the same page size, and
    the last page has none."""
    _three_published_stories(celery_app, database)
    url, seen = "/api/v1/stories?limit=2", []
    response = publisher.get(url)
    page = response.get_json()
    seen += [story["uri"] for story in page["data"]]
    links = re.findall(r'<([^>]*)>\s*;\s*rel="([^"]*)"', response.headers["Link"])
    (following,) = [target for target, rel in links if rel == "next"]
    base = config.public_base_url.rstrip("/")
    assert following == f"{base}/api/v1/stories?limit=2&cursor={page['next_cursor']}"
    last = publisher.get(following.removeprefix(base))
    seen += [story["uri"] for story in last.get_json()["data"]]
    assert len(seen) == len(set(seen)) == 3
    assert "next" not in last.headers.get("Link", "") and "next_cursor" not in last.get_json()


def test_a_story_document_links_to_its_page_for_readers(publisher: Any, database: Any,
                                                       celery_app: Any) -> None:
    """The ninjs document says where its story's HTML page is (RFC 8288 ``rel="alternate"``),
    so a client showing it to a person can send them there."""
    from tests.helpers import PUBLISH_EVERYTHING

    put_rules_in_force(database, PUBLISH_EVERYTHING)
    for article_id in store_sample_feed(database):
        process_article(celery_app.wiredesk, article_id)
    uri = publisher.get("/api/v1/stories").get_json()["data"][0]["uri"]
    response = publisher.get("/api/" + uri.split("/api/", 1)[1])
    assert response.status_code == 200
    page = uri.replace("/api/v1/stories/", "/stories/")
    assert response.headers["Link"] == f'<{page}>; rel="alternate"; type="text/html"'
