"""Every feed and API response carries validators and answers 304 when unchanged."""

from __future__ import annotations

import threading
from typing import Any

import feedparser
import pytest

from tests.helpers import store_sample_feed
from wiredesk.pipeline.tasks import process_article

# The front page too: without validators a browser fetched and rendered all of it again.
PATHS = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/api/v1/stories", "/"]


@pytest.fixture
def published(celery_app: Any, database: Any) -> list[str]:
    ids = store_sample_feed(database)
    for article_id in ids:
        process_article(celery_app.wiredesk, article_id)
    return ids


@pytest.mark.parametrize("path", PATHS)
def test_conditional_requests(path: str, publisher: Any, published: list[str]) -> None:
    first = publisher.get(path)
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = publisher.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    since = publisher.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304


def test_cache_busting_queries_share_one_last_modified_record(
        publisher: Any, published: list[str], redis_client: Any) -> None:
    """The date a body was first served was kept (7 days) per path and whole query: a client
    adding a cache-buster (?_=<time>, as jQuery does) to every poll made a Redis key per
    request. Only the parameters a body depends on (the API's limit and cursor) name one."""
    from wiredesk import keys

    def records() -> int:
        return len(list(redis_client.scan_iter(keys.publisher_last_modified("*"))))

    publisher.get("/feeds/all.atom")
    publisher.get("/api/v1/stories?limit=2")
    before = records()
    for n in range(20):
        assert publisher.get(f"/feeds/all.atom?_={n}").status_code == 200
        assert publisher.get(f"/api/v1/stories?_={n}&limit=2").status_code == 200
    assert records() == before
    publisher.get("/api/v1/stories?limit=3")  # another body: its own record
    assert records() == before + 1


def test_story_detail_caching_and_404(publisher: Any, published: list[str]) -> None:
    story_uri = publisher.get("/api/v1/stories").get_json()["data"][0]["uri"]
    path = "/api/v1/stories/" + story_uri.rsplit("/", 1)[1]
    first = publisher.get(path)
    assert publisher.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert publisher.get("/api/v1/stories/s1-nope").status_code == 404
    assert publisher.get("/api/v1/stories?cursor=%%%").status_code == 400


def test_feeds_parse_and_html_is_sanitized(publisher: Any, published: list[str]) -> None:
    for path in ("/feeds/all.atom", "/feeds/all.rss"):
        parsed = feedparser.parse(publisher.get(path).data)
        assert not parsed.bozo and len(parsed.entries) == 3
    body = publisher.get("/feeds/all.json").get_json()
    assert body["version"] == "https://jsonfeed.org/version/1.1" and len(body["items"]) == 3
    assert all("<script" not in item.get("content_html", "") for item in body["items"])
    page = publisher.get("/").data.decode()
    assert "Marathon runner sets course record" in page and "<script>alert" not in page


def test_health_and_metrics(publisher: Any, published: list[str]) -> None:
    assert publisher.get("/healthz").status_code == 200
    assert publisher.get("/livez").status_code == 200
    publisher.get("/feeds/all.atom")
    assert b"wiredesk_publisher_requests_total" in publisher.get("/metrics").data


def test_a_story_committed_after_a_newer_one_is_not_answered_304(
        celery_app: Any, database: Any, publisher: Any, monkeypatch: Any) -> None:
    """Story B is stamped before story C but commits after it. A client that read the feed in
    between and revalidates must get B: a Last-Modified of the newest stamp (C's) did not move
    when B appeared, so If-Modified-Since was answered 304 and B went unseen."""
    from wiredesk.pipeline import tasks

    first_id, slow_id, fast_id = store_sample_feed(database)
    process_article(celery_app.wiredesk, first_id)
    reached, go = threading.Event(), threading.Event()
    apply = tasks._apply

    def apply_then_wait(session: Any, row: Any, article: Any, decision: Any) -> str:
        status = apply(session, row, article, decision)  # the story is stamped here
        if row.id == slow_id:
            reached.set()
            assert go.wait(timeout=30), "the test never released the worker"
        return status

    monkeypatch.setattr(tasks, "_apply", apply_then_wait)
    slow = threading.Thread(target=process_article, args=(celery_app.wiredesk, slow_id))
    slow.start()
    try:
        assert reached.wait(timeout=30), "the slow worker never reached its commit"
        assert process_article(celery_app.wiredesk, fast_id) == "published"
        before = publisher.get("/feeds/all.atom")
    finally:
        go.set()
        slow.join(timeout=60)
    assert len(feedparser.parse(before.data).entries) == 2
    validators = {name: before.headers[header] for name, header in (
        ("If-None-Match", "ETag"), ("If-Modified-Since", "Last-Modified")) if header in before.headers}
    for name, value in validators.items():
        again = publisher.get("/feeds/all.atom", headers={name: value})
        assert again.status_code == 200, f"{name} answered {again.status_code}"
        assert len(feedparser.parse(again.data).entries) == 3


PARTNER = {"Origin": "https://partner.example"}


@pytest.mark.parametrize("path", ["/api/v1/stories", "/feeds/all.json", "/feeds/lang/ar.atom",
                                  "/api/v1/stories/s1-nope", "/api/v1/stories?limit=0"])
def test_a_partner_web_app_may_read_the_api_and_the_feeds(path: str, publisher: Any,
                                                          published: list[str]) -> None:
    """A partner site reading the JSON API or the JSON Feed from its pages' JavaScript was
    refused by every browser: no Access-Control-Allow-Origin. The stories are public, read
    without credentials: any origin may read them, an error or a 304 too, with the ETag and
    the WebSub links."""
    response = publisher.get(path, headers=PARTNER)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "link"} <= exposed
    if response.status_code == 200:
        again = publisher.get(path, headers={**PARTNER, "If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == "*"


def test_a_browser_may_revalidate_across_origins(publisher: Any) -> None:
    """If-None-Match is no CORS-safelisted header: the browser asks first (a preflight)."""
    response = publisher.options("/api/v1/stories", headers={
        **PARTNER, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match, if-modified-since"})
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert {"GET", "HEAD"} <= {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"if-none-match", "if-modified-since"} <= allowed


def test_the_admin_api_and_the_hub_are_not_opened_to_other_origins(publisher: Any) -> None:
    for method, path in (("get", "/admin/api/feeds"), ("post", "/websub/hub"), ("get", "/")):
        response = getattr(publisher, method)(path, headers=PARTNER)
        assert "Access-Control-Allow-Origin" not in response.headers, path
