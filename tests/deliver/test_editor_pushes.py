"""Stories editors publish reach subscribers too: an approval on the desk or through the admin
API, and a topic correction, are pushed as the pipeline's publications are. Before, only what
the pipeline published automatically was pushed; held copy an editor approved never was."""

from __future__ import annotations

from typing import Any

import feedparser

from tests.deliver.subscriber import Subscriber
from tests.deliver.test_push import subscribed
from tests.desk.conftest import EDITOR, SECRET, csrf_token, hold, log_in, store_sample
from tests.helpers import wait_until
from wiredesk.store import models


def _held(celery_app: Any, database: Any) -> str:
    return hold(celery_app, store_sample(database, "world-wire.xml"))[0]


def _title(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).title  # type: ignore[union-attr]


def test_an_approval_on_the_desk_is_pushed(config: Any, celery_app: Any, database: Any,
                                           deliver_worker: Any, subscriber: Subscriber) -> None:
    from wiredesk.desk.app import create_app
    from wiredesk.store.editors import add_editor

    subscribed(database, subscriber.url())
    article_id = _held(celery_app, database)
    assert subscriber.pushes == []  # held: nothing to push
    with database.session() as session:
        add_editor(session, EDITOR, "correct horse battery")
    app = create_app(config.replace(desk_secret_key=SECRET))
    app.extensions.update(wiredesk_db=database, wiredesk_celery=celery_app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    answer = client.post(f"/articles/{article_id}/decision", data={
        "decision": "approve", "csrf_token": csrf_token(client, "/")})
    assert answer.status_code == 303
    (push,) = wait_until(lambda: subscriber.pushes, timeout=20, message="the push")
    assert feedparser.parse(push.body).entries[0].title == _title(database, article_id)


def test_an_approval_and_a_topic_correction_through_the_admin_api_are_pushed(
        config: Any, celery_app: Any, database: Any, deliver_worker: Any,
        subscriber: Subscriber) -> None:
    from wiredesk.publisher.app import create_app

    subscribed(database, subscriber.url("/sport"), topic="/feeds/topic/15000000.atom")
    subscribed(database, subscriber.url("/all"))
    article_id = _held(celery_app, database)
    app = create_app(config.replace(admin_token="t0ken"))
    app.extensions.update(wiredesk_db=database, wiredesk_celery=celery_app)
    client, auth = app.test_client(), {"Authorization": "Bearer t0ken"}
    assert client.post(f"/admin/api/review/{article_id}", headers=auth,
                       json={"decision": "approve", "editor": "amal"}).status_code == 200
    wait_until(lambda: [p.path for p in subscriber.pushes] == ["/all"], timeout=20,
               message="the approval's push")
    # Filed under sport by an editor: the story enters the sport feed (and changes in all).
    assert client.put(f"/admin/api/articles/{article_id}/topics", headers=auth,
                      json={"qcodes": ["medtop:15000000"], "editor": "amal"}).status_code == 200
    wait_until(lambda: sorted(p.path for p in subscriber.pushes) == ["/all", "/all", "/sport"],
               timeout=20, message="the correction's pushes")


def test_an_approval_and_a_topic_correction_from_the_cli_are_pushed(
        config: Any, celery_app: Any, database: Any, deliver_worker: Any,
        subscriber: Subscriber) -> None:
    from tests.test_cli import run

    subscribed(database, subscriber.url("/all"))
    article_id = _held(celery_app, database)
    decided = run(config, "review", "decide", article_id, "approve", "--editor", "amal")
    assert decided.exit_code == 0, decided.output
    wait_until(lambda: len(subscriber.pushes) == 1, timeout=20, message="the approval's push")
    filed = run(config, "review", "topics", article_id, "medtop:15000000", "--editor", "amal")
    assert filed.exit_code == 0, filed.output
    wait_until(lambda: len(subscriber.pushes) == 2, timeout=20, message="the correction's push")
