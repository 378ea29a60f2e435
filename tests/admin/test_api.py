"""The feed admin JSON API on the publisher app: token, validation, the registry's shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import store_sample_article
from wiredesk.publisher.app import create_app
from wiredesk.store import feeds as registry

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(config: Any, database: Any) -> Any:
    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    return app.test_client()


def test_no_token_configured_means_no_admin_api(publisher: Any) -> None:
    assert publisher.get("/admin/api/feeds", headers=AUTH).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_a_valid_bearer_token_is_required(admin: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = admin.get("/admin/api/feeds", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_crud(admin: Any) -> None:
    created = admin.post("/admin/api/feeds", headers=AUTH, json={
        "url": "https://example.org/rss", "name": "Example", "zone": "Asia/Dubai",
        "full_text": True, "identity": "guid", "language": "ar", "trust": "auto",
        "interval": 300})
    assert created.status_code == 201, created.json
    feed = created.json
    assert feed["zone"] == "Asia/Dubai" and feed["state"]["error_count"] == 0
    assert admin.post("/admin/api/feeds", headers=AUTH,
                      json={"url": "https://example.org/rss"}).status_code == 409

    url = f"/admin/api/feeds/{feed['id']}"
    patched = admin.patch(url, headers=AUTH, json={"enabled": False, "interval": 1800})
    assert patched.status_code == 200
    assert (patched.json["enabled"], patched.json["interval"], patched.json["zone"]) == (
        False, 1800, "Asia/Dubai")
    assert admin.get(url, headers=AUTH).json == patched.json
    # null clears a hint: no language hint, dates without a zone read as UTC (the default).
    cleared = admin.patch(url, headers=AUTH, json={"language": None, "zone": None})
    assert cleared.status_code == 200, cleared.json
    assert (cleared.json["language"], cleared.json["zone"]) == (None, "UTC")
    assert [f["id"] for f in admin.get("/admin/api/feeds", headers=AUTH).json["data"]] == [
        feed["id"]]
    assert admin.post(f"{url}/fetch", headers=AUTH).status_code == 202

    assert admin.delete(url, headers=AUTH).status_code == 204
    assert admin.get(url, headers=AUTH).status_code == 404
    assert admin.patch(url, headers=AUTH, json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://example.org/rss", "unknown": 1}, "unknown"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "https://example.org/rss", "zone": "Nowhere"}, "zone"),
    ({"name": "no url"}, "url"),
    (["not", "an", "object"], "_schema"),
])
def test_invalid_bodies_get_422_with_the_field(admin: Any, body: Any, field: str) -> None:
    response = admin.post("/admin/api/feeds", headers=AUTH, json=body)
    assert response.status_code == 422
    assert field in response.json["fields"]


@pytest.mark.parametrize("method, path", [
    ("get", "/admin/api/feeds/2147483648"), ("patch", "/admin/api/feeds/2147483648"),
    ("delete", "/admin/api/feeds/2147483648"), ("post", "/admin/api/feeds/2147483648/fetch"),
    ("get", "/admin/api/feeds/99999999999999999999"),
    ("get", "/websub/2147483648"), ("post", "/websub/99999999999999999999"),
])
def test_a_feed_id_past_the_id_column_is_no_feed(admin: Any, method: str, path: str) -> None:
    """The id column holds 32 bits: a larger id in the URL was a 500 (the database refused
    the parameter), on the admin API and on the unauthenticated WebSub callback."""
    response = getattr(admin, method)(path, headers=AUTH, json={"enabled": False})
    assert response.status_code in (404, 410), response.data[:200]


def test_feeds_show_of_an_id_past_the_id_column_says_no_feed(config: Any, database: Any) -> None:
    from click.testing import CliRunner

    from wiredesk.cli import main

    result = CliRunner().invoke(main, ["feeds", "show", "2147483648"],
                                env={"DATABASE_URL": config.sqlalchemy_url})
    assert result.exit_code == 1 and "no feed 2147483648" in result.output, result.exception



@pytest.fixture
def pending(database: Any) -> tuple[int, str]:
    """A feed and one of its articles waiting for review: (feed id, article id)."""
    from wiredesk.store import models

    article = store_sample_article(database)
    with database.session() as session:
        session.get(models.Article, article.id).status = "pending_review"
    return article.feed_id, article.id


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/admin/api/feeds", {"url": "https://example.org/rss", "name": "a\x00b"}, "name"),
    ("patch", "/admin/api/feeds/{feed}", {"name": "a\x00b"}, "name"),
    ("put", "/admin/api/rules",
     {"rules": [{"name": "n\x00", "action": "publish", "when": {}}]}, "rules"),
    ("delete", "/admin/api/articles/{article}", {"reason": "r\x00"}, "reason"),
    ("put", "/admin/api/articles/{article}/topics",
     {"qcodes": ["medtop:01000000"], "editor": "e\x00"}, "editor"),
    ("post", "/admin/api/review/{article}",
     {"decision": "approve", "editor": "amal", "note": "n\x00"}, "note"),
])
def test_a_nul_in_a_body_field_is_invalid_input(admin: Any, pending: tuple[int, str],
                                                method: str, path: str, body: Any,
                                                field: str) -> None:
    """PostgreSQL text cannot hold a NUL: it was a 500 (or, in a rule, stored) where other
    invalid input is a 422."""
    feed, article = pending
    response = getattr(admin, method)(path.format(feed=feed, article=article), headers=AUTH,
                                      json=body)
    assert response.status_code == 422, response.data[:200]
    assert field in response.json["fields"]


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/admin/api/feeds", {"url": "https://example.org/rss", "name": "Wire \ud83d"},
     "name"),
    ("post", "/admin/api/feeds", {"url": "https://example.org/\udc00"}, "url"),
    ("post", "/admin/api/review/{article}",
     {"decision": "reject", "editor": "amal", "note": "\ud83d"}, "note"),
    ("put", "/admin/api/articles/{article}/topics",
     {"qcodes": ["medtop:01000000"], "editor": "\udfff"}, "editor"),
])
def test_a_lone_surrogate_in_a_body_field_is_invalid_input(admin: Any, pending: tuple[int, str],
                                                           method: str, path: str, body: Any,
                                                           field: str) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud83d": a string cut inside an emoji); no text
    column can store it, and the database driver's encoding error was a 500."""
    data = json.dumps(body)  # the escape as sent, not the surrogate itself
    response = getattr(admin, method)(path.format(article=pending[1]), headers=AUTH, data=data,
                                      content_type="application/json")
    assert response.status_code == 422, response.data[:200]
    assert field in response.json["fields"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("delete", "/admin/api/articles/{article}%00", {"reason": "duplicate"}),
    ("put", "/admin/api/articles/{article}%00/topics",
     {"qcodes": ["medtop:01000000"], "editor": "amal"}),
    ("post", "/admin/api/review/{article}%00", {"decision": "approve", "editor": "amal"}),
])
def test_a_nul_in_an_article_id_is_no_article(admin: Any, pending: tuple[int, str],
                                              method: str, path: str, body: Any) -> None:
    """It was a 500 (the database refused the parameter)."""
    response = getattr(admin, method)(path.format(article=pending[1]), headers=AUTH, json=body)
    assert response.status_code == 404, response.data[:200]


@pytest.mark.parametrize(("method", "status"), [("post", 409), ("patch", 422)])
def test_a_url_another_request_is_adding_meanwhile_is_taken(config: Any, database: Any,
                                                            method: str, status: int) -> None:
    """A feed added (or moved) to a URL that another request (feeds.yaml, the CLI, a second
    operator) was adding meanwhile: the write met the other's on the unique index, and the
    answer was a 500 where a URL already registered is a 409 (a 422 for a move)."""
    import threading

    import httpx

    from tests.helpers import lock_waiters, serving_app, wait_until

    if database.engine.dialect.name != "postgresql":
        pytest.skip("waits on another transaction's insert: PostgreSQL only")
    url = "https://example.org/wire.xml"
    with database.session() as session:
        moved = registry.put_feed(session, {"url": "https://example.org/old.xml"}).id
    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    answers: list[httpx.Response] = []
    with serving_app(app) as served:
        base = f"{served}/admin/api/feeds"

        def send() -> None:
            target = base if method == "post" else f"{base}/{moved}"
            answers.append(httpx.request(method.upper(), target, json={"url": url},
                                         headers=AUTH, timeout=30))

        with database.session() as other:
            registry.put_feed(other, {"url": url})  # flushed, not committed yet
            sender = threading.Thread(target=send)
            sender.start()
            wait_until(lambda: lock_waiters(database) == 1,
                       message="the request waiting on the insert")
        sender.join(timeout=30)
    assert answers[0].status_code == status, answers[0].text[:200]
    assert "URL" in answers[0].text
    with database.session() as session:
        assert [f.url for f in registry.list_feeds(session)] == [
            "https://example.org/old.xml", url]


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/admin/api/review/{article}",
     {"decision": "approve", "editor": {"name": "amal"}}, "editor"),
    ("post", "/admin/api/review/{article}", {"decision": "reject", "editor": 7}, "editor"),
    ("post", "/admin/api/review/{article}",
     {"decision": "reject", "editor": "amal", "note": ["off topic"]}, "note"),
    ("put", "/admin/api/articles/{article}/topics",
     {"qcodes": ["medtop:01000000"], "editor": ["amal"]}, "editor"),
    ("delete", "/admin/api/articles/{article}", {"reason": ["duplicate"]}, "reason"),
    ("delete", "/admin/api/articles/{article}", {"reason": True}, "reason"),
])
def test_a_field_of_the_wrong_type_is_invalid_input(admin: Any, pending: tuple[int, str],
                                                    method: str, path: str, body: Any,
                                                    field: str) -> None:
    """Who decided and why are kept with the article: an object, a number or a list was taken
    as its Python text ("editor:{'name': 'amal'}") and the action done, answered 200."""
    from sqlalchemy import select

    from wiredesk.store import models

    article = pending[1]
    response = getattr(admin, method)(path.format(article=article), headers=AUTH, json=body)
    assert response.status_code == 422, response.data[:200]
    assert field in response.json["fields"]
    with admin.application.extensions["wiredesk_db"].session() as session:
        assert session.get(models.Article, article).status == "pending_review"
        assert session.scalars(select(models.TopicCorrection)).first() is None


def test_a_decision_on_no_article_is_a_404_and_on_a_decided_one_a_409(
        admin: Any, pending: tuple[int, str]) -> None:
    """Both were 409 "not waiting for review": a client could not tell a wrong id from an
    article another editor had decided."""
    body = {"decision": "approve", "editor": "amal"}
    missing = admin.post("/admin/api/review/a1-nosucharticle", headers=AUTH, json=body)
    assert (missing.status_code, missing.json["error"]) == (404, "no article a1-nosucharticle")
    assert admin.post(f"/admin/api/review/{pending[1]}", headers=AUTH, json=body).status_code \
        == 200
    again = admin.post(f"/admin/api/review/{pending[1]}", headers=AUTH, json=body)
    assert again.status_code == 409 and "not waiting for review" in again.json["error"]


@pytest.mark.parametrize("raw", [f"{TOKEN}\n", f"  {TOKEN}\r\n"])
def test_a_token_read_with_its_line_end_still_opens_the_api(config: Any, database: Any,
                                                            raw: str) -> None:
    """A token kept in a file (a Kubernetes Secret made --from-file, an env_file) comes with
    its newline: no bearer token could equal it, and every request was a 401."""
    from wiredesk.config import load

    app = create_app(config.replace(admin_token=load({"WIREDESK_ADMIN_TOKEN": raw}).admin_token))
    app.extensions["wiredesk_db"] = database
    assert app.test_client().get("/admin/api/feeds", headers=AUTH).status_code == 200


def test_a_blank_token_leaves_the_api_disabled(config: Any, database: Any) -> None:
    """A token of spaces was the API "enabled" with a token no request could give."""
    from wiredesk.config import load

    app = create_app(config.replace(admin_token=load({"WIREDESK_ADMIN_TOKEN": " \n"}).admin_token))
    app.extensions["wiredesk_db"] = database
    assert app.test_client().get("/admin/api/feeds", headers=AUTH).status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/admin/api/feeds"), ("put", "/admin/api/rules"),
    ("post", "/admin/api/review/a1-x"),
])
def test_a_body_past_the_limit_is_a_413_read_no_further(admin: Any, method: str,
                                                        path: str) -> None:
    """Every body was read whole into the worker's memory and parsed, whatever its size (a
    file posted by mistake, a runaway script): a gigabyte was a gigabyte, then some."""
    body = json.dumps({"url": "https://example.org/rss", "name": "x" * 2**21})  # 2 MiB
    response = getattr(admin, method)(path, headers=AUTH, data=body,
                                      content_type="application/json")
    assert response.status_code == 413, response.data[:200]
    assert response.json["error"]
