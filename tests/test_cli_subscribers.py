"""Operators see and remove the subscribers of the publisher's WebSub hub from the command line
(`wiredesk subscribers list|remove`); before, only SQL showed who was pushed what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.deliver.test_push import subscribed
from tests.test_cli import run
from wiredesk.store import subscriptions
from wiredesk.store.models import HubDelivery, HubSubscription

TOPIC = "http://127.0.0.1:8000/feeds/all.atom"


def test_subscribers_are_listed_and_removed(config: Any, database: Any) -> None:
    active = subscribed(database, "http://reader:s3cret@127.0.0.1:9/cb?token=1")
    with database.session() as session:
        pending = subscriptions.request(session, mode="subscribe", topic=TOPIC,
                                        callback="http://127.0.0.1:9/other", lease_seconds=600)
        assert pending is not None
        subscriptions.new_deliveries(session, "s1-" + "0" * 32, 1, [active])

    listing = run(config, "subscribers", "list")
    assert listing.exit_code == 0, listing.output
    header, *rows = listing.output.splitlines()
    assert header.split("\t")[:3] == ["id", "state", "expires"]
    by_id = {int(row.split("\t")[0]): row.split("\t") for row in rows}
    assert by_id[active][1] == "active" and by_id[pending.subscription_id][1] == "pending"
    assert "http://127.0.0.1:9/cb?token=1" in by_id[active] and TOPIC in by_id[active]
    assert "s3cret" not in listing.output  # a callback's password is not printed
    only = run(config, "subscribers", "list", "--state", "pending").output.splitlines()[1:]
    assert [int(row.split("\t")[0]) for row in only] == [pending.subscription_id]

    removed = run(config, "subscribers", "remove", str(active))
    assert removed.exit_code == 0, removed.output
    assert f"removed subscription {active}" in removed.output
    with database.session() as session:
        assert session.get(HubSubscription, active) is None
        assert session.scalar(select(func.count()).select_from(HubDelivery)) == 0
    missing = run(config, "subscribers", "remove", str(active), str(pending.subscription_id))
    assert missing.exit_code == 1 and f"no subscription {active}" in missing.output
    with database.session() as session:  # the others named are removed all the same
        assert session.get(HubSubscription, pending.subscription_id) is None
