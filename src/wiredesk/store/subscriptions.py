"""Subscriptions to the publisher's feeds (the publisher is their WebSub hub): requests waiting
for verification of intent, and the subscriptions in force."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wiredesk.store.models import HubDelivery, HubSubscription, utcnow

# Subscriptions that receive pushes (while their lease lasts): failing ones are still tried.
RECEIVING = ("active", "failing")


def subscription_key(topic: str, callback: str) -> str:
    """The one subscription of ``callback`` to ``topic`` (WebSub identifies it by the pair)."""
    return hashlib.sha256(f"{topic}\n{callback}".encode()).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A request to verify: which subscription, and which of its requests (a later one wins)."""

    subscription_id: int
    request_id: str


def request(session: Session, *, mode: str, topic: str, callback: str,
            secret: str | None = None, lease_seconds: int | None = None) -> Pending | None:
    """Record a (un)subscription request to verify; None when there is nothing to verify (an
    unsubscription of no subscription). The subscription in force, if any, stays until then."""
    key = subscription_key(topic, callback)
    query = select(HubSubscription).where(HubSubscription.key == key).with_for_update()
    row = session.scalars(query).first()
    if row is None:
        if mode != "subscribe":
            return None
        try:
            with session.begin_nested():  # another request for the pair may insert it first
                row = HubSubscription(key=key, topic=topic, callback=callback, state="pending")
                session.add(row)
        except IntegrityError:
            row = session.scalars(query).one()
    row.request_id = secrets.token_hex(16)
    row.request_mode = mode
    row.request_secret = secret if mode == "subscribe" else None
    row.request_lease_seconds = lease_seconds if mode == "subscribe" else None
    row.requested_at = utcnow()
    session.flush()
    return Pending(row.id, row.request_id)


def verified(row: HubSubscription, now: datetime) -> None:
    """The callback echoed our challenge: the request it answered is in force."""
    if row.request_mode == "subscribe":
        row.state = "active"
        row.secret = row.request_secret
        row.lease_seconds = row.request_lease_seconds
        row.expires_at = now + timedelta(seconds=row.request_lease_seconds or 0)
        row.last_error = None
    else:
        row.state, row.expires_at = "unsubscribed", None
    _clear_request(row)


def refused(row: HubSubscription, reason: str) -> None:
    """The callback did not confirm: the request is dropped, what was in force stays."""
    if row.state == "pending":
        row.state = "unverified"
    row.last_error = reason[:2000]
    _clear_request(row)


def _clear_request(row: HubSubscription) -> None:
    row.request_id = row.request_mode = row.request_secret = None
    row.request_lease_seconds = None


def _receiving(now: datetime) -> tuple[Any, ...]:
    return HubSubscription.state.in_(RECEIVING), HubSubscription.expires_at > now


def receiving(session: Session, now: datetime) -> dict[str, list[int]]:
    """Subscriptions whose lease runs (the ones a new story is pushed to): their ids, by topic,
    so that a fan-out judges each feed once, however many subscribe to it."""
    by_topic: dict[str, list[int]] = {}
    for subscription_id, topic in session.execute(
            select(HubSubscription.id, HubSubscription.topic).where(*_receiving(now))):
        by_topic.setdefault(topic, []).append(subscription_id)
    return by_topic


def receiving_count(session: Session, now: datetime) -> int:
    """How many subscriptions ``receiving`` would return."""
    return session.scalar(select(func.count()).select_from(HubSubscription)
                          .where(*_receiving(now))) or 0


def new_deliveries(session: Session, story_id: str, version: int,
                   subscription_ids: list[int]) -> list[int]:
    """A delivery of the story version to each subscription that has none yet; returns the ids
    of those made (a story announced twice is pushed once)."""
    done = set(session.scalars(select(HubDelivery.subscription_id).where(
        HubDelivery.story_id == story_id, HubDelivery.story_version == version)))
    made = []
    for subscription_id in subscription_ids:
        if subscription_id in done:
            continue
        try:
            with session.begin_nested():  # another announcement of the version got there first
                delivery = HubDelivery(subscription_id=subscription_id, story_id=story_id,
                                       story_version=version, status="pending",
                                       attempted_at=utcnow())
                session.add(delivery)
        except IntegrityError:
            continue
        made.append(delivery.id)
    return made


def list_subscriptions(session: Session, state: str | None = None) -> list[HubSubscription]:
    """Every subscription (or those in ``state``), oldest first: the operators' listing."""
    query = select(HubSubscription).order_by(HubSubscription.id)
    if state is not None:
        query = query.where(HubSubscription.state == state)
    return list(session.scalars(query))


def remove(session: Session, subscription_ids: list[int]) -> list[int]:
    """Delete subscriptions and their deliveries (a push of one in flight finds nothing and
    stops); returns the ids that existed."""
    found = list(session.scalars(select(HubSubscription.id).where(
        HubSubscription.id.in_(subscription_ids)).with_for_update()))
    if found:
        session.execute(delete(HubDelivery).where(HubDelivery.subscription_id.in_(found)))
        session.execute(delete(HubSubscription).where(HubSubscription.id.in_(found)))
    return found


def ended_before(session: Session, cutoff: datetime, limit: int) -> list[int]:
    """Subscriptions that ended before ``cutoff`` (their lease, or else their last request:
    an unsubscription, one never verified) and wait for no verification since: the ones to
    prune. A subscription in force ends with its lease; a ``gone`` one keeps its lease's end."""
    ended_at = func.coalesce(HubSubscription.expires_at, HubSubscription.requested_at,
                             HubSubscription.created_at)
    return list(session.scalars(
        select(HubSubscription.id).where(
            ended_at < cutoff,
            or_(HubSubscription.request_id.is_(None),
                and_(HubSubscription.requested_at.is_not(None),
                     HubSubscription.requested_at < cutoff)))
        .order_by(HubSubscription.id).limit(limit)))
