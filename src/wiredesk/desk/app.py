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
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from wiredesk import events, keys, metrics
from wiredesk.config import Config, env_name, load
from wiredesk.identity import without_password
from wiredesk.ingester.parse import sanitize_html
from wiredesk.store import models, review
from wiredesk.store.db import Database
from wiredesk.store.editors import audit, audit_trail, authenticate, is_editor
from wiredesk.webops import ops

log = logging.getLogger(__name__)

desk = Blueprint("desk", __name__)
SESSION_HOURS = 12
QUEUE_LIMIT = 200
NOTE_LIMIT = 1000
EVENTS_HEARTBEAT_SECONDS = 15.0
EVENTS_STREAM_SECONDS = 300.0  # then the browser reconnects (and the login is checked again)
EVENTS_RETRY_MS = 2000
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


@desk.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("name", "").strip()
    with _db().session() as db_session:
        editor = authenticate(db_session, name, request.form.get("password", ""))
        if editor is not None:
            audit(db_session, editor, "login")
    if editor is None:
        log.warning("failed desk login from %s", request.remote_addr)
        # The same answer for an unknown name and a wrong password.
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Wrong name or password."), 401
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
        row = db_session.get(models.Article, article_id)
        if row is None:
            abort(404)
        return _article_page(db_session, row)


def _article_page(db_session: Any, row: models.Article, message: str = "") -> str:
    members = list(db_session.scalars(
        select(models.Article).where(models.Article.story_id == row.story_id)
        .order_by(models.Article.created_at, models.Article.id))) if row.story_id else []
    return render_template(
        "article.html", article=row, body=sanitize_html(row.body_html or ""),
        feeds=_feed_names(db_session, [row, *members]), members=members,
        audit=audit_trail(db_session, row.id), message=message)


@desk.post("/articles/<article_id>/decision")
def decision(article_id: str) -> BaseResponse | tuple[str, int]:
    """Approve or reject a held article; the editor is the one logged in."""
    choice = request.form.get("decision", "")
    note = request.form.get("note", "").strip()[:NOTE_LIMIT]
    if choice not in review.DECISIONS:
        abort(400, f"decision must be one of {', '.join(review.DECISIONS)}")
    editor = _editor()
    with _db().session() as db_session:
        try:
            status = review.decide(db_session, article_id, choice, editor, note)
        except review.NotPending:
            db_session.rollback()
            row = db_session.get(models.Article, article_id)
            if row is None:
                abort(404)
            # Another editor (or a second click) was first: say what happened, change nothing.
            return _article_page(db_session, row, message=(
                f"This article is no longer waiting for review: it is {row.status}"
                + (f" ({row.routing_reason})." if row.routing_reason else "."))), 409
        row = db_session.get(models.Article, article_id)
        story_id, title = row.story_id if row else None, row.title if row else article_id
        audit(db_session, editor, choice, article_id, story_id, note)
    events.emit(_redis(), f"article.{status}", article_id=article_id, editor=editor)
    if status in models.PUBLISHED_STATUSES:  # approved, or the published version back
        from wiredesk.deliver.tasks import announce
        from wiredesk.webops import celery_client

        announce(story_id, celery_client())
    metrics.DESK_DECISIONS.labels(choice).inc()
    flash(f"{review.DECIDED[choice].capitalize()}: {title} (now {status})")
    return redirect(url_for("desk.queue"), 303)


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
    )
    CSRFProtect(app)  # every POST carries the session's token (forms: csrf_token)
    app.extensions["wiredesk_config"] = config
    app.extensions["wiredesk_db"] = Database(config)
    app.extensions["wiredesk_redis"] = redis.Redis.from_url(config.redis_url)  # connects on use
    # The event streams block in XREAD for a heartbeat: their reads must outlast it (redis-py's
    # default socket timeout, 5 s, ended every quiet stream), and still notice a dead server.
    app.extensions["wiredesk_stream_redis"] = redis.Redis.from_url(
        config.redis_url, socket_timeout=EVENTS_HEARTBEAT_SECONDS + 10)
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
