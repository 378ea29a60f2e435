"""The ``deliver`` tasks: verify a subscription request with the subscriber's callback.

Messages carry ids; each task re-reads the row and returns early when its work is done or
superseded. Callbacks are reached like feeds: through the SSRF guard, with bounded timeouts,
and no redirect followed.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from wiredesk import metrics
from wiredesk.broker import Services, wiredesk_task
from wiredesk.config import Config
from wiredesk.ingester.fetch import FeedClient, make_client
from wiredesk.ingester.guard import BlockedURL
from wiredesk.store import subscriptions
from wiredesk.store.models import HubSubscription

log = logging.getLogger(__name__)

# A challenge echoed is all a verification reads; anything longer is not the challenge.
MAX_VERIFY_BODY = 1024

_client: tuple[Config, FeedClient] | None = None
_client_lock = threading.Lock()


def http_client(config: Config) -> FeedClient:
    """One guarded keep-alive pool per worker process (made anew for another configuration)."""
    global _client
    with _client_lock:
        if _client is None or _client[0] != config:
            _client = (config, make_client(config))
        return _client[1]


def with_params(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to its query (WebSub 5.3: the callback's own query is
    kept, ours goes after it)."""
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _read_capped(response: httpx.Response, limit: int) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            break
    return body


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
            body = _read_capped(response, MAX_VERIFY_BODY)
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
    why_not = ask_callback(http_client(services.config), row, challenge)
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
