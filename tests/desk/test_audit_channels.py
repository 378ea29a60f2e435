"""One audit trail whatever the channel: decisions and topic corrections taken through the
admin API or the CLI are written to ``audit_log`` with the change, and the desk's article page
shows them as it shows its own."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tests.desk.conftest import hold, store_sample
from tests.desk.test_queue import audit_rows, row
from wiredesk.cli import main

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def held(celery_app: Any, database: Any) -> list[str]:
    return hold(celery_app, store_sample(database, "world-wire.xml"))


@pytest.fixture
def admin(config: Any, database: Any, redis_client: Any) -> Any:
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    return app.test_client()


def cli(config: Any, *args: str) -> Any:
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url,
           "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_decisions_through_the_api_and_the_cli_are_audited_and_shown_on_the_desk(
        config: Any, database: Any, admin: Any, editor: Any, held: list[str]) -> None:
    by_api, by_cli = held[0], held[1]
    answer = admin.post(f"/admin/api/review/{by_api}", headers=AUTH,
                        json={"decision": "approve", "editor": "nadia", "note": "checked"})
    assert answer.status_code == 200, answer.json
    cli(config, "review", "decide", by_cli, "reject", "--editor", "omar", "--note", "unsourced")
    assert audit_rows(database) == [
        ("nadia", "approve", by_api, row(database, by_api).story_id, "checked"),
        ("omar", "reject", by_cli, row(database, by_cli).story_id, "unsourced")]
    page = editor.get(f"/articles/{by_api}").text
    trail = page[page.index('id="audit"'):]
    assert "nadia" in trail and "approve" in trail and "checked" in trail


def test_topic_corrections_through_the_api_and_the_cli_are_audited(
        config: Any, database: Any, admin: Any, editor: Any, held: list[str]) -> None:
    answer = admin.put(f"/admin/api/articles/{held[0]}/topics", headers=AUTH,
                       json={"qcodes": ["medtop:01000000"], "editor": "nadia"})
    assert answer.status_code == 200, answer.json
    cli(config, "review", "topics", held[1], "medtop:15000000", "--editor", "omar")
    assert [(r[0], r[1], r[2], r[4]) for r in audit_rows(database)] == [
        ("nadia", "topics", held[0], "medtop:01000000"),
        ("omar", "topics", held[1], "medtop:15000000")]
    trail = editor.get(f"/articles/{held[1]}").text.split('id="audit"')[1]
    assert "omar" in trail and "medtop:15000000" in trail


def test_an_editor_name_too_long_for_the_trail_is_refused_and_nothing_decided(
        database: Any, admin: Any, held: list[str]) -> None:
    answer = admin.post(f"/admin/api/review/{held[0]}", headers=AUTH,
                        json={"decision": "approve", "editor": "n" * 101})
    assert answer.status_code == 422 and "editor" in answer.json["fields"]
    assert row(database, held[0]).status == "pending_review" and audit_rows(database) == []
