"""The events stream (``wiredesk:events``): what happened, for the desk and subscribers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wiredesk import keys, metrics

if TYPE_CHECKING:
    from wiredesk.metrics import DecisionChannel

log = logging.getLogger(__name__)


def emit(redis_client: Any, event_type: str, **payload: Any) -> None:
    """Append one event; a Redis hiccup must not undo the committed work, so it only logs."""
    try:
        redis_client.xadd(
            keys.EVENTS_STREAM, {"type": event_type, "data": json.dumps(payload, default=str)},
            maxlen=keys.EVENTS_STREAM_MAXLEN, approximate=True,
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("could not emit %s: %s", event_type, exc)


def decided(redis_client: Any, celery: Callable[[], Any], article_id: str, status: str,
            editor: str, story_id: str | None, *, decision: str,
            channel: DecisionChannel) -> None:
    """What follows an editor's committed decision, whoever took it and how (``channel``: the
    desk, the admin API, the CLI): its count, its event, and, when the story is shown
    (approved, or its published version back), the push to subscribers through the Celery
    client ``celery()`` makes."""
    from wiredesk.metrics import count_decision
    from wiredesk.store.models import PUBLISHED_STATUSES

    count_decision(redis_client, channel, decision)
    emit(redis_client, f"article.{status}", article_id=article_id, editor=editor)
    if status in PUBLISHED_STATUSES:
        from wiredesk.deliver.tasks import announce

        announce(story_id, celery())


def killed(redis_client: Any, celery: Callable[[], Any], story_id: str, article_ids: list[str],
           *, editor: str | None = None, cause: str = "kill") -> None:
    """What follows a committed kill (``cause`` kill: desk, admin API, CLI), or an article
    delete that withdrew its story (``delete``): it is counted; each article killed has its
    ``article.retracted`` (the desk's queue drops the ones it held); ``story.killed``; and the
    push telling the subscribers of the feeds that held the story."""
    from wiredesk.deliver.tasks import announce

    metrics.STORIES_KILLED.count(redis_client, cause)
    for article_id in article_ids:
        emit(redis_client, "article.retracted", article_id=article_id, story_id=story_id,
             editor=editor)
    emit(redis_client, "story.killed", story_id=story_id, articles=article_ids, editor=editor,
         cause=cause)
    announce(story_id, celery())
