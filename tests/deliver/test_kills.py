"""Killing a published story (desk, admin API, CLI): it leaves every feed and list, its URI
answers ninjs ``pubStatus: canceled``, and the subscribers of every feed that held it get a
push saying so (Atom and RSS: an RFC 6721 ``at:deleted-entry``; JSON Feed: ``_wiredesk``).
Real deliver worker, real HTTP to a loopback subscriber, the real publisher app."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import feedparser
import pytest
from lxml import etree

from tests.deliver.conftest import BASE
from tests.deliver.subscriber import Push, Subscriber
from tests.deliver.test_push import published_sample, subscribed
from tests.desk.conftest import EDITOR, PASSWORD, SECRET, csrf_token, log_in
from tests.helpers import celery_worker, killed, wait_until
from tests.test_end_to_end import ninjs_validator
from wiredesk import keys
from wiredesk.publisher.ninjs import WITHDRAWN_NOTE
from wiredesk.store import models

AT = "{http://purl.org/atompub/tombstones/1.0}"
TOKEN = "admin-token-for-tests"


def story_uri(story_id: str) -> str:
    return f"{BASE}/api/v1/stories/{story_id}"


def quiet_published(celery_app: Any, database: Any, redis_client: Any) -> tuple[str, str]:
    """The sample article published, its announcement dropped (no worker ran yet): what a
    test sees pushed comes after. Returns (article id, story id)."""
    article = published_sample(celery_app, database)
    redis_client.delete("deliver")
    with database.session() as session:
        return article.id, session.get(models.Article, article.id).story_id


def tombstones(body: bytes, rss: bool = False) -> list[Any]:
    root = etree.fromstring(body)
    return list((root[0] if rss else root).iter(f"{AT}deleted-entry"))


def assert_tells_of_the_kill(push: Push, story_id: str) -> None:
    """An Atom push with no entry and one tombstone of the story."""
    assert push.headers["Content-Type"] == "application/atom+xml"
    assert feedparser.parse(push.body).entries == []
    (deleted,) = tombstones(push.body)
    assert deleted.get("ref") == story_uri(story_id)
    assert deleted.get("when")
    assert deleted.findtext(f"{AT}comment") == WITHDRAWN_NOTE


def assert_withdrawn(client: Any, story_id: str) -> dict[str, Any]:
    """The publisher lists the story nowhere, its URI says canceled (the ninjs it serves) and
    its page for readers answers 410 Gone."""
    detail = client.get(f"/api/v1/stories/{story_id}")
    assert detail.status_code == 200
    doc = detail.get_json()
    ninjs_validator().validate(doc)
    assert doc["pubStatus"] == "canceled" and doc["uri"] == story_uri(story_id)
    assert "headlines" not in doc and "bodies" not in doc
    assert client.get("/api/v1/stories").get_json()["data"] == []
    for path in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/lang/en.atom", "/"):
        page = client.get(path)
        assert page.status_code == 200 and story_id not in page.text, path
    assert client.get("/feeds/all.json").get_json()["items"] == []
    assert client.get(f"/stories/{story_id}").status_code == 410
    return doc


def desk_client(config: Any, database: Any, celery_app: Any) -> Any:
    from wiredesk.desk.app import create_app
    from wiredesk.store.editors import add_editor

    with database.session() as session:
        add_editor(session, EDITOR, PASSWORD)
    app = create_app(config.replace(desk_secret_key=SECRET))
    app.extensions.update(wiredesk_db=database, wiredesk_celery=celery_app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def publisher_client(config: Any, database: Any, celery_app: Any) -> Any:
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions.update(wiredesk_db=database, wiredesk_celery=celery_app)
    return app.test_client()


def test_a_kill_on_the_desk_withdraws_the_story_and_tells_every_feed_that_held_it(
        config: Any, celery_app: Any, database: Any, redis_client: Any,
        subscriber: Subscriber) -> None:
    article_id, story_id = quiet_published(celery_app, database, redis_client)
    publisher = publisher_client(config, database, celery_app)
    before = publisher.get(f"/api/v1/stories/{story_id}").get_json()
    assert before["pubStatus"] == "usable"
    subscribed(database, subscriber.url("/atom"))
    subscribed(database, subscriber.url("/rss"), topic="/feeds/all.rss", secret=None)
    subscribed(database, subscriber.url("/json"), topic="/feeds/lang/en.json", secret=None)
    subscribed(database, subscriber.url("/french"), topic="/feeds/lang/fr.atom")
    desk = desk_client(config, database, celery_app)
    page = desk.get(f"/articles/{article_id}").text
    assert 'id="kill"' in page and f'name="story" value="{story_id}"' in page
    kills = killed(redis_client, "kill")

    refused = desk.post(f"/articles/{article_id}/kill", data={
        "story": story_id, "reason": " ", "csrf_token": csrf_token(desk, "/")})
    assert refused.status_code == 400 and "Not killed: say why" in refused.text
    forged = desk.post(f"/articles/{article_id}/kill", data={"story": story_id, "reason": "x"})
    assert forged.status_code == 400  # no CSRF token

    with celery_worker(celery_app, ["deliver"], concurrency=2):
        done = desk.post(f"/articles/{article_id}/kill", data={
            "story": story_id, "reason": "the minister never said it",
            "csrf_token": csrf_token(desk, "/")})
        assert done.status_code == 303
        wait_until(lambda: len(subscriber.pushes) == 3, timeout=20, message="three pushes")
        pushes = {p.path: p for p in subscriber.pushes}
    assert set(pushes) == {"/atom", "/rss", "/json"}  # the French feed never held it
    assert_tells_of_the_kill(pushes["/atom"], story_id)
    expected = hmac.new(b"s3cret", pushes["/atom"].body, hashlib.sha256).hexdigest()
    assert pushes["/atom"].headers["X-Hub-Signature"] == f"sha256={expected}"
    (deleted,) = tombstones(pushes["/rss"].body, rss=True)
    assert deleted.get("ref") == story_uri(story_id)
    feed = json.loads(pushes["/json"].body)
    assert feed["items"] == []
    assert [d["id"] for d in feed["_wiredesk"]["deleted_items"]] == [story_uri(story_id)]

    doc = assert_withdrawn(publisher, story_id)
    assert int(doc["version"]) == int(before["version"]) + 1
    assert "minister" not in json.dumps(doc)  # the reason stays in the newsroom
    assert killed(redis_client, "kill") == kills + 1

    with database.session() as session:
        row = session.get(models.Article, article_id)
        assert row.status == "retracted"
        assert row.routing_reason == f"killed by {EDITOR}: the minister never said it"
        assert session.get(models.Story, story_id).status == "retracted"
        (entry,) = [e for e in session.query(models.AuditEntry) if e.action == "kill"]
        assert (entry.editor, entry.article_id, entry.story_id, entry.note) == (
            EDITOR, article_id, story_id, "the minister never said it")
    events = [fields[b"type"] for _, fields in redis_client.xrange(keys.EVENTS_STREAM)]
    assert b"article.retracted" in events and b"story.killed" in events
    page = desk.get(f"/articles/{article_id}").text
    assert 'id="killed"' in page and 'id="kill"' not in page
    again = desk.post(f"/articles/{article_id}/kill", data={
        "story": story_id, "reason": "twice", "csrf_token": csrf_token(desk, "/")})
    assert again.status_code == 409 and "killed already" in again.text


@pytest.mark.parametrize("via", ["api", "cli"])
def test_a_kill_from_the_admin_api_or_the_cli_tells_subscribers(
        via: str, config: Any, celery_app: Any, database: Any, redis_client: Any,
        subscriber: Subscriber) -> None:
    from tests.test_cli import run

    _, story_id = quiet_published(celery_app, database, redis_client)
    subscribed(database, subscriber.url())
    publisher = publisher_client(config, database, celery_app)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def kill(story: str, **body: str) -> tuple[int, str]:
        if via == "api":
            answer = publisher.post(f"/admin/api/stories/{story}/kill", json=body, headers=auth)
            return answer.status_code, answer.text
        args = [f"--{name}={value}" for name, value in body.items()]
        done = run(config, "stories", "kill", story, *args)
        return done.exit_code, done.output

    assert kill(story_id, editor="amal")[0] in (422, 2)  # no reason
    assert kill(story_id, editor="a" * 101, reason="wrong")[0] in (422, 1)
    assert kill("s1-" + "0" * 32, editor="amal", reason="wrong")[0] in (404, 1)
    with celery_worker(celery_app, ["deliver"], concurrency=2):
        status, said = kill(story_id, editor="amal", reason="legal asked for it")
        assert status in (200, 0), said
        (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the kill's push")
    assert_tells_of_the_kill(push, story_id)
    assert_withdrawn(publisher, story_id)
    status, said = kill(story_id, editor="amal", reason="again")
    assert status in (409, 1) and "killed already" in said
