"""The review queue over HTTP: what editors see, and what approving and rejecting do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.desk.conftest import EDITOR, csrf_token, hold, store_sample
from wiredesk import keys
from wiredesk.store import models
from wiredesk.store import stories as story_store


@pytest.fixture
def held(celery_app: Any, database: Any) -> list[str]:
    """The sample wires' articles (English, then Arabic), held for review by routing."""
    return hold(celery_app, store_sample(database, "world-wire.xml")
                + store_sample(database, "arabic-wire.xml"))


def decide(client: Any, article_id: str, decision: str, note: str = "") -> Any:
    return client.post(f"/articles/{article_id}/decision",
                       data={"decision": decision, "note": note,
                             "csrf_token": csrf_token(client, "/")})


def row(database: Any, article_id: str) -> models.Article:
    with database.session() as session:
        found = session.get(models.Article, article_id)
        session.expunge(found)
        return found


def audit_rows(database: Any) -> list[tuple[str, str, str | None, str | None, str]]:
    with database.session() as session:
        return [(r.editor, r.action, r.article_id, r.story_id, r.note) for r in session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.article_id.is_not(None))
            .order_by(models.AuditEntry.id))]


def test_the_queue_shows_each_held_article(editor: Any, held: list[str], database: Any) -> None:
    page = editor.get("/").text
    for article_id in held:
        article = row(database, article_id)
        assert f'id="article-{article_id}"' in page
        assert f'lang="{article.language}"' in page and 'dir="auto"' in page
        assert article.routing_rule in page and article.title in page
    assert "world-wire" in page and "arabic-wire" in page
    # Arabic copy is laid out right to left: its language is named and its direction is auto.
    assert {row(database, i).language for i in held} >= {"en", "ar"}
    assert '<div class="copy" dir="auto" lang="ar">' in page
    # Each entry says how many articles its story has.
    assert "(1 article)" in page and "(2 articles)" not in page
    with database.session() as session:
        story_store.merge(session, row(database, held[0]).story_id, row(database, held[1]).story_id)
    assert editor.get("/").text.count("(2 articles)") == 2


def test_approve_and_reject_publish_audit_and_announce(editor: Any, held: list[str],
                                                       database: Any, redis_client: Any) -> None:
    approved = decide(editor, held[0], "approve", "checked with the bureau")
    assert approved.status_code == 303 and approved.location == "/"
    assert decide(editor, held[1], "reject").status_code == 303
    first, second = row(database, held[0]), row(database, held[1])
    assert (first.status, second.status) == ("published", "rejected")
    assert first.routing_rule == f"editor:{EDITOR}"
    assert first.routing_reason == f"approved by {EDITOR}: checked with the bureau"
    assert audit_rows(database) == [
        (EDITOR, "approve", held[0], first.story_id, "checked with the bureau"),
        (EDITOR, "reject", held[1], second.story_id, "")]
    events = [(e[b"type"].decode(), json.loads(e[b"data"]))
              for _, e in redis_client.xrange(keys.EVENTS_STREAM)]
    assert events[-2:] == [("article.published", {"article_id": held[0], "editor": EDITOR}),
                           ("article.rejected", {"article_id": held[1], "editor": EDITOR})]
    # The approved story is pushed to subscribers (one fan-out task); the rejected one not.
    sent = [json.loads(m)["headers"] for m in redis_client.lrange("deliver", 0, -1)]
    assert [(h["task"], h["argsrepr"]) for h in sent] == [
        ("deliver.fan_out", repr([first.story_id]))]
    page = editor.get("/").text
    assert "Rejected:" in page and f'id="article-{held[0]}"' not in page
    assert f'id="article-{held[2]}"' in page
    article_page = editor.get(f"/articles/{held[0]}").text
    assert "checked with the bureau" in article_page and "approve" in article_page


def test_a_second_decision_is_a_clear_409(editor: Any, held: list[str], database: Any) -> None:
    """Two editors (or a double click) on one article: the first decides, the second is told."""
    assert decide(editor, held[0], "approve").status_code == 303
    again = decide(editor, held[0], "reject")
    assert again.status_code == 409
    assert "no longer waiting for review: it is published" in again.text
    assert row(database, held[0]).status == "published"
    assert [r[1] for r in audit_rows(database)] == ["approve"]


def test_decisions_need_the_csrf_token_and_a_known_decision(editor: Any, held: list[str],
                                                            database: Any) -> None:
    forged = editor.post(f"/articles/{held[0]}/decision", data={"decision": "approve"})
    assert forged.status_code == 400
    odd = editor.post(f"/articles/{held[0]}/decision",
                      data={"decision": "publish", "csrf_token": csrf_token(editor, "/")})
    assert odd.status_code == 400
    assert decide(editor, "no-such-article", "approve").status_code == 404
    assert row(database, held[0]).status == "pending_review" and audit_rows(database) == []


def test_decisions_need_a_login(desk_app: Any, held: list[str], database: Any) -> None:
    client = desk_app.test_client()
    token = csrf_token(client)  # a session without an editor
    answer = client.post(f"/articles/{held[0]}/decision",
                         data={"decision": "approve", "csrf_token": token})
    assert answer.status_code == 401
    assert row(database, held[0]).status == "pending_review"


def test_the_article_page_shows_the_sanitized_body_and_the_story(editor: Any, held: list[str],
                                                                 database: Any) -> None:
    article = row(database, held[0])
    with database.session() as session:
        session.get(models.Article, held[0]).body_html = (
            '<p>Quake <b>hits</b></p><script>alert(1)</script><img src=x onerror="alert(2)">')
    page = editor.get(f"/articles/{held[0]}")
    assert page.status_code == 200
    assert "<p>Quake <b>hits</b></p>" in page.text
    assert "<script>alert" not in page.text and "onerror" not in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert article.story_id in page.text and 'value="approve"' in page.text
    assert editor.get("/articles/no-such-article").status_code == 404


def test_queue_items_for_the_live_page(editor: Any, held: list[str]) -> None:
    item = editor.get(f"/queue/items/{held[0]}")
    assert item.status_code == 200 and item.text.lstrip().startswith(("{#", "<li"))
    assert decide(editor, held[0], "approve").status_code == 303
    assert editor.get(f"/queue/items/{held[0]}").status_code == 404


def read_events(response: Any, wanted: int) -> list[str]:
    """The first ``wanted`` SSE blocks of a streamed response (the stream blocks in between)."""
    blocks, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer and len(blocks) < wanted:
            block, buffer = buffer.split("\n\n", 1)
            blocks.append(block)
        if len(blocks) >= wanted:
            break
    response.close()
    return blocks


def test_the_event_stream_follows_from_where_the_page_read(
        editor: Any, desk_app: Any, celery_app: Any, database: Any, redis_client: Any) -> None:
    from wiredesk import events

    events.emit(redis_client, "article.published", article_id="before-the-page")
    page = editor.get("/").text
    after = re.search(r'data-events="/events\?after=([0-9-]+)"', page).group(1)
    held_id = hold(celery_app, store_sample(database, "arabic-wire.xml")[:1])[0]
    events.emit(redis_client, "story.published", story_id="s1")  # not the queue's business
    events.emit(redis_client, "article.rejected", article_id="a-gone", editor="omar")
    desk_app.config["DESK_EVENTS_HEARTBEAT_SECONDS"] = 0.05
    stream = editor.get(f"/events?after={after}", buffered=False)
    assert stream.mimetype == "text/event-stream"
    retry, entered, left, heartbeat = read_events(stream, 4)
    assert retry == "retry: 2000"
    _, event_line, data_line = entered.split("\n")
    assert event_line == "event: article"
    assert json.loads(data_line.removeprefix("data: "))["article_id"] == held_id
    assert json.loads(data_line.removeprefix("data: "))["type"] == "article.pending_review"
    assert '"type": "article.rejected"' in left
    assert heartbeat == ": heartbeat"
    # A reconnect starts after the last event the browser saw.
    last_id = left.split("\n")[0].removeprefix("id: ")
    again = editor.get("/events", headers={"Last-Event-ID": last_id}, buffered=False)
    assert read_events(again, 2)[1] == ": heartbeat"


def test_the_event_stream_needs_a_login(desk_app: Any) -> None:
    answer = desk_app.test_client().get("/events")
    assert answer.status_code == 401  # EventSource gives up instead of following a redirect


def test_a_quiet_stream_sends_heartbeats_past_the_redis_clients_socket_timeout(
        editor: Any, desk_app: Any) -> None:
    """redis-py reads with a 5 s socket timeout by default: an XREAD BLOCK of the 15 s heartbeat
    failed after 5 s, so on a quiet desk every stream ended, heartbeat-less, every 5 s."""
    desk_app.config["DESK_EVENTS_HEARTBEAT_SECONDS"] = 5.5
    stream = editor.get("/events", buffered=False)
    assert read_events(stream, 2) == ["retry: 2000", ": heartbeat"]


def test_a_nul_character_is_refused_not_a_500(editor: Any, desk_app: Any) -> None:
    """PostgreSQL text cannot hold a NUL: an id or form field with one made every desk page
    that looked it up answer 500 (a crawler, a mistyped link, a pasted binary)."""
    assert editor.get("/articles/a%00b").status_code == 404
    assert editor.get("/queue/items/a%00b").status_code == 404
    token = csrf_token(editor, "/")
    assert editor.post("/articles/a%00b/decision",
                       data={"decision": "approve", "csrf_token": token}).status_code == 404
    other = desk_app.test_client()
    answer = other.post("/login", data={"name": "a\x00b", "password": "x",
                                        "csrf_token": csrf_token(other)})
    assert answer.status_code == 400 and "NUL" in answer.text


def test_a_feed_urls_password_stays_off_the_desk(editor: Any, held: list[str],
                                                 database: Any) -> None:
    """A paid wire registered by its URL alone (user and password in it) was named on the
    queue and article pages by that URL, password and all, for every editor to read."""
    with database.session() as session:
        feed = session.scalars(select(models.Feed)).first()
        feed.name, feed.url = "", "https://desk:s3cret-wire-key@wire.example/feed.xml"
    for page in (editor.get("/").text, editor.get(f"/articles/{held[0]}").text):
        assert "s3cret-wire-key" not in page and "wire.example/feed.xml" in page
