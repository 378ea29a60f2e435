"""The ``wiredesk`` command: operators' feed management and every service's entry point."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from wiredesk import config as config_module

log = logging.getLogger("wiredesk")

SERVICES = ("ingester", "pipeline", "publisher", "desk", "deliver")


def service_command(service: str) -> list[str]:
    """The command that runs one service: `make run` spawns it, compose and k8s run it too."""
    return ["wiredesk", "serve", service]


def _config() -> config_module.Config:
    # A typo in compose or a ConfigMap: one line naming the variable, not a crash-loop traceback.
    try:
        return config_module.load()
    except ValueError as exc:
        raise click.ClickException(f"bad setting: {exc}") from exc


def _setup_logging(config: config_module.Config) -> None:
    from wiredesk import logs

    logs.setup(config)


def _redis_config() -> config_module.Config:
    """The config of a command that talks to the services' Redis, which must then be named
    (a shell next to `wiredesk run` has no REDIS_URL: the embedded Valkey is run's own) and
    answer: checked before the command changes anything, or a decision was committed and its
    event and push lost, and other commands ended in a redis-py traceback."""
    import redis

    from wiredesk.identity import without_password

    config = _config()
    if not config.redis_url:
        raise click.ClickException(
            "REDIS_URL is not set: this command needs the Redis the services use "
            "(`wiredesk run` prints its embedded Valkey's URL when it starts)")
    client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise click.ClickException(
            f"cannot reach Redis at {without_password(config.redis_url, masked=True)}: {exc}"
        ) from exc
    finally:
        client.close()
    return config


def _database(config: config_module.Config, *, schema: bool = True) -> Any:
    """The configured database; unless ``schema`` is False, one the migrations have built."""
    from wiredesk.store.db import Database

    database = Database(config)
    if schema:
        _require_schema(database)
    return database


def _require_schema(database: Any) -> None:
    # Before the first `make run` or `db upgrade`, or with a wrong DATABASE_URL, every command
    # was a SQL traceback.
    from sqlalchemy import exc, inspect

    url = database.engine.url.render_as_string(hide_password=True)
    try:
        built = inspect(database.engine).has_table("alembic_version")
    except exc.OperationalError as error:
        raise click.ClickException(f"cannot reach the database at {url}: {error.orig}") from error
    if not built:
        raise click.ClickException(f"{url} has no Wiredesk schema yet: run `wiredesk db upgrade`")


@click.group()
def main() -> None:
    """Wiredesk: wire and RSS copy in, clean, de-duplicated stories out."""


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to the newest schema (safe to run again)."""
    config = _config()
    database = _database(config, schema=False)
    database.upgrade()
    click.echo(f"database at head: {database.engine.url.render_as_string(hide_password=True)}")


@main.group()
def feeds() -> None:
    """The feed registry."""


# `--language none`, `--zone none`: clear the hint. An empty value stays an error (an unset
# shell variable is no request to clear); "none" is neither a BCP 47 tag nor an IANA zone.
CLEAR = "none"
CLEARABLE = ("language", "zone")


def _feed_options(update: bool) -> Any:
    """The per-feed options shared by ``feeds add`` and ``feeds update`` (None: not given)."""
    options = [
        click.option("--name", default=None, help="Display name (default: the URL)."),
        click.option("--language", default=None,
                     help=f"Language hint, BCP 47 (e.g. ar, en); '{CLEAR}' clears it."),
        click.option("--trust", type=click.Choice(["auto", "review"]), default=None,
                     help="auto: publish without review; review: hold for an editor."),
        click.option("--interval", type=click.IntRange(min=10), default=None,
                     help="Seconds between polls."),
        click.option("--identity", type=click.Choice(["guid", "link", "content"]), default=None,
                     help="What identifies an entry: its guid, its link, or its content."),
        click.option("--zone", default=None,
                     help=f"IANA zone for entry dates that carry none (default UTC); "
                          f"'{CLEAR}' clears it (back to UTC)."),
        click.option("--full-text/--no-full-text", "full_text", default=None,
                     help="Fetch each entry's page and keep its main text."),
        click.option("--enabled/--disabled", "enabled", default=None, help="Poll this feed."),
    ]
    if update:
        options.append(click.option("--url", default=None, help="Move the feed to a new URL."))

    def decorate(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The options given, a hint given as ``none`` cleared (None, the API's null)."""
    given = {key: value for key, value in values.items() if value is not None}
    for key in CLEARABLE:
        if isinstance(given.get(key), str) and given[key].strip().lower() == CLEAR:
            given[key] = None
    return given


def _registry_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from marshmallow import ValidationError

    from wiredesk.store.feeds import format_errors

    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        raise click.ClickException(format_errors(exc)) from exc


def _not_blank(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Who decided and why are kept with the article: a blank one names nobody."""
    if not value.strip():
        raise click.BadParameter("must not be blank")
    return value.strip()


def _feed_or_fail(session: Any, ref: str) -> Any:
    from wiredesk.store.feeds import get_feed

    feed = get_feed(session, ref)
    if feed is None:
        raise click.ClickException(f"no feed {ref}")
    return feed


@feeds.command("add")
@click.argument("url")
@_feed_options(update=False)
def feeds_add(url: str, **options: Any) -> None:
    """Subscribe to a feed (or replace the settings of the feed with this URL)."""
    from wiredesk.store.feeds import put_feed

    config = _config()
    with _database(config).session() as session:
        feed = _registry_call(put_feed, session, {"url": url, **_given(options)},
                              default_interval=config.default_interval_seconds)
        click.echo(f"{feed.id}\t{feed.url}")


@feeds.command("list")
def feeds_list() -> None:
    """Every feed with its state."""
    from wiredesk.store.feeds import list_feeds

    with _database(_config()).session() as session:
        click.echo("id\tenabled\ttrust\tinterval\terrors\tnext fetch\turl\tlast error")
        for feed in list_feeds(session):
            next_at = feed.next_fetch_at.isoformat(timespec="seconds") if feed.next_fetch_at else "-"
            click.echo(f"{feed.id}\t{'yes' if feed.enabled else 'no'}\t{feed.trust}\t"
                       f"{feed.interval_seconds}\t{feed.error_count}\t{next_at}\t{feed.url}\t"
                       f"{feed.last_error or ''}")


@feeds.command("show")
@click.argument("feed")
@click.option("--json", "as_json", is_flag=True, help="The admin API's JSON shape.")
def feeds_show(feed: str, as_json: bool) -> None:
    """One feed's settings and state: error count, last error, next attempt (FEED: id or URL)."""
    import json

    from wiredesk.store.feeds import feed_to_dict

    with _database(_config()).session() as session:
        data = feed_to_dict(_feed_or_fail(session, feed))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    state = data.pop("state")
    websub = state.pop("websub")
    for key, value in [*data.items(), *state.items()]:
        click.echo(f"{key + ':':18}{'-' if value is None else value}")
    click.echo(f"{'websub:':18}{websub['state'] or '-'} hub={websub['hub'] or '-'} "
               f"lease until {websub['lease_expires_at'] or '-'}")


@feeds.command("update")
@click.argument("feed")
@_feed_options(update=True)
def feeds_update(feed: str, **options: Any) -> None:
    """Change some settings of a feed (FEED: id or URL); options not given stay as they are."""
    from wiredesk.store.feeds import HubLeft, update_feed

    changes = _given(options)
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    config, leaving = _config(), list[HubLeft]()
    with _database(config).session() as session:
        updated = _registry_call(update_feed, session, feed, changes, leaving=leaving)
        if updated is None:
            raise click.ClickException(f"no feed {feed}")
        click.echo(f"{updated.id}\t{updated.url}")
    if leaving and config.redis_url:  # the services' broker: the old hub is told
        from wiredesk.broker import create_celery
        from wiredesk.ingester.tasks import leave_hub

        celery = create_celery(config)
        for left in leaving:
            leave_hub(left, celery)
    elif leaving:
        click.echo(f"no REDIS_URL: hub {leaving[0].hub} is not asked to unsubscribe (its "
                   "pushes are refused all the same)", err=True)


@feeds.command("remove")
@click.argument("feed")
@click.option("--yes", is_flag=True, help="Do not ask: its articles are deleted too.")
def feeds_remove(feed: str, yes: bool) -> None:
    """Delete a feed and its articles (FEED: id or URL). `update --disabled` keeps them."""
    from wiredesk.store.feeds import remove_feed

    if not yes:
        click.confirm(f"delete feed {feed} and all its articles?", abort=True)
    with _database(_config()).session() as session:
        if not remove_feed(session, feed):
            raise click.ClickException(f"no feed {feed}")
    click.echo(f"removed {feed}")


@feeds.command("import-opml")
@click.argument("file", type=click.File("rb"))
def feeds_import_opml(file: Any) -> None:
    """Add every feed of an OPML subscription list; feeds already registered are left alone."""
    from wiredesk.store.feeds import import_opml

    config = _config()
    with _database(config).session() as session:
        try:
            added, skipped = _registry_call(import_opml, session, file.read(),
                                            default_interval=config.default_interval_seconds)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"added {len(added)} feeds, {skipped} already registered")


@feeds.command("export-opml")
@click.argument("file", type=click.File("wb"), default="-")
def feeds_export_opml(file: Any) -> None:
    """Write every feed as an OPML 2.0 subscription list (to FILE, default stdout)."""
    from wiredesk.store.feeds import export_opml, list_feeds

    with _database(_config()).session() as session:
        file.write(export_opml(list_feeds(session)))


@main.command("ingest")
@click.option("--once", is_flag=True, required=True, help="Fetch now, enqueue, return.")
@click.argument("feed_ids", nargs=-1, type=click.IntRange(1, 2**31 - 1))  # feeds.id's range
def ingest(once: bool, feed_ids: tuple[int, ...]) -> None:
    """Fetch feeds now (all enabled ones, or the ids given) and enqueue their new entries."""
    from wiredesk.broker import create_celery
    from wiredesk.ingester.tasks import ingest_feed
    from wiredesk.store.feeds import list_feeds

    config = _redis_config()
    app = create_celery(config)
    services = app.wiredesk  # type: ignore[attr-defined]
    _require_schema(services.db)
    if not feed_ids:
        with services.db.session() as session:
            feed_ids = tuple(f.id for f in list_feeds(session) if f.enabled)
    failed = missing = 0
    for feed_id in feed_ids:
        report = ingest_feed(services, feed_id)
        if report.outcome == "missing":  # an id the operator gave that no feed has (or deleted)
            click.echo(f"no feed {feed_id} (see `wiredesk feeds list`)", err=True)
            missing += 1
            continue
        counts = ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())) or "no entries"
        click.echo(f"feed {feed_id}: {report.outcome} ({counts})"
                   + (f": {report.error}" if report.error else ""))
        failed += report.error is not None
    sys.exit(1 if missing or (failed and failed == len(feed_ids)) else 0)


@main.group()
def articles() -> None:
    """Stored articles."""


@articles.command("delete")
@click.argument("article_id")
@click.option("--reason", required=True, help="Why (kept with the tombstone).",
              callback=_not_blank)
def articles_delete(article_id: str, reason: str) -> None:
    """Delete an article for good: its tombstone keeps the feed from bringing it back."""
    from wiredesk import events
    from wiredesk.broker import Services, create_celery
    from wiredesk.deliver.tasks import announce
    from wiredesk.store.articles import delete_article

    # Before deleting: a published story it leaves changed, or withdrawn, is pushed to
    # subscribers (and a withdrawal counted) through the services' Redis.
    config = _redis_config()
    with _database(config).session() as session:
        deleted = delete_article(session, article_id, reason)
        if deleted is None:
            raise click.ClickException(f"no article {article_id}")
    if deleted.story_id:
        if deleted.withdrawn:
            events.killed(Services(config).redis, lambda: create_celery(config),
                          deleted.story_id, [], cause="delete")
        else:
            announce(deleted.story_id, create_celery(config))
    click.echo(f"deleted {article_id}; tombstone kept" + (
        f"; story {deleted.story_id} had nothing else to show: withdrawn (killed)"
        if deleted.withdrawn else ""))


@articles.command("replay")
@click.argument("article_ids", nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed article.")
def articles_replay(article_ids: tuple[str, ...], all_failed: bool) -> None:
    """Send failed articles through the pipeline again (once their error's cause is fixed)."""
    from wiredesk.broker import create_celery
    from wiredesk.pipeline.tasks import replay_failed

    if bool(article_ids) == all_failed:
        raise click.UsageError("give the failed articles' ids, or --failed for all of them")
    services = create_celery(_redis_config()).wiredesk  # type: ignore[attr-defined]
    _require_schema(services.db)
    replayed = replay_failed(services, list(article_ids) if article_ids else None)
    for article_id in replayed:
        click.echo(f"replaying {article_id}")
    not_failed = sorted(set(article_ids) - set(replayed))
    for article_id in not_failed:
        click.echo(f"{article_id} is not a failed article", err=True)
    if not_failed:
        sys.exit(1)


@main.group()
def stories() -> None:
    """Published stories."""


@stories.command("kill")
@click.argument("story_id")
@click.option("--editor", required=True, help="Who kills it (kept in the audit trail).",
              callback=_not_blank)
@click.option("--reason", required=True, help="Why (kept in the audit trail, not shown to "
              "consumers).", callback=_not_blank)
def stories_kill(story_id: str, editor: str, reason: str) -> None:
    """Withdraw a published story (wrong, legally unsafe) from every feed for good: its URI
    says canceled, and its feeds' subscribers are told."""
    from wiredesk import events
    from wiredesk.broker import Services, create_celery
    from wiredesk.store.stories import kill

    services = Services(_redis_config())  # before killing: subscribers must be told too
    _require_schema(services.db)
    try:
        with services.db.session() as session:
            done = kill(session, story_id, editor, reason)
    except ValueError as exc:  # refused (StoryChangeRefused), or a name too long
        raise click.ClickException(str(exc)) from exc
    events.killed(services.redis, lambda: create_celery(services.config), done.story_id,
                  done.articles, editor=editor)
    click.echo(f"{story_id}: killed ({len(done.articles)} articles retracted)")


@main.group()
def subscribers() -> None:
    """Subscribers of the publisher's feeds (its WebSub hub; docs/push.md)."""


@subscribers.command("list")
@click.option("--state", type=click.Choice([  # HubSubscription.state
    "pending", "unverified", "active", "failing", "unsubscribed", "gone"]),
    help="Only the subscriptions in this state.")
def subscribers_list(state: str | None) -> None:
    """Every subscription: its state, lease, topic, callback, last push and last error."""
    from wiredesk.identity import without_password
    from wiredesk.store.subscriptions import list_subscriptions

    def when(value: Any) -> str:
        return value.isoformat(timespec="seconds") if value else "-"

    with _database(_config()).session() as session:
        click.echo("id\tstate\texpires\tlast push\ttopic\tcallback\tlast error")
        for row in list_subscriptions(session, state):
            error = " ".join((row.last_error or "").split())[:200]
            click.echo(f"{row.id}\t{row.state}\t{when(row.expires_at)}\t"
                       f"{when(row.last_delivered_at)}\t{row.topic}\t"
                       f"{without_password(row.callback)}\t{error}")


@subscribers.command("remove")
@click.argument("subscription_ids", nargs=-1, required=True, type=int)
def subscribers_remove(subscription_ids: tuple[int, ...]) -> None:
    """Delete subscriptions (ids from `subscribers list`) and their pushes; the subscriber is
    not told, and may subscribe again."""
    from wiredesk.store.subscriptions import remove

    with _database(_config()).session() as session:
        removed = remove(session, list(subscription_ids))
    for subscription_id in removed:
        click.echo(f"removed subscription {subscription_id}")
    missing = [i for i in subscription_ids if i not in removed]
    for subscription_id in missing:
        click.echo(f"no subscription {subscription_id}", err=True)
    if missing:
        sys.exit(1)


@main.group()
def review() -> None:
    """Articles held for an editor."""


@review.command("list")
def review_list() -> None:
    """Articles waiting for review, oldest first."""
    from wiredesk.store.review import pending

    with _database(_config()).session() as session:
        for row in pending(session):
            click.echo(f"{row.id}\t{row.language or '-'}\t{row.routing_rule}\t{row.title[:80]}")


@review.command("decide")
@click.argument("article_id")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--editor", required=True, help="Who decides (kept with the article).",
              callback=_not_blank)
@click.option("--note", default="", help="Why.")
def review_decide(article_id: str, decision: str, editor: str, note: str) -> None:
    """Approve (publish) or reject an article held for review."""
    from wiredesk import events
    from wiredesk.broker import Services, create_celery
    from wiredesk.store.editors import EditorNameRefused
    from wiredesk.store.models import Article
    from wiredesk.store.review import NotPending, StoryKilled, decide

    services = Services(_redis_config())  # before deciding: the event must be sent too
    _require_schema(services.db)
    try:
        with services.db.session() as session:
            status = decide(session, article_id, decision, editor, note)
            story_id = session.get(Article, article_id).story_id  # type: ignore[union-attr]
    except (NotPending, StoryKilled, EditorNameRefused) as exc:
        raise click.ClickException(str(exc)) from exc
    events.decided(services.redis, lambda: create_celery(services.config), article_id, status,
                   editor, story_id, decision=decision, channel="cli")
    click.echo(f"{article_id}: {status}")


@review.command("topics")
@click.argument("article_id")
@click.argument("qcodes", nargs=-1, required=True)
@click.option("--editor", required=True, help="Who corrects (kept with the correction).",
              callback=_not_blank)
def review_topics(article_id: str, qcodes: tuple[str, ...], editor: str) -> None:
    """Set an article's IPTC topics (e.g. medtop:15000000); kept for the next training."""
    from wiredesk.store.corrections import NoArticle, UnknownTopic, correct_topics
    from wiredesk.store.editors import EditorNameRefused
    from wiredesk.store.models import Article

    config = _config()
    try:
        with _database(config).session() as session:
            categories = correct_topics(session, article_id, qcodes, editor)
            story_id = session.get(Article, article_id).story_id  # type: ignore[union-attr]
    except NoArticle as exc:
        raise click.ClickException(f"no article {exc}") from exc
    except (UnknownTopic, EditorNameRefused) as exc:
        raise click.ClickException(str(exc)) from exc
    if config.redis_url:  # the services' broker: the story's new subjects reach subscribers
        from wiredesk.broker import create_celery
        from wiredesk.deliver.tasks import announce

        announce(story_id, create_celery(config))
    click.echo(f"{article_id}: " + ", ".join(f"{c['qcode']} {c['label']}" for c in categories))


@main.group()
def editors() -> None:
    """Who may log in to the editors' desk."""


def _new_password() -> str:
    # A pipe (`... | wiredesk editors add amal`): one line; a terminal: asked twice, not echoed.
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@editors.command("add")
@click.argument("name")
@click.option("--replace", is_flag=True, help="Give an existing editor this new password.")
def editors_add(name: str, replace: bool) -> None:
    """Create a desk account NAME; the password is read from stdin or asked for."""
    from wiredesk.store.editors import EditorExists, add_editor, check_new_editor

    database = _database(_config())
    password = _new_password()
    try:
        check_new_editor(name, password)
        with database.session() as session:
            add_editor(session, name, password, replace=replace)
    except EditorExists as exc:
        raise click.ClickException(f"{exc} (--replace sets a new password)") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"editor {name} {'updated' if replace else 'added'}")


@editors.command("list")
def editors_list() -> None:
    """Every desk account."""
    from wiredesk.store.editors import list_editors

    with _database(_config()).session() as session:
        for row in list_editors(session):
            click.echo(f"{row.name}\t{row.created_at.isoformat(timespec='seconds')}")


@editors.command("remove")
@click.argument("name")
def editors_remove(name: str) -> None:
    """Delete a desk account; its sessions stop working at their next request."""
    from wiredesk.store.editors import remove_editor

    with _database(_config()).session() as session:
        if not remove_editor(session, name):
            raise click.ClickException(f"no editor {name}")
    click.echo(f"editor {name} removed")


@main.group()
def rules() -> None:
    """The routing rules (ordered; the first that matches decides)."""


@rules.command("show")
def rules_show() -> None:
    """Print the rules in force as YAML."""
    from wiredesk.pipeline.stages.route import dump_rules
    from wiredesk.store.rules import current_rules

    with _database(_config()).session() as session:
        click.echo(dump_rules(current_rules(session)), nl=False)


@rules.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def rules_load(path: str) -> None:
    """Validate a rules YAML and put it in force."""
    import yaml
    from marshmallow import ValidationError

    from wiredesk.pipeline.stages.route import load_rules
    from wiredesk.store.rules import save_rules

    try:
        loaded = load_rules(Path(path))
    except (ValidationError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    with _database(_config()).session() as session:
        ruleset = save_rules(session, loaded, source=f"cli:{Path(path).name}")
    click.echo(f"rule set {ruleset} in force: {len(loaded)} rules")


@rules.command("history")
def rules_history() -> None:
    """Rule sets saved so far, newest (the one in force) first."""
    from wiredesk.store.rules import history

    with _database(_config()).session() as session:
        for row in history(session):
            click.echo(f"{row.id}\t{row.created_at.isoformat(timespec='seconds')}\t"
                       f"{len(row.rules)} rules\t{row.source}")


@main.group()
def train() -> None:
    """Train the models the pipeline loads."""


@train.command("categorizer", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train_categorizer(args: tuple[str, ...]) -> None:
    """Train the IPTC categorizer (options: see --help of wiredesk.training.categorizer)."""
    from wiredesk.pipeline.stages.categorize import default_model_path
    from wiredesk.training.categorizer import main as train_main

    argv = list(args)
    if "--out" not in argv:
        argv += ["--out", str(default_model_path(_config()))]
    train_main(argv, prog="wiredesk train categorizer")


@main.group()
def dedupe() -> None:
    """The near-duplicate index in Redis."""


@dedupe.command("rebuild")
def dedupe_rebuild() -> None:
    """Refill the index from the database for the window (after losing Redis; workers may run)."""
    from datetime import timedelta

    from sqlalchemy import select

    from wiredesk.broker import Services
    from wiredesk.pipeline.dedupe_index import rebuild
    from wiredesk.store import articles as article_store
    from wiredesk.store import models
    from wiredesk.store.models import utcnow

    config = _redis_config()
    services = Services(config)
    _require_schema(services.db)
    since = utcnow() - timedelta(seconds=config.dedupe_window_seconds)
    with services.db.session() as session:
        rows = session.scalars(select(models.Article).where(
            models.Article.created_at >= since, models.Article.story_id.is_not(None))
            .order_by(models.Article.created_at, models.Article.id))
        count = rebuild(services.dedupe_index, (article_store.to_article(r) for r in rows))
    click.echo(f"indexed {count} articles of the last {config.dedupe_window_seconds} s")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the README's configuration table.")
def show_config(markdown: bool) -> None:
    """Print the configuration (or its documentation table)."""
    if markdown:
        click.echo(config_module.markdown_table())
        return
    config = _config()
    for name, value in vars(config).items():
        # What an operator pastes into an issue: no passwords, no token.
        if name in {"database_url", "redis_url"} and value:
            value = _without_password(value)
        elif name in {"admin_token", "desk_secret_key"} and value:
            value = "***"
        click.echo(f"{name} = {value!r}")


def _without_password(url: str) -> str:
    # Kombu takes several broker URLs separated by ";" (Sentinel, failover): mask each one.
    return ";".join(_one_url_without_password(part) for part in url.split(";"))


def _one_url_without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "***"  # not a URL at all: it could be anything


@main.command("serve")
@click.argument("service", type=click.Choice(SERVICES))
def serve(service: str) -> None:
    """Run one service in the foreground (what compose and `make run` start)."""
    config = _config()
    _setup_logging(config)
    _prepare_metrics_dir(config, service)
    from wiredesk import services as service_runner

    try:
        service_runner.SERVE[service](config)
    except service_runner.StartupFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _prepare_metrics_dir(config: config_module.Config, service: str) -> None:
    # prometheus_client reads this once, at import: set it before anything imports metrics.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        (config.data_dir / "metrics" / service).resolve())
    shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


@main.command("run")
def run() -> None:
    """Start the whole pipeline locally: embedded Redis and SQLite unless configured otherwise."""
    config = _config()
    env = dict(os.environ)
    # A first run shows where things are and what went wrong, not the libraries' routine.
    env.setdefault("WIREDESK_LIBRARY_LOG_LEVEL", "WARNING")
    _setup_logging(config_module.load(env))
    if os.geteuid() == 0:
        click.echo("running as root: fine to try Wiredesk, not to deploy it (the image runs "
                   "as uid 10001)")
    valkey = None
    if not config.redis_url:
        from wiredesk.embedded import start_valkey

        valkey = start_valkey(config.data_dir / "valkey", persist=True)
        env["REDIS_URL"] = valkey.connection_url
        click.echo(f"embedded Valkey at {valkey.connection_url}")
    env.setdefault("WIREDESK_DATA_DIR", str(config.data_dir))
    if not config.desk_secret_key:  # sessions last as long as this run; every desk process shares it
        env["WIREDESK_DESK_SECRET_KEY"] = secrets.token_hex(32)
    config = config_module.load(env)
    database = _database(config, schema=False)
    database.upgrade()
    sample_server = None
    if config.sample_feeds:
        sample_server = _subscribe_sample_feeds(config, database)
        if not config.routing_file:
            from wiredesk.feedserver import SAMPLE_FEEDS_DIR

            env["WIREDESK_ROUTING_FILE"] = str(SAMPLE_FEEDS_DIR / "routing.yaml")
        allow = ",".join(filter(None, [env.get("WIREDESK_FETCH_ALLOW_NETWORKS"), "127.0.0.1/32"]))
        env["WIREDESK_FETCH_ALLOW_NETWORKS"] = allow
    database.dispose()
    # The same commands compose runs, with this interpreter so no PATH lookup is involved.
    children = {name: subprocess.Popen([sys.executable, "-m", *service_command(name)], env=env)
                for name in SERVICES}
    click.echo(f"publisher: http://{config.publisher_host}:{config.publisher_port}/  "
               f"desk: http://{config.desk_host}:{config.desk_port}/  (Ctrl-C stops everything)")
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(f"{name} exited with {child.returncode}; stopping", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if sample_server:
            sample_server.stop()
        if valkey:
            valkey.stop()
        click.echo("stopped")


def _subscribe_sample_feeds(config: config_module.Config, database: Any) -> Any:
    from wiredesk.feedserver import SAMPLE_FEEDS_DIR, FeedServer
    from wiredesk.store.feeds import add_feed

    server = FeedServer(SAMPLE_FEEDS_DIR, port=config.sample_feeds_port).start()
    languages = {"arabic-wire.xml": "ar", "french-atom.xml": "fr"}
    with database.session() as session:
        for path in sorted(SAMPLE_FEEDS_DIR.glob("*.xml")):
            add_feed(session, server.url(path.name), name=path.stem, trust="auto",
                     language=languages.get(path.name, "en"), interval_seconds=60)
    click.echo(f"sample feeds served at http://127.0.0.1:{server.port}/")
    return server
