"""The desk's Flask app: editors log in, work the review queue, and every action is audited."""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response as BaseResponse

from wiredesk import metrics
from wiredesk.config import Config, env_name, load
from wiredesk.store.db import Database
from wiredesk.store.editors import audit, authenticate, is_editor
from wiredesk.webops import ops

log = logging.getLogger(__name__)

desk = Blueprint("desk", __name__)
SESSION_HOURS = 12
OPEN_ENDPOINTS = {"desk.login", "static"}


def _db() -> Database:
    return current_app.extensions["wiredesk_db"]  # type: ignore[no-any-return]


def _redis() -> redis.Redis:
    return current_app.extensions["wiredesk_redis"]  # type: ignore[no-any-return]


def _editor() -> str:
    return str(session["editor"])


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
    if request.method == "GET":  # a page: log in, then come back to it
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


@desk.get("/")
def queue() -> str:
    return render_template("queue.html")


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
    )
    CSRFProtect(app)  # every POST carries the session's token (forms: csrf_token)
    app.extensions["wiredesk_config"] = config
    app.extensions["wiredesk_db"] = Database(config)
    app.extensions["wiredesk_redis"] = redis.Redis.from_url(config.redis_url)  # connects on use
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
        return response

    return app
