"""The ``deliver`` tasks: verify a subscription request with the subscriber's callback, and
push a published, corrected or killed story to the subscribers of every feed it is (or was)
in. A beat task (``deliver.reconcile``) sends again what a lost message left behind and
prunes old deliveries.

Messages carry ids; each task re-reads the row and returns early when its work is done or
superseded. Callbacks are reached like feeds: through the SSRF guard, with bounded timeouts,
and no redirect followed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from wiredesk import metrics
from wiredesk.broker import PermanentError, Services, WiredeskTask, wiredesk_task
from wiredesk.config import Config
from wiredesk.ingester.fetch import FetchError, decode_stream_capped, shared_client
from wiredesk.ingester.guard import BlockedURL
from wiredesk.ingester.schedule import parse_retry_after
from wiredesk.store import subscriptions
from wiredesk.store.models import HubDelivery, HubSubscription

log = logging.getLogger(__name__)

# A challenge echoed is all a verification reads; anything longer is not the challenge.
MAX_VERIFY_BODY = 1024

def with_params(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to its query (WebSub 5.3: the callback's own query is
    kept, ours goes after it); a fragment, never sent to a server, is left out."""
    url = url.partition("#")[0]
    return url + ("&" if "?" in url else "?") + urlencode(params)


def ask_callback(client: httpx.Client, row: HubSubscription, challenge: str) -> str | None:
    """Send the verification of intent; None when the callback echoed ``challenge``, else why
    not."""
    params = {"hub.mode": row.request_mode or "", "hub.topic": row.topic,
              "hub.challenge": challenge}
    if row.request_mode == "subscribe":
        params["hub.lease_seconds"] = str(row.request_lease_seconds)
    try:
        with client.stream("GET", with_params(row.callback, params)) as response:
            if not 200 <= response.status_code < 300:
                return f"the callback answered {response.status_code}"
            # Raw, inflated here under the cap: httpx's iter_bytes inflates each chunk received
            # whole first (a gzip bomb: ~1000 times a chunk in the worker's memory).
            body = decode_stream_capped(response.iter_raw(), response.headers.get(
                "content-encoding"), MAX_VERIFY_BODY)
    except FetchError as exc:
        if exc.outcome == "too_large":
            return f"the callback's answer is too long for a challenge ({exc})"
        return f"the callback's answer is unreadable: {exc}"
    except BlockedURL as exc:
        return f"callback refused by the SSRF guard: {exc}"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if body.strip() != challenge.encode():
        return "the callback did not echo the challenge"
    return None


def verify_intent(services: Services, subscription_id: int, request_id: str) -> str:
    """Verify one request; returns verified, refused or superseded."""
    with services.db.session() as session:
        row = session.get(HubSubscription, subscription_id)
        if row is None or row.request_id != request_id:
            metrics.HUB_VERIFICATIONS.labels("superseded").inc()
            return "superseded"  # done already, or a newer request is the one to verify
        session.expunge(row)
    challenge = secrets.token_urlsafe(24)
    why_not = ask_callback(shared_client(services.config), row, challenge)
    with services.db.session() as session:
        row = session.get(HubSubscription, subscription_id, with_for_update=True)
        if row is None or row.request_id != request_id:  # another request came meanwhile
            metrics.HUB_VERIFICATIONS.labels("superseded").inc()
            return "superseded"
        if why_not is None:
            subscriptions.verified(row, datetime.now(UTC))
        else:
            subscriptions.refused(row, why_not)
    outcome = "verified" if why_not is None else "refused"
    if why_not:
        log.info("subscription %s not verified: %s", subscription_id, why_not)
    metrics.HUB_VERIFICATIONS.labels(outcome).inc()
    return outcome


@wiredesk_task(queue="deliver", name="deliver.verify")
def verify(self: Any, subscription_id: int, request_id: str) -> str:
    """Verify a subscriber's (un)subscription request with its callback."""
    return verify_intent(self.wiredesk, subscription_id, request_id)


class DeliveryFailed(Exception):
    """The callback did not take the push (an error status, no answer): retried with backoff,
    no sooner than ``retry_after`` seconds when it said when (429, 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def announce(story_id: str | None, celery: Any = None) -> None:
    """After the commit that published or corrected ``story_id`` (or changed it for consumers):
    push it to its feeds' subscribers, through ``celery`` (default: the worker's app). Like an
    event, a broker hiccup must not undo the committed work: it logs."""
    if story_id is None:
        return
    try:
        (celery or fan_out.app).send_task("deliver.fan_out", args=[story_id], queue="deliver")
    except Exception as exc:  # noqa: BLE001
        log.warning("could not announce story %s to subscribers: %s", story_id, exc)


def fan_out_story(services: Services, story_id: str) -> list[int]:
    """One delivery of the story's current version per subscription whose feed holds it (or,
    killed, held it); returns the deliveries made (none for a version announced before)."""
    from wiredesk.publisher.hub import parse_topic
    from wiredesk.publisher.stories import get_killed, get_story, in_feed

    base = services.config.public_base_url
    with services.db.session() as session:
        view = get_story(session, story_id) or get_killed(session, story_id)
        if view is None:  # not (or no longer) published, nor killed
            return []
        matching = []
        for url, subscription_ids in subscriptions.receiving(session, datetime.now(UTC)).items():
            topic = parse_topic(base, url)
            if topic is not None and in_feed(view, **topic.filters()):
                matching += subscription_ids
        made = subscriptions.new_deliveries(session, story_id, view.version, sorted(matching))
    for delivery_id in made:  # after the commit: the task must find the row
        push.delay(delivery_id)
    return made


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` of a push (WebSub 8: sha256, the subscriber's secret as the key)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _skip(delivery: HubDelivery, why: str) -> str:
    delivery.status, delivery.last_error = "skipped", why
    metrics.DELIVERIES.labels("skipped").inc()
    return "skipped"


def push_delivery(services: Services, delivery_id: int) -> str:
    """POST the story, as its feed's document holding it, to the subscriber's callback."""
    from wiredesk.publisher.hub import feed_document, hub_url, link_header, parse_topic
    from wiredesk.publisher.stories import get_killed, get_story

    base = services.config.public_base_url
    now = datetime.now(UTC)
    with services.db.session() as session:
        delivery = session.get(HubDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return delivery.status if delivery is not None else "missing"  # done already
        row = session.get(HubSubscription, delivery.subscription_id)
        if row is None or row.state not in subscriptions.RECEIVING or row.expires_at is None \
                or row.expires_at <= now:
            return _skip(delivery, "the subscription ended")
        topic, view = parse_topic(base, row.topic), get_story(session, delivery.story_id)
        killed = get_killed(session, delivery.story_id) if view is None else None
        if killed is not None and delivery.story_version != killed.version:
            killed = None  # an earlier version: the kill's own delivery tells of the kill
        if topic is None or (view is None and killed is None):
            return _skip(delivery, "the story is no longer published")
        if killed is not None:  # the story withdrawn: a tombstone in the topic's document
            body, mimetype = feed_document(topic, [], base, killed=[killed])
            changed_at = killed.killed_at
        else:
            assert view is not None
            body, mimetype = feed_document(topic, [view], base)
            changed_at = view.updated_at
        delivery.attempts += 1
        delivery.attempted_at = now
        callback, secret = row.callback, row.secret
        headers = {"Content-Type": mimetype, "Link": link_header(hub_url(base), row.topic)}
    if secret:
        headers["X-Hub-Signature"] = signature(secret, body)
    try:
        with shared_client(services.config).stream("POST", callback, content=body,
                                                 headers=headers) as response:
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                            datetime.now(UTC)) if status in (429, 503) else None
    except BlockedURL as exc:  # the name resolves elsewhere now: no retry will help
        raise PermanentError(f"callback refused by the SSRF guard: {exc}") from exc
    except httpx.HTTPError as exc:
        metrics.DELIVERIES.labels("retried").inc()
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if 200 <= status < 300:
        _delivered(services, delivery_id, datetime.now(UTC))
        metrics.DELIVERY_LATENCY.observe(max(0.0, (datetime.now(UTC) - changed_at).total_seconds()))
        metrics.DELIVERIES.labels("delivered").inc()
        return "delivered"
    if status == 410:  # WebSub 8: the subscriber is gone; the subscription ends
        _ended(services, delivery_id, "gone", "the callback answered 410 Gone")
        metrics.DELIVERIES.labels("gone").inc()
        return "gone"
    metrics.DELIVERIES.labels("retried").inc()
    raise DeliveryFailed(f"the callback answered {status}"
                         + (" (redirects are not followed)" if 300 <= status < 400 else "")
                         + (f" (retry after {retry_after:.0f} s)" if retry_after else ""),
                         retry_after)


def _delivered(services: Services, delivery_id: int, now: datetime) -> None:
    with services.db.session() as session:
        delivery = session.get(HubDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        row = session.get(HubSubscription, delivery.subscription_id, with_for_update=True)
        if row is not None:
            row.last_delivered_at = now
            if row.state == "failing":  # it takes pushes again
                row.state, row.last_error = "active", None


def _ended(services: Services, delivery_id: int, status: str, error: str) -> None:
    """The delivery ends as ``status``: its subscription ``gone`` (410) or ``failing``."""
    with services.db.session() as session:
        delivery = session.get(HubDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "pending":
            return
        delivery.status, delivery.last_error = status, error[:2000]
        row = session.get(HubSubscription, delivery.subscription_id, with_for_update=True)
        if row is not None and row.state in subscriptions.RECEIVING:
            row.state, row.last_error = ("gone" if status == "gone" else "failing"), error[:2000]


def _give_up(task: Any, exc: BaseException, args: tuple[Any, ...]) -> None:
    """After the last retry: the delivery failed, its subscription is ``failing`` (still tried
    with the next story; a success puts it back to ``active``)."""
    _ended(task.wiredesk, args[0], "failed", f"{type(exc).__name__}: {exc}")
    metrics.DELIVERIES.labels("failed").inc()


@wiredesk_task(queue="deliver", name="deliver.fan_out")
def fan_out(self: Any, story_id: str) -> int:
    """Make and send the deliveries of a story's current version."""
    return len(fan_out_story(self.wiredesk, story_id))


@wiredesk_task(queue="deliver", name="deliver.push", on_final_failure=_give_up)
def push(self: Any, delivery_id: int) -> str:
    """Push one story version to one subscriber; retried with backoff and jitter."""
    return push_delivery(self.wiredesk, delivery_id)


# Deliveries that ended are kept this long (to see what a subscriber was sent), then pruned.
KEEP_DELIVERIES = timedelta(days=7)
# A subscription that ended (its lease ran out, it was unsubscribed or answered 410, its
# request was never verified) is kept this long (`wiredesk subscribers list` shows it), then
# pruned with its deliveries. A subscriber renewing later subscribes anew.
ENDED_SUBSCRIPTION_GRACE = timedelta(days=7)
# A kill is announced again on every tick for this long after it (a fan-out makes only the
# deliveries missing, so once made it costs a query): partners must take down what a
# newsroom withdrew even after an outage longer than the band other stories get.
KILLS_ANNOUNCED_FOR = timedelta(days=7)
RECONCILE_LIMIT = 1000


def stuck_after(config: Config) -> timedelta:
    """A pending delivery untouched this long lost its message: longer than any retry waits
    (the longest backoff, then a whole attempt) and than the pipeline's reconciler waits."""
    return timedelta(seconds=max(config.reconcile_after_seconds,
                                 WiredeskTask.retry_backoff_max + config.task_time_limit))


def reconcile_deliveries(services: Services, now: datetime) -> dict[str, int]:
    """Send again the pushes whose message was lost, announce again the stories changed just
    before the stuck horizon and those killed within KILLS_ANNOUNCED_FOR (their announcement
    may have been lost: a fan-out makes only the deliveries missing), and prune deliveries
    and subscriptions that ended long ago. Returns counts."""
    from sqlalchemy import delete, select

    from wiredesk.store.models import KILLED, PUBLISHED_STATUSES, Story

    horizon = now - stuck_after(services.config)
    with services.db.session() as session:
        lost = list(session.scalars(
            select(HubDelivery).where(HubDelivery.status == "pending",
                                      HubDelivery.attempted_at < horizon)
            .order_by(HubDelivery.attempted_at).limit(RECONCILE_LIMIT)
            .with_for_update(skip_locked=True)))
        for delivery in lost:
            delivery.attempted_at = now  # sent again now: not again on the next tick
        resend = [d.id for d in lost]
        band = timedelta(seconds=2 * services.config.reconcile_every_seconds)
        stories: list[str] = []
        if subscriptions.receiving_count(session, now):
            stories = list(session.scalars(select(Story.id).where(
                Story.status.in_((*PUBLISHED_STATUSES, KILLED)), Story.updated_at <= horizon,
                Story.updated_at > horizon - band).limit(RECONCILE_LIMIT)))
            stories += [story_id for story_id in session.scalars(select(Story.id).where(
                Story.status == KILLED, Story.killed_at <= horizon,
                Story.killed_at > now - KILLS_ANNOUNCED_FOR).limit(RECONCILE_LIMIT))
                if story_id not in stories]
        pruned = session.execute(delete(HubDelivery).where(
            HubDelivery.status != "pending",
            HubDelivery.created_at < now - KEEP_DELIVERIES)).rowcount
        ended = subscriptions.remove(session, subscriptions.ended_before(
            session, now - ENDED_SUBSCRIPTION_GRACE, RECONCILE_LIMIT))
    for delivery_id in resend:
        push.delay(delivery_id)
    announced = sum(len(fan_out_story(services, story_id)) for story_id in stories)
    if resend or announced or pruned or ended:
        log.info("deliver reconciler: %d pushes sent again, %d announced again, %d pruned, "
                 "%d ended subscriptions pruned", len(resend), announced, pruned, len(ended))
    return {"resent": len(resend), "announced": announced, "pruned": pruned or 0,
            "subscriptions_pruned": len(ended)}


@wiredesk_task(queue="deliver", name="deliver.reconcile")
def reconcile(self: Any) -> int:
    """Beat: what lost messages left behind reaches subscribers; old deliveries and ended
    subscriptions go."""
    counts = reconcile_deliveries(self.wiredesk, datetime.now(UTC))
    return counts["resent"] + counts["announced"]
