"""The desk's Flask app: editors log in, work the review queue, and every action is audited."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as BaseResponse

from wiredesk import events, keys, metrics
from wiredesk.config import Config, env_name, load
from wiredesk.identity import STORY_ID_PATTERN, without_password
from wiredesk.ingester.parse import sanitize_html
from wiredesk.store import models, review
from wiredesk.store import stories as story_store
from wiredesk.store.db import Database
from wiredesk.store.editors import audit, audit_trail, authenticate, is_editor
from wiredesk.webops import celery_client, ops

log = logging.getLogger(__name__)

desk = Blueprint("desk", __name__)
SESSION_HOURS = 12
QUEUE_LIMIT = 200
NOTE_LIMIT = 1000
# What each form field may hold (characters): the server's checks, and the forms' maxlength.
FORM_LIMITS = {"note": NOTE_LIMIT, **review.EDIT_LIMITS}
EVENTS_HEARTBEAT_SECONDS = 15.0
EVENTS_STREAM_SECONDS = 300.0  # then the browser reconnects (and the login is checked again)
EVENTS_RETRY_MS = 2000
# Failed logins allowed per name and per client address within keys.DESK_LOGIN_FAILURES_TTL_SECONDS.
LOGIN_MAX_FAILURES = 5
# Pages run only the desk's own script; the body's images may come from the feeds' sites.
CSP = ("default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
OPEN_ENDPOINTS = {"desk.login", "static"}


def _db() -> Database:
    return current_app.extensions["wiredesk_db"]  # type: ignore[no-any-return]


def _redis() -> redis.Redis:
    return current_app.extensions["wiredesk_redis"]  # type: ignore[no-any-return]


def _editor() -> str:
    return str(session["editor"])


@desk.app_context_processor
def _form_rules() -> dict[str, Any]:
    """What the forms ask of the browser is what the server checks: from here, not retyped."""
    return {"limits": FORM_LIMITS, "story_id_pattern": STORY_ID_PATTERN}


@desk.before_request
def _no_nul() -> None:
    # PostgreSQL text cannot hold a NUL: no row has such an id, and no name or note holds one.
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        abort(404)
    if any("\x00" in value for value in request.form.values()):
        abort(400, "a NUL character is not allowed")


@desk.before_request
def _require_login() -> BaseResponse | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    name = session.get("editor")
    if name:
        with _db().session() as db_session:
            if is_editor(db_session, name):
                return None
        session.clear()  # the account was removed: its sessions end with it
    if request.method == "GET" and request.endpoint != "desk.events_stream":  # a page
        return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
    return Response("log in first\n", 401, mimetype="text/plain")


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("desk.queue")


def _login_subjects(name: str) -> list[tuple[str, str]]:
    return [("name", name[:100]), ("addr", request.remote_addr or "unknown")]


def _login_blocked(name: str) -> int:
    """Seconds the login stays refused for this name or address (0: it may try)."""
    try:
        pipe = _redis().pipeline(transaction=False)
        for kind, value in _login_subjects(name):
            pipe.ttl(keys.desk_login_blocked(kind, value))
        return max(0, *pipe.execute())
    except redis.RedisError as exc:  # the desk stays open when Redis is away
        log.warning("desk: could not check the login throttle: %s", exc)
        return 0


def _count_login_failure(name: str) -> None:
    """One more failure for the name and the address; at the limit, each is refused a while."""
    limit = current_app.config["DESK_LOGIN_MAX_FAILURES"]
    try:
        client = _redis()
        pipe = client.pipeline(transaction=False)
        subjects = _login_subjects(name)
        for kind, value in subjects:
            failures = keys.desk_login_failures(kind, value)
            pipe.incr(failures)
            pipe.expire(failures, keys.DESK_LOGIN_FAILURES_TTL_SECONDS, nx=True)
        counts = pipe.execute()[::2]
        pipe = client.pipeline(transaction=False)
        for (kind, value), count in zip(subjects, counts, strict=True):
            if count >= limit:
                pipe.set(keys.desk_login_blocked(kind, value), 1,
                         ex=current_app.config["DESK_LOGIN_BLOCKED_SECONDS"])
                pipe.delete(keys.desk_login_failures(kind, value))
                # Never the name typed: it may be a password typed in the wrong field.
                log.warning("desk: %d failed logins %s: refused for %d s", count,
                            f"from {value}" if kind == "addr" else "for one editor name",
                            current_app.config["DESK_LOGIN_BLOCKED_SECONDS"])
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("desk: could not count a failed login: %s", exc)


def _throttled(seconds: int) -> tuple[str, int, dict[str, str]]:
    minutes = max(1, -(-seconds // 60))
    metrics.DESK_LOGINS.labels("throttled").inc()
    return render_template("login.html", next=request.form.get("next", ""), error=(
        "Too many failed logins for this name or from this address. Try again in "
        f"{minutes} minute{'' if minutes == 1 else 's'}.")), 429, {"Retry-After": str(seconds)}


@desk.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("name", "").strip()
    # Refused before the password is checked: a blocked name cannot be guessed meanwhile.
    if blocked := _login_blocked(name):
        return _throttled(blocked)
    with _db().session() as db_session:
        editor = authenticate(db_session, name, request.form.get("password", ""))
        if editor is not None:
            audit(db_session, editor, "login")
    if editor is None:
        log.warning("failed desk login from %s", request.remote_addr)
        metrics.DESK_LOGINS.labels("failed").inc()
        _count_login_failure(name)
        # The same answer for an unknown name and a wrong password.
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Wrong name or password."), 401
    metrics.DESK_LOGINS.labels("ok").inc()
    try:  # her own mistakes are forgiven; the address's count stays
        _redis().delete(keys.desk_login_failures("name", name[:100]))
    except redis.RedisError:
        pass
    session.clear()
    session.permanent = True
    session["editor"] = editor
    return redirect(_safe_next(request.form.get("next")), 303)


@desk.post("/logout")
def logout() -> BaseResponse:
    with _db().session() as db_session:
        audit(db_session, _editor(), "logout")
    session.clear()
    return redirect(url_for("desk.login"), 303)


def _feed_names(db_session: Any, rows: list[models.Article]) -> dict[int, str]:
    ids = {row.feed_id for row in rows}
    # Paid wires' URLs carry a password: editors see the user, not it.
    return {f.id: f.name or without_password(f.url, masked=True) for f in db_session.scalars(
        select(models.Feed).where(models.Feed.id.in_(ids)))} if ids else {}


def _story_sizes(db_session: Any, rows: list[models.Article]) -> dict[str, int]:
    ids = {row.story_id for row in rows if row.story_id}
    return dict(db_session.execute(  # type: ignore[arg-type]
        select(models.Article.story_id, func.count()).where(models.Article.story_id.in_(ids))
        .group_by(models.Article.story_id)).all()) if ids else {}


def _stream_top() -> str:
    """The id of the newest event on the stream ("0-0": none; "": Redis did not answer)."""
    try:
        newest = _redis().xrevrange(keys.EVENTS_STREAM, count=1)
    except redis.RedisError:
        return ""
    return newest[0][0].decode() if newest else "0-0"


@desk.get("/")
def queue() -> str:
    """The articles routing held for an editor, oldest first; the page then follows the events
    stream from the event that was newest before the database was read, so nothing that
    happens in between is missed."""
    after = _stream_top()
    with _db().session() as db_session:
        rows = review.pending(db_session, limit=QUEUE_LIMIT)
        return render_template("queue.html", articles=rows, feeds=_feed_names(db_session, rows),
                               stories=_story_sizes(db_session, rows), after=after)


_STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


@desk.get("/events")
def events_stream() -> Response:
    """Server-Sent Events: every ``article.*`` event of the events stream after ``Last-Event-ID``
    (a reconnect) or ``after`` (the page's first connection), as ``event: article`` with the
    type in the data; a comment line every heartbeat so proxies keep the connection open. The
    stream ends after a few minutes and the browser reconnects from where it was."""
    start = next((given for given in (request.headers.get("Last-Event-ID"),
                                      request.args.get("after"))
                  if given and _STREAM_ID.fullmatch(given)), None) or _stream_top() or "$"
    app = current_app
    body = _follow(app.extensions["wiredesk_stream_redis"], start,
                   app.config["DESK_EVENTS_HEARTBEAT_SECONDS"], app.config["DESK_EVENTS_STREAM_SECONDS"])
    return Response(body, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _follow(client: redis.Redis, after: str, heartbeat: float, lifetime: float) -> Iterator[str]:
    yield f"retry: {EVENTS_RETRY_MS}\n\n"
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline:
        try:
            found = client.xread({keys.EVENTS_STREAM: after}, count=100,
                                 block=max(1, int(heartbeat * 1000)))
        except redis.RedisError as exc:  # the browser retries; the page keeps what it shows
            log.warning("desk events stream: %s", exc)
            return
        if not found:
            yield ": heartbeat\n\n"
            continue
        for entry_id, fields in found[0][1]:
            after = entry_id.decode()
            event_type = fields.get(b"type", b"").decode()
            if not event_type.startswith("article."):
                continue
            try:
                data = {**json.loads(fields.get(b"data") or b"{}"), "type": event_type}
            except ValueError:
                continue
            yield f"id: {after}\nevent: article\ndata: {json.dumps(data)}\n\n"


@desk.get("/queue/items/<article_id>")
def queue_item(article_id: str) -> str:
    """One queue entry, for the page to add when the article enters review (404: not held)."""
    with _db().session() as db_session:
        row = db_session.get(models.Article, article_id)
        if row is None or row.status != "pending_review":
            abort(404)
        return render_template("_item.html", article=row, feeds=_feed_names(db_session, [row]),
                               stories=_story_sizes(db_session, [row]))


@desk.get("/articles/<article_id>")
def article(article_id: str) -> str:
    """One article: its sanitized body, where routing put it and why, its story, its audit."""
    with _db().session() as db_session:
        row = _article_or_404(db_session, article_id)
        return _article_page(db_session, row)


def _seen_revision() -> int | None:
    """The revision the editor's form was made for (None: a client that does not say)."""
    raw = request.form.get("revision", "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        abort(400, "revision must be a number")
    return int(raw)


def _refused(db_session: Any, article_id: str) -> models.Article:
    """The article as it is, for its page to say why an action on it was refused (the
    action's changes rolled back; 404 when it is gone)."""
    db_session.rollback()
    return _article_or_404(db_session, article_id)


def _article_or_404(db_session: Any, article_id: str) -> models.Article:
    row = db_session.get(models.Article, article_id)
    if row is None:
        abort(404)
    return row


def _article_page(db_session: Any, row: models.Article, message: str = "",
                  draft: dict[str, str] | None = None) -> str:
    members = list(db_session.scalars(
        select(models.Article).where(models.Article.story_id == row.story_id)
        .order_by(models.Article.created_at, models.Article.id))) if row.story_id else []
    story = db_session.get(models.Story, row.story_id) if row.story_id else None
    return render_template(
        "article.html", article=row, body=sanitize_html(row.body_html or ""),
        feeds=_feed_names(db_session, [row, *members]), members=members, story=story,
        live=story is not None and story.status in models.PUBLISHED_STATUSES,
        audit=audit_trail(db_session, row.id), message=message, draft=draft)


@desk.post("/articles/<article_id>/decision")
def decision(article_id: str) -> BaseResponse | tuple[str, int]:
    """Approve or reject a held article; the editor is the one logged in."""
    choice = request.form.get("decision", "")
    note = request.form.get("note", "").strip()[:NOTE_LIMIT]
    if choice not in review.DECISIONS:
        abort(400, f"decision must be one of {', '.join(review.DECISIONS)}")
    seen = _seen_revision()
    editor = _editor()
    with _db().session() as db_session:
        try:
            status = review.decide(db_session, article_id, choice, editor, note, seen)
        except review.CopyChanged as exc:
            return _article_page(db_session, _refused(db_session, article_id), message=(
                f"Not {review.DECIDED[choice]}: {exc}. Read it below and decide again.")), 409
        except review.StoryKilled as exc:
            return _article_page(db_session, _refused(db_session, article_id),
                                 message=f"Not {review.DECIDED[choice]}: {exc}."), 409
        except review.NotPending:
            row = _refused(db_session, article_id)
            # Another editor (or a second click) was first: say what happened, change nothing.
            return _article_page(db_session, row, message=(
                f"This article is no longer waiting for review: it is {row.status}"
                + (f" ({row.routing_reason})." if row.routing_reason else "."))), 409
        row = db_session.get(models.Article, article_id)
        story_id, title = row.story_id if row else None, row.title if row else article_id
    events.decided(_redis(), celery_client, article_id, status, editor, story_id,
                   decision=choice, channel="desk")
    flash(f"{review.DECIDED[choice].capitalize()}: {title} (now {status})")
    return redirect(url_for("desk.queue"), 303)


@desk.post("/articles/<article_id>/edit")
def edit(article_id: str) -> BaseResponse | tuple[str, int]:
    """An editor's copy of a held article (title, summary, body text): a new revision, marked
    as theirs and audited; the article stays held until someone decides."""
    form = {name: request.form.get(name, "") for name in ("title", "summary", "body")}
    note = request.form.get("note", "").strip()[:NOTE_LIMIT]
    seen = _seen_revision()
    editor = _editor()
    with _db().session() as db_session:
        try:
            changed = review.edit(db_session, article_id, editor, **form, seen_revision=seen,
                                  note=note)
        except review.NoSuchArticle:
            abort(404)
        except review.CopyChanged as exc:
            # Theirs stays in the form: nothing typed is lost, and nothing overwrites the other.
            return _article_page(db_session, _refused(db_session, article_id), draft=form, message=(
                f"Not saved: {exc}. The copy now is below; your text is still in the edit "
                "form, to save again over it if you mean to.")), 409
        except review.NotPending:
            row = _refused(db_session, article_id)
            return _article_page(db_session, row, message=(
                f"This article is no longer waiting for review: it is {row.status}; "
                "your edit was not saved.")), 409
        except ValueError as exc:
            return _article_page(db_session, _refused(db_session, article_id),
                                 message=f"Not saved: {exc}."), 400
        row = db_session.get(models.Article, article_id)
        assert row is not None
        revision = row.revision
    if changed:
        _reenrich(article_id, revision)
        events.emit(_redis(), "article.edited", article_id=article_id, editor=editor)
        metrics.DESK_ACTIONS.labels("edit").inc()
        flash(f"Saved: revision {revision} ({', '.join(changed)} changed). It still waits for "
              "a decision.")
    else:
        flash("Nothing changed: nothing was saved.")
    return redirect(url_for("desk.article", article_id=article_id), 303)


def _reenrich(article_id: str, revision: int) -> None:
    """Have a pipeline worker make language, entities and topics of the editor's copy (after
    the commit: the task must find the revision)."""
    try:
        celery_client().send_task("pipeline.reenrich", args=[article_id, revision],
                                  queue="process")
    except Exception as exc:  # noqa: BLE001 - the edit is saved; its tags stay the feed copy's
        log.warning("desk: could not have the edit of %s tagged again: %s", article_id, exc)


_STORY_ID = re.compile(STORY_ID_PATTERN)


@desk.post("/articles/<article_id>/merge")
def merge(article_id: str) -> BaseResponse | tuple[str, int]:
    """Merge the article's story with the story the editor names (``story``)."""
    other = request.form.get("story", "").strip()
    return _change_story(article_id, "merge", other)


@desk.post("/articles/<article_id>/move")
def move(article_id: str) -> BaseResponse | tuple[str, int]:
    """Move the article into the story the editor names (``story``)."""
    return _change_story(article_id, "move", request.form.get("story", "").strip())


@desk.post("/articles/<article_id>/split")
def split(article_id: str) -> BaseResponse | tuple[str, int]:
    """Move the article out of its story into a story of its own."""
    return _change_story(article_id, "split")


def _change_story(article_id: str, action: str, other: str = "") -> BaseResponse | tuple[str, int]:
    note = request.form.get("note", "").strip()[:NOTE_LIMIT]
    editor = _editor()
    with _db().session() as db_session:
        row = _article_or_404(db_session, article_id)
        try:
            if action == "split":
                change = story_store.split(db_session, article_id)
                what = (f"moved out of story {change.previous_story_id} into story "
                        f"{change.story_id}, its own")
            elif not _STORY_ID.fullmatch(other):
                raise story_store.StoryChangeRefused(f"{other!r} is not a story id" if other
                                                     else f"name the story to {action} to")
            elif row.story_id is None:
                raise story_store.StoryChangeRefused(f"article {article_id} is in no story")
            elif action == "move":
                change = story_store.move(db_session, article_id, other)
                what = (f"moved out of story {change.previous_story_id} into story "
                        f"{change.story_id}" + (f" (story {change.merged_story_id}, left empty, "
                                                "merged into it)" if change.merged_story_id
                                                else ""))
            else:
                change = story_store.merge(db_session, row.story_id, other)
                what = (f"story {change.merged_story_id} merged into story {change.story_id} "
                        f"({len(change.moved)} article{'' if len(change.moved) == 1 else 's'} "
                        "moved)")
        except story_store.StoryChangeRefused as exc:
            return _article_page(db_session, _refused(db_session, article_id),
                                 message=f"Not done: {exc}."), 409
        note = f"{what}; {note}" if note else what
        for moved in dict.fromkeys([article_id, *change.moved]):
            audit(db_session, editor, action, moved, change.story_id, note)
    _point_index_at(change)
    events.emit(_redis(), f"story.{action}", story_id=change.story_id,
                merged_story_id=change.merged_story_id, articles=change.moved, editor=editor)
    from wiredesk.deliver.tasks import announce

    for story_id in change.touched:  # consumers see them change: so do subscribers
        announce(story_id, celery_client())
    metrics.DESK_ACTIONS.labels(action).inc()
    flash(f"{what[0].upper()}{what[1:]}.")
    return redirect(url_for("desk.article", article_id=article_id), 303)


@desk.post("/articles/<article_id>/kill")
def kill(article_id: str) -> BaseResponse | tuple[str, int]:
    """Kill the article's story (``story``: the one the page showed), for a ``reason``: it
    leaves every feed, its URI says canceled, and subscribers are told."""
    reason = request.form.get("reason", "").strip()[:NOTE_LIMIT]
    seen = request.form.get("story", "").strip()
    editor = _editor()
    with _db().session() as db_session:
        row = _article_or_404(db_session, article_id)
        try:
            if row.story_id is None or row.story_id != seen:
                raise story_store.StoryChangeRefused(
                    f"the article is in story {row.story_id} now, not {seen or 'the one shown'}"
                    ": read the page again")
            done = story_store.kill(db_session, seen, editor, reason)
        except story_store.StoryChangeRefused as exc:
            return _article_page(db_session, _refused(db_session, article_id),
                                 message=f"Not killed: {exc}."), 409
        except ValueError as exc:  # no reason given
            return _article_page(db_session, _refused(db_session, article_id), message=(
                f"Not killed: {exc} (the reason is kept in the audit trail, not shown to "
                "consumers).")), 400
    events.killed(_redis(), celery_client, done.story_id, done.articles, editor=editor)
    metrics.DESK_ACTIONS.labels("kill").inc()
    flash(f"Killed story {done.story_id} ({len(done.articles)} article"
          f"{'' if len(done.articles) == 1 else 's'}): it left every feed, and subscribers "
          "are being told.")
    return redirect(url_for("desk.article", article_id=article_id), 303)


def _point_index_at(change: story_store.StoryChange) -> None:
    """Later copies of the moved articles join their new story (after the commit: the database
    is the truth). Redis not answering now: a merged story still redirects the pipeline, but
    near copies of a split or moved article join its old story while its entry lives (up to
    the window plus a day; a rebuild keeps existing entries), as the warning says."""
    from wiredesk.pipeline.dedupe_index import DedupeIndex  # numpy: only when stories change

    index = DedupeIndex.from_config(_redis(), current_app.extensions["wiredesk_config"])
    try:
        for moved in change.moved:
            index.move(moved, change.story_id)
    except redis.RedisError as exc:
        log.warning("desk: the near-duplicate index still has the old story of %s: %s",
                    ", ".join(change.moved), exc)


def create_app(config: Config | None = None) -> Flask:
    """The desk app for ``config`` (read from the environment when not given)."""
    config = config or load()
    if not config.desk_secret_key:
        raise ValueError(f"{env_name('desk_secret_key')} is not set: the desk signs its session "
                         "cookies with it (a long random string, the same for every desk process)")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.desk_secret_key,
        SESSION_COOKIE_NAME="wiredesk_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.desk_secure_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # A queue page stays open all shift: its forms' tokens live as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        DESK_EVENTS_HEARTBEAT_SECONDS=EVENTS_HEARTBEAT_SECONDS,
        DESK_EVENTS_STREAM_SECONDS=EVENTS_STREAM_SECONDS,
        DESK_LOGIN_MAX_FAILURES=LOGIN_MAX_FAILURES,
        DESK_LOGIN_BLOCKED_SECONDS=keys.DESK_LOGIN_BLOCKED_TTL_SECONDS,
    )
    if config.desk_trusted_proxies > 0:
        # Behind an ingress every request comes from it: the throttle needs the client's own
        # address, which only the proxies the operator names may tell.
        trusted = config.desk_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)  # type: ignore[method-assign]
    CSRFProtect(app)  # every POST carries the session's token (forms: csrf_token)
    app.extensions["wiredesk_config"] = config
    app.extensions["wiredesk_db"] = Database(config)
    app.extensions["wiredesk_redis"] = redis.Redis.from_url(config.redis_url)  # connects on use
    # The event streams block in XREAD for a heartbeat: their reads must outlast it (redis-py's
    # default socket timeout, 5 s, ended every quiet stream), and still notice a dead server.
    app.extensions["wiredesk_stream_redis"] = redis.Redis.from_url(
        config.redis_url, socket_timeout=EVENTS_HEARTBEAT_SECONDS + 10)
    scraped = CollectorRegistry()
    scraped.register(metrics.ReviewQueueCollector(app.extensions["wiredesk_db"]))
    scraped.register(metrics.NewsroomCollector(app.extensions["wiredesk_redis"]))
    app.extensions["wiredesk_scrape_registry"] = scraped
    for blueprint in (desk, ops):
        app.register_blueprint(blueprint)

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> tuple[str, int]:
        return render_template("message.html", status=400, message=(
            "This form did not come from this desk session (or the session ended): reload "
            f"the page and try again. ({exc.description})")), 400

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        metrics.DESK_REQUESTS.labels(endpoint, f"{response.status_code // 100}xx").inc()
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
