"""The operators' command: add and list feeds, ingest once, print the config table."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from wiredesk import config as config_module
from wiredesk.cli import main
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.store import models
from wiredesk.store.feeds import add_feed


def run(config: Any, *args: str) -> Any:
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url,
           "WIREDESK_FETCH_ALLOW_NETWORKS": "127.0.0.1/32",
           "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_feeds_add_list_and_ingest_once(config: Any, database: Any, redis_client: Any,
                                        feed_server: Any) -> None:
    url = feed_server.serve("/ar.xml", (SAMPLE_FEEDS_DIR / "arabic-wire.xml").read_bytes())
    added = run(config, "feeds", "add", url, "--name", "Arabic wire", "--language", "ar",
                "--trust", "auto", "--interval", "120")
    assert added.exit_code == 0, added.output
    listing = run(config, "feeds", "list")
    assert url in listing.output and "auto\t120" in listing.output

    once = run(config, "ingest", "--once")
    assert once.exit_code == 0, once.output
    assert "ok (new=2)" in once.output
    with database.session() as session:
        assert len(list(session.scalars(select(models.Article)))) == 2
    # Enqueued for the pipeline after the commit: the feed's two new articles, one message.
    assert redis_client.llen("process") == 1

    again = run(config, "ingest", "--once")
    assert "not_modified" in again.output


def test_bad_options_are_refused(config: Any, database: Any) -> None:
    result = run(config, "feeds", "add", "http://127.0.0.1/x", "--trust", "always")
    assert result.exit_code == 2 and "auto" in result.output


def test_config_markdown_is_the_readme_table(config: Any) -> None:
    assert run(config, "config", "--markdown").output.strip() == config_module.markdown_table()


@pytest.mark.parametrize("command", [["ingest", "--once"], ["dedupe", "rebuild"],
                                     ["articles", "delete", "a1-x", "--reason", "legal"]])
def test_commands_that_need_redis_say_so_when_redis_url_is_unset(
        config: Any, database: Any, command: list[str]) -> None:
    """As in a shell next to `make run`, whose Valkey is its own: it was a traceback about
    the Redis URL's scheme."""
    with database.session() as session:
        add_feed(session, "http://127.0.0.1:9/feed.xml")
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": "",
           "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "REDIS_URL" in result.output


@pytest.mark.parametrize("command", [
    ["ingest", "--once"], ["dedupe", "rebuild"], ["articles", "replay", "--failed"],
    ["review", "decide", "{held}", "approve", "--editor", "amal"],
    ["articles", "delete", "{held}", "--reason", "legal"],
])
def test_a_redis_that_does_not_answer_is_named_and_nothing_is_decided(
        config: Any, database: Any, celery_app: Any, command: list[str]) -> None:
    """A wrong or unreachable REDIS_URL (Redis down, the port of an old `wiredesk run`) was a
    redis-py traceback for ingest and dedupe rebuild; review decide committed the decision,
    then lost its event and the push to subscribers; articles delete deleted, then lost the
    push of the story it changed or withdrew (its kill uncounted)."""
    from tests.helpers import free_port, store_sample_feed
    from wiredesk.pipeline.tasks import process_article

    held = store_sample_feed(database, trust="review")[0]
    assert process_article(celery_app.wiredesk, held) == "pending_review"
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": url,
           "WIREDESK_DATA_DIR": str(config.data_dir)}
    result = CliRunner().invoke(main, [part.format(held=held) for part in command], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in result.output, result.output
    assert "s3cret" not in result.output
    with database.session() as session:
        assert session.get(models.Article, held).status == "pending_review"


def test_ingest_once_of_an_id_past_the_id_column_is_a_usage_error(config: Any,
                                                                   database: Any) -> None:
    """It was a database traceback (integer out of range)."""
    result = CliRunner().invoke(main, ["ingest", "--once", "2147483648"], env={
        "DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url})
    assert result.exit_code == 2 and "2147483648" in result.output, result.exception


def test_ingest_once_of_a_missing_feed_fails_and_the_others_still_run(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    """It printed 'missing' and exited 0, so a script never knew the id was wrong."""
    url = feed_server.serve("/ar.xml", (SAMPLE_FEEDS_DIR / "arabic-wire.xml").read_bytes())
    with database.session() as session:
        feed_id = add_feed(session, url).id
    result = run(config, "ingest", "--once", "99999", str(feed_id))
    assert result.exit_code == 1, result.output
    assert "no feed 99999" in result.output
    assert f"feed {feed_id}: ok (new=2)" in result.output


@pytest.mark.parametrize("command", [
    ["feeds", "list"], ["feeds", "add", "http://127.0.0.1/feed.xml"], ["review", "list"],
    ["review", "decide", "a1-x", "approve", "--editor", "amal"], ["rules", "show"],
    ["ingest", "--once"], ["dedupe", "rebuild"],
])
def test_commands_on_a_database_without_the_schema_say_to_upgrade(
        config: Any, redis_client: Any, tmp_path: Any, command: list[str]) -> None:
    """Before the first `make run` or `wiredesk db upgrade` every command was a SQL traceback
    (no such table: feeds)."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "REDIS_URL": config.redis_url,
           "WIREDESK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "wiredesk db upgrade" in result.output


def test_a_database_that_does_not_answer_is_named_not_a_traceback(tmp_path: Any) -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://wiredesk:s3cret@127.0.0.1:1/wiredesk",
           "WIREDESK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["feeds", "list"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "127.0.0.1:1" in result.output and "s3cret" not in result.output


def test_config_does_not_print_secrets(tmp_path: Any) -> None:
    """`wiredesk config` is what an operator pastes into an issue: it printed the database
    and Redis passwords and the admin token."""
    env = {"DATABASE_URL": "postgresql+psycopg://wiredesk:db-s3cret@db.internal/wiredesk",
           "REDIS_URL": "redis://:redis-s3cret@redis.internal:6379/0",
           "WIREDESK_ADMIN_TOKEN": "token-s3cret", "WIREDESK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["config"], env=env)
    assert result.exit_code == 0
    assert "s3cret" not in result.output
    assert "db.internal/wiredesk" in result.output and "redis.internal:6379" in result.output
    assert "admin_token = '***'" in result.output


def test_config_does_not_print_the_passwords_of_a_multi_url_redis_url(tmp_path: Any) -> None:
    """Kombu's form for several brokers lists URLs separated by ';': the second one's
    password was printed (URL-quoted) after the first one's was masked."""
    env = {"REDIS_URL": "redis://:pw-s3cret@s1:26379/0;redis://:pw-s3cret@s2:26379/0",
           "WIREDESK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["config"], env=env)
    assert result.exit_code == 0
    assert "s3cret" not in result.output
    assert "s1:26379" in result.output and "s2:26379" in result.output


@pytest.mark.parametrize("command", [
    ["review", "decide", "{article}", "approve", "--editor", " "],
    ["review", "decide", "{article}", "reject", "--editor", ""],
    ["review", "topics", "{article}", "medtop:01000000", "--editor", "  "],
    ["articles", "delete", "{article}", "--reason", " "],
])
def test_a_blank_editor_or_reason_is_refused(config: Any, database: Any, redis_client: Any,
                                             command: list[str]) -> None:
    """Who decided and why are kept with the article (the admin API requires them): a blank
    one was taken, the article published, rejected, re-filed or deleted with no name on it."""
    from tests.helpers import store_sample_article

    article = store_sample_article(database)
    with database.session() as session:
        session.get(models.Article, article.id).status = "pending_review"
    result = run(config, *(part.format(article=article.id) for part in command))
    assert result.exit_code == 2, result.output
    assert "--editor" in result.output or "--reason" in result.output
    with database.session() as session:
        row = session.get(models.Article, article.id)
        assert row is not None and row.status == "pending_review"
        assert session.scalars(select(models.TopicCorrection)).first() is None
