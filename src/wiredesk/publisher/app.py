"""The publisher's Flask app: feeds, the ninjs API, an HTML front page, health and metrics."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from wiredesk import metrics
from wiredesk.admin import register as register_admin
from wiredesk.config import Config, load
from wiredesk.publisher import freshness, ninjs, story_page, syndication
from wiredesk.publisher.hub import (
    FORMATS,
    Topic,
    all_topic,
    feed_document,
    hub,
    hub_url,
    language_topic,
    link_header,
    media_topic,
)
from wiredesk.publisher.stories import (
    KilledStory,
    StoryView,
    encode_cursor,
    get_killed,
    get_story,
    list_stories,
    merged_into,
)
from wiredesk.store.db import Database
from wiredesk.webops import ops

FEED_LIMIT = 100
API_MAX_LIMIT = 200
JSON_PATHS = ("/api/", "/admin/api/")
# The HTML pages run no script at all; a story's body may show images from the outlets' sites.
PAGES_CSP = ("default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
             "frame-ancestors 'none'; form-action 'none'; base-uri 'none'")

feeds = Blueprint("feeds", __name__)
api = Blueprint("api", __name__)
pages = Blueprint("pages", __name__)


def _db() -> Database:
    return current_app.extensions["wiredesk_db"]  # type: ignore[no-any-return]


def _config() -> Config:
    return current_app.extensions["wiredesk_config"]  # type: ignore[no-any-return]


def _redis() -> redis.Redis:
    return current_app.extensions["wiredesk_redis"]  # type: ignore[no-any-return]


# The query parameters a body depends on (the API's paging). Any other, a client's
# cache-buster say, names the same body: it must not make a Last-Modified record per request.
BODY_PARAMETERS = ("limit", "cursor")


def _body_url() -> str:
    kept = [(name, request.args[name]) for name in BODY_PARAMETERS if name in request.args]
    return request.path + ("?" + urlencode(kept) if kept else "")


def _conditional(body: bytes, mimetype: str) -> Response:
    """A cacheable response: strong ETag of the body, Last-Modified (when the publisher first
    served that body: ``freshness``), 304 when unchanged."""
    response = Response(body, mimetype=mimetype)
    response.add_etag()
    etag, _ = response.get_etag()
    first_served = freshness.last_modified(_redis(), _body_url(), etag or "")
    if first_served is not None:  # (werkzeug would send "now" for None)
        response.last_modified = first_served
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response.make_conditional(request)


def _stories(limit: int = FEED_LIMIT) -> list[Any]:
    with _db().session() as session:
        return list_stories(session, limit=limit)


def _feed(topic: Topic | None) -> Response:
    """One of the feeds (``hub.parse_topic`` knows them), with its WebSub discovery links."""
    if topic is None or topic.fmt not in FORMATS:
        abort(404)
    with _db().session() as session:
        stories = list_stories(session, limit=FEED_LIMIT, **topic.filters())
    base = _config().public_base_url
    body, mimetype = feed_document(topic, stories, base)
    response = _conditional(body, mimetype)
    response.headers["Link"] = link_header(hub_url(base), topic.url(base))
    return response


@feeds.after_request
@api.after_request
def _any_origin(response: Response) -> Response:
    """CORS: the stories are public and read without credentials, so a partner's web page may
    read the feeds and the API from any origin, with the validators and WebSub links (the
    admin API and the hub stay same-origin). A preflight (a conditional request asks one)
    is told the methods and headers it may use."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Link"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


@feeds.get("/feeds/all.<fmt>")
def all_stories(fmt: str) -> Response:
    return _feed(all_topic(fmt))


@feeds.get("/feeds/topic/<code>.<fmt>")
def topic_stories(code: str, fmt: str) -> Response:
    """Stories of one IPTC Media Topic: ``/feeds/topic/04000000.atom`` (or ``medtop:...``)."""
    return _feed(media_topic(code, fmt))


@feeds.get("/feeds/lang/<language>.<fmt>")
def language_stories(language: str, fmt: str) -> Response:
    """Stories in one language (BCP 47): ``/feeds/lang/ar.atom``."""
    return _feed(language_topic(language, fmt))


def _limit(raw: str) -> int:
    """The page size asked for; out of range is refused, not clamped: a client that stops
    when a page comes back shorter than it asked would stop at the clamp."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= API_MAX_LIMIT:
        return int(raw)
    abort(400, f"limit must be a whole number from 1 to {API_MAX_LIMIT}")


@api.get("/api/v1/stories")
def stories_index() -> Response:
    limit = _limit(request.args.get("limit", "50"))
    cursor = request.args.get("cursor")
    base = _config().public_base_url
    with _db().session() as session:
        try:
            # One story more than the page: whether there is a next page at all (a full page
            # alone says nothing, and its cursor led to an empty one).
            stories = list_stories(session, limit=limit + 1, cursor=cursor)
        except ValueError:
            abort(400, "bad cursor")
    more, stories = len(stories) > limit, stories[:limit]
    body: dict[str, Any] = {"data": [ninjs.to_ninjs(s, base) for s in stories]}
    following = None
    if more:
        body["next_cursor"] = encode_cursor(stories[-1].published_at, stories[-1].id)
        following = f"{base.rstrip('/')}/api/v1/stories?limit={limit}&cursor={body['next_cursor']}"
    response = _conditional(json.dumps(body, ensure_ascii=False).encode(), "application/json")
    if following:  # RFC 8288, as clients that page by Link headers expect
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


def _story(story_id: str) -> StoryView | KilledStory | str:
    """The story as consumers see it; a killed one (withdrawn after publication); or the id of
    the story an editor merged it into (its articles are that story's now: its URIs answer 301
    there); 404 when none."""
    with _db().session() as session:
        story = get_story(session, story_id)
        killed = get_killed(session, story_id) if story is None else None
        target = merged_into(session, story_id) if story is None and killed is None else None
    found = story or killed or target
    if found is None:
        abort(404)
    return found


@api.get("/api/v1/stories/<story_id>")
def story_detail(story_id: str) -> Response | BaseResponse:
    """One story as ninjs; a killed one as ninjs ``pubStatus: canceled`` without its content
    (200: the document is the news that it is withdrawn)."""
    story = _story(story_id)
    if isinstance(story, str):
        return redirect(ninjs.story_uri(_config().public_base_url, story), 301)
    base = _config().public_base_url
    if isinstance(story, KilledStory):
        doc = ninjs.to_ninjs_canceled(story, base)
    else:
        doc = ninjs.to_ninjs(story, base)
    response = _conditional(json.dumps(doc, ensure_ascii=False).encode(), "application/json")
    if not isinstance(story, KilledStory):  # a killed story's page answers 410
        # RFC 8288: where a person reads it, for a client showing the document to one.
        response.headers["Link"] = (f'<{ninjs.page_url(base, story.id)}>; rel="alternate"; '
                                    'type="text/html"')
    return response


@pages.after_request
def _page_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGES_CSP)
    return response


@pages.get("/")
def front_page() -> Response:
    page = render_template("index.html", stories=_stories(50))
    return _conditional(page.encode(), "text/html")


@pages.get("/stories/<story_id>")
def story_html(story_id: str) -> Response | BaseResponse:
    """A story's page for readers; the ninjs document at /api/v1/stories/<id> is its data."""
    story = _story(story_id)
    base = _config().public_base_url
    if isinstance(story, str):
        return redirect(story_page.page_url(base, story), 301)
    if isinstance(story, KilledStory):  # withdrawn: readers are told it is gone for good
        abort(410)
    page = render_template("story.html", page=story_page.view(story, base))
    return _conditional(page.encode(), "text/html")


def create_app(config: Config | None = None) -> Flask:
    """The publisher app for ``config`` (read from the environment when not given)."""
    config = config or load()
    app = Flask(__name__)
    if config.publisher_trusted_proxies > 0:
        # Behind a load balancer every request comes from it: the hub's rate limit needs the
        # subscriber's own address, which only the proxies the operator names may tell.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app,  # type: ignore[method-assign]
                                x_for=config.publisher_trusted_proxies)
    app.extensions["wiredesk_config"] = config
    app.extensions["wiredesk_db"] = Database(config)
    app.extensions["wiredesk_redis"] = redis.Redis.from_url(config.redis_url)  # connects on use
    for blueprint in (feeds, api, pages, ops, hub):
        app.register_blueprint(blueprint)
    register_admin(app)
    app.add_template_filter(syndication.excerpt, "excerpt")
    app.add_template_filter(story_page.html_time, "html_time")
    app.add_template_filter(story_page.direction, "direction")

    @app.errorhandler(HTTPException)
    def _error(exc: HTTPException) -> Response | HTTPException:
        # API clients parse JSON, an error too; feed readers and browsers get Flask's page.
        if not request.path.startswith(JSON_PATHS):
            return exc
        response = exc.get_response()
        response.set_data(json.dumps({"error": exc.description, "status": exc.code}))
        response.mimetype = "application/json"
        return response

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        metrics.PUBLISHER_REQUESTS.labels(endpoint, f"{response.status_code // 100}xx").inc()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
