"""Editors log in to the desk: accounts from `wiredesk editors add`, signed session cookies."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.desk.conftest import EDITOR, PASSWORD, csrf_token, log_in
from wiredesk.cli import main
from wiredesk.config import Config
from wiredesk.store import models


def audit_actions(database: Any) -> list[tuple[str, str]]:
    with database.session() as session:
        return [(r.editor, r.action) for r in session.scalars(
            select(models.AuditEntry).order_by(models.AuditEntry.id))]


def test_every_page_needs_a_login(desk_app: Any) -> None:
    client = desk_app.test_client()
    answer = client.get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and answer.location.startswith("/login?next=/")
    assert client.post("/logout").status_code in (400, 401)  # no session (and no CSRF token)
    assert client.get("/healthz").status_code == 200  # the probes need none


def test_log_in_and_out(desk_app: Any, database: Any) -> None:
    client = desk_app.test_client()
    answer = log_in(client)
    assert answer.status_code == 303 and answer.location == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert page.status_code == 200 and EDITOR in page.text
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 303
    assert client.get("/").status_code == 302
    assert audit_actions(database) == [(EDITOR, "login"), (EDITOR, "logout")]


def test_a_failed_login_does_not_say_whether_the_name_exists(desk_app: Any) -> None:
    client = desk_app.test_client()
    wrong_password = log_in(client, EDITOR, "not the password")
    no_such_name = log_in(client, "nobody", PASSWORD)
    assert wrong_password.status_code == no_such_name.status_code == 401
    # The same page, but for the form's fresh CSRF token (signed with the time).
    token = re.compile(r'name="csrf_token" value="[^"]+"')
    assert token.sub("", wrong_password.text) == token.sub("", no_such_name.text)
    assert "Wrong name or password." in wrong_password.text
    assert "Set-Cookie" not in wrong_password.headers


def test_next_goes_back_to_the_page_but_never_to_another_site(desk_app: Any) -> None:
    client = desk_app.test_client()
    assert log_in(client, next="//evil.example/x").location == "/"
    assert log_in(client, next="/articles/a1").location == "/articles/a1"


def test_a_removed_editor_is_logged_out(editor: Any, config: Config, database: Any) -> None:
    env = {"DATABASE_URL": config.sqlalchemy_url}
    assert CliRunner().invoke(main, ["editors", "remove", EDITOR], env=env).exit_code == 0
    assert editor.get("/").status_code == 302


def test_secure_cookie_behind_tls(config: Config, database: Any) -> None:
    from wiredesk.desk.app import create_app
    from wiredesk.store.editors import add_editor

    with database.session() as session:
        add_editor(session, EDITOR, PASSWORD)
    app = create_app(config.replace(desk_secret_key="s", desk_secure_cookie=True))
    app.extensions["wiredesk_db"] = database
    assert "Secure" in log_in(app.test_client()).headers["Set-Cookie"]


def test_no_secret_no_desk(config: Config) -> None:
    from wiredesk.desk.app import create_app
    from wiredesk.services import serve_desk

    with pytest.raises(ValueError, match="WIREDESK_DESK_SECRET_KEY is not set"):
        create_app(config)
    with pytest.raises(SystemExit, match="WIREDESK_DESK_SECRET_KEY is not set"):
        serve_desk(config)


def test_operators_create_editors(config: Config, database: Any) -> None:
    from wiredesk.store.editors import authenticate

    env = {"DATABASE_URL": config.sqlalchemy_url}
    cli = CliRunner()
    added = cli.invoke(main, ["editors", "add", "omar"], input="a long password\n", env=env)
    assert added.exit_code == 0, added.output
    again = cli.invoke(main, ["editors", "add", "omar"], input="another password\n", env=env)
    assert again.exit_code == 1 and "editor omar exists" in again.output
    short = cli.invoke(main, ["editors", "add", "zaid"], input="short\n", env=env)
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    bad_name = cli.invoke(main, ["editors", "add", "two words"], input="a long password\n",
                          env=env)
    assert bad_name.exit_code == 1 and "name" in bad_name.output
    replaced = cli.invoke(main, ["editors", "add", "omar", "--replace"],
                          input="another password\n", env=env)
    assert replaced.exit_code == 0, replaced.output
    listing = cli.invoke(main, ["editors", "list"], env=env)
    assert listing.output.split("\t")[0] == "omar"
    with database.session() as session:
        assert authenticate(session, "omar", "another password") == "omar"
        assert authenticate(session, "omar", "a long password") is None
        stored = session.scalar(select(models.Editor.password_hash))
    assert "password" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_forms_without_the_sessions_csrf_token_are_refused(desk_app: Any, database: Any) -> None:
    """A page on another site posting to the desk with the editor's cookie does nothing."""
    client = desk_app.test_client()
    forged = client.post("/login", data={"name": EDITOR, "password": PASSWORD})
    assert forged.status_code == 400 and "reload the page" in forged.text
    assert "Set-Cookie" not in forged.headers
    assert log_in(client).status_code == 303
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    other = desk_app.test_client()  # another session's token is no good here either
    assert client.post("/logout", data={"csrf_token": csrf_token(other)}).status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    assert audit_actions(database) == [(EDITOR, "login")]
