"""The admin JSON API (``/admin/api/...``: feeds, rules, review, articles, stories): the same
calls as the CLI and feeds.yaml, behind a bearer token. With no ``WIREDESK_ADMIN_TOKEN`` it
does not exist (404)."""

from __future__ import annotations

import hmac
import re
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from wiredesk import events
from wiredesk.store import feeds as registry
from wiredesk.webops import celery_client

admin_api = Blueprint("admin_api", __name__, url_prefix="/admin/api")
# A feed, a decision or the whole rule list is a few kilobytes: past this, a body is refused
# (413) before it is read, not parsed whole in the worker's memory.
MAX_BODY_BYTES = 2**20


def _db() -> Any:
    return current_app.extensions["wiredesk_db"]


def _redis() -> Any:
    return current_app.extensions["wiredesk_redis"]


@admin_api.before_request
def _authorize() -> Response | None:
    token = current_app.extensions["wiredesk_config"].admin_token
    if not token:
        abort(404)  # disabled: indistinguishable from absent
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        response = jsonify(error="a valid bearer token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="wiredesk-admin"'
        return response
    request.max_content_length = MAX_BODY_BYTES
    return None


@admin_api.before_request
def _no_nul_in_ids() -> tuple[Response, int] | None:
    # PostgreSQL cannot take a NUL in a text parameter: no row has such an id.
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        return jsonify(error="no such id (it holds a NUL character)"), 404
    return None


@admin_api.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> tuple[Response, int]:
    fields = exc.normalized_messages()  # type: ignore[no-untyped-call]  # untyped upstream
    return jsonify(error="invalid request body", fields=fields), 422


# Half a UTF-16 pair: JSON may escape one ("\ud83d", a string cut inside an emoji), but no
# text column can store it (UTF-8 has no encoding for it).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and _SURROGATE.search(value) is not None)
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _refuse_unstorable(data: dict[str, Any]) -> None:
    """Invalid input, not a 500: PostgreSQL text cannot hold a NUL character, nor UTF-8 a
    lone surrogate."""
    fields = sorted(str(key) for key, value in data.items()
                    if _unstorable(key) or _unstorable(value))
    if fields:
        raise ValidationError({key: ["a NUL character or a lone surrogate is not allowed"]
                               for key in fields})


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["the body must be a JSON object"]})
    _refuse_unstorable(data)
    return data


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    """A string field of ``body``, stripped; a missing one is "" unless ``required``."""
    value = body.get(name)
    if value is None and not required:
        return ""
    # Not str() of anything: who decided and why are kept with the article, as given.
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError({name: ["a non-empty string is required" if required
                                      else "a string is expected"]})
    return value.strip()


def _not_found(feed_id: int) -> tuple[Response, int]:
    return jsonify(error=f"no feed {feed_id}"), 404


@admin_api.get("/feeds")
def list_feeds() -> Response:
    with _db().session() as session:
        return jsonify(data=[registry.feed_to_dict(f) for f in registry.list_feeds(session)])


@admin_api.post("/feeds")
def create_feed() -> tuple[Response, int]:
    spec = _body()
    config = current_app.extensions["wiredesk_config"]
    registry.spec_schema.load(spec)  # validate before looking anything up
    try:
        with _db().session() as session:
            if registry.get_feed(session, spec["url"]) is None:
                feed = registry.put_feed(session, spec,
                                         default_interval=config.default_interval_seconds)
                return jsonify(registry.feed_to_dict(feed)), 201
    except IntegrityError:  # the URL's unique index: another request added it meanwhile
        pass
    return jsonify(error="a feed with this URL exists"), 409


@admin_api.get("/feeds/<int:feed_id>")
def show_feed(feed_id: int) -> Response | tuple[Response, int]:
    with _db().session() as session:
        feed = registry.get_feed(session, feed_id)
        return jsonify(registry.feed_to_dict(feed)) if feed else _not_found(feed_id)


@admin_api.patch("/feeds/<int:feed_id>")
def update_feed(feed_id: int) -> Response | tuple[Response, int]:
    from wiredesk.ingester.tasks import leave_hub

    changes, leaving = _body(), []
    try:
        with _db().session() as session:
            feed = registry.update_feed(session, feed_id, changes, leaving=leaving)
            answer = jsonify(registry.feed_to_dict(feed)) if feed else _not_found(feed_id)
    except IntegrityError as exc:  # the URL's unique index: another request added it meanwhile
        raise ValidationError({"url": ["another feed has this URL"]}) from exc
    for left in leaving:  # committed: the hub may verify with the callback at once
        leave_hub(left, celery_client())
    return answer


@admin_api.delete("/feeds/<int:feed_id>")
def delete_feed(feed_id: int) -> Response | tuple[Response, int]:
    with _db().session() as session:
        if not registry.remove_feed(session, feed_id):
            return _not_found(feed_id)
    return Response(status=204)


@admin_api.post("/feeds/<int:feed_id>/fetch")
def fetch_now(feed_id: int) -> Response | tuple[Response, int]:
    """Due at the scheduler's next tick, whatever its backoff."""
    with _db().session() as session:
        feed = registry.fetch_now(session, feed_id)
        return (jsonify(registry.feed_to_dict(feed)), 202) if feed else _not_found(feed_id)


@admin_api.get("/rules")
def show_rules() -> Response:
    from wiredesk.pipeline.stages.route import rules_to_data
    from wiredesk.store.rules import current_rules

    with _db().session() as session:
        return jsonify(data=rules_to_data(current_rules(session)))


@admin_api.put("/rules")
def replace_rules() -> Response:
    """Put a new ordered rule list in force (the whole list: order is meaning)."""
    from wiredesk.pipeline.stages.route import rules_from_data, rules_to_data
    from wiredesk.store.rules import save_rules

    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValidationError({"rules": ["a list of rules is required"]})
    _refuse_unstorable(data)
    rules = rules_from_data(data["rules"])
    with _db().session() as session:
        ruleset = save_rules(session, rules, source="admin-api")
    return jsonify(id=ruleset, data=rules_to_data(rules))


@admin_api.delete("/articles/<article_id>")
def delete_article(article_id: str) -> Response | tuple[Response, int]:
    """Delete an article for good (``{"reason": "..."}``); a tombstone keeps it from returning.
    A published story it leaves changed is pushed to subscribers."""
    from wiredesk.deliver.tasks import announce
    from wiredesk.store.articles import delete_article as delete

    reason = _text(_body(), "reason")  # why the article is deleted
    with _db().session() as session:
        deleted = delete(session, article_id, reason)
        if deleted is None:
            return jsonify(error=f"no article {article_id}"), 404
    if deleted.withdrawn and deleted.story_id:  # nothing of the story is left to show
        events.killed(_redis(), celery_client, deleted.story_id, [], cause="delete")
    else:
        announce(deleted.story_id, celery_client())
    return jsonify(deleted=article_id, **({"story_killed": deleted.story_id}
                                          if deleted.withdrawn else {}))


@admin_api.post("/stories/<story_id>/kill")
def kill_story(story_id: str) -> Response | tuple[Response, int]:
    """``{"editor": "...", "reason": "..."}``: withdraw a published story (wrong, legally
    unsafe) from every feed; its URI says canceled and its feeds' subscribers are told."""
    from wiredesk.store.stories import NoSuchStory, StoryChangeRefused, kill

    body = _body()
    editor, reason = _text(body, "editor"), _text(body, "reason")
    try:
        with _db().session() as session:
            done = kill(session, story_id, editor, reason)
    except NoSuchStory as exc:
        return jsonify(error=str(exc)), 404
    except StoryChangeRefused as exc:
        return jsonify(error=str(exc)), 409
    except ValueError as exc:  # the editor's name is too long
        raise ValidationError({"editor": [str(exc)]}) from exc
    events.killed(_redis(), celery_client, done.story_id, done.articles, editor=editor)
    return jsonify(id=done.story_id, status="killed", articles=done.articles)


@admin_api.put("/articles/<article_id>/topics")
def correct_article_topics(article_id: str) -> Response | tuple[Response, int]:
    """``{"qcodes": ["medtop:15000000", ...], "editor": "..."}``: the article's topics from now
    on, kept as a labeled example for the categorizer's next training."""
    from wiredesk.deliver.tasks import announce
    from wiredesk.store.corrections import NoArticle, UnknownTopic, correct_topics
    from wiredesk.store.editors import EditorNameRefused
    from wiredesk.store.models import Article

    body = _body()
    qcodes, editor = body.get("qcodes"), _text(body, "editor")
    if not isinstance(qcodes, list) or not all(isinstance(q, str) for q in qcodes):
        raise ValidationError({"qcodes": ["a list of IPTC qcodes"]})
    try:
        with _db().session() as session:
            categories = correct_topics(session, article_id, qcodes, editor)
            story_id = session.get(Article, article_id).story_id  # type: ignore[union-attr]
    except NoArticle:
        return jsonify(error=f"no article {article_id}"), 404
    except EditorNameRefused as exc:
        raise ValidationError({"editor": [str(exc)]}) from exc
    except UnknownTopic as exc:
        raise ValidationError({"qcodes": [str(exc)]}) from exc
    announce(story_id, celery_client())  # its topic feeds changed (fan-out: if shown)
    return jsonify(id=article_id, categories=categories)


@admin_api.get("/review")
def review_queue() -> Response:
    from wiredesk.store.review import pending

    with _db().session() as session:
        return jsonify(data=[{"id": r.id, "title": r.title, "language": r.language,
                              "feed_id": r.feed_id, "story_id": r.story_id,
                              "rule": r.routing_rule, "reason": r.routing_reason}
                             for r in pending(session)])


@admin_api.post("/review/<article_id>")
def review_decision(article_id: str) -> Response | tuple[Response, int]:
    """``{"decision": "approve"|"reject", "editor": "...", "note": "..."}``."""
    from wiredesk.store.editors import EditorNameRefused
    from wiredesk.store.models import Article
    from wiredesk.store.review import DECISIONS, NoSuchArticle, NotPending, StoryKilled, decide

    body = _body()
    decision, editor = body.get("decision"), _text(body, "editor")
    note = _text(body, "note", required=False)
    if decision not in DECISIONS:
        raise ValidationError({"decision": [f"one of {DECISIONS}"]})
    try:
        with _db().session() as session:
            status = decide(session, article_id, decision, editor, note)
            story_id = session.get(Article, article_id).story_id  # type: ignore[union-attr]
    except EditorNameRefused as exc:
        raise ValidationError({"editor": [str(exc)]}) from exc
    except NoSuchArticle as exc:
        return jsonify(error=str(exc)), 404
    except (NotPending, StoryKilled) as exc:
        return jsonify(error=str(exc)), 409
    events.decided(_redis(), celery_client, article_id, status,
                   editor, story_id, decision=decision, channel="api")
    return jsonify(id=article_id, status=status)
