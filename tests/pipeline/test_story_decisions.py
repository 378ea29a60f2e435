"""Tier-3 decisions in flight (real Redis): same-story articles decide one after the other."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.helpers import wait_until
from wiredesk import keys
from wiredesk.evaluation import dedupe as evaluation
from wiredesk.pipeline.story_decisions import StoryDecisions
from wiredesk.schemas import Article


@pytest.fixture(scope="module")
def reports() -> dict[str, Article]:
    """Enriched project-written reports: ``rubio-riyadh-en``, ``rubio-riyadh-ar``, ..."""
    found = {}
    for pair in evaluation.crosslang_pairs():
        found[pair.a.id], found[pair.b.id] = pair.a, pair.b
    return found


@pytest.fixture
def registry(redis_client: Any) -> StoryDecisions:
    return StoryDecisions(redis_client, entry_ttl=60)


class Rival(threading.Thread):
    """Registers an article in its own thread (another worker) and keeps what it was told;
    holds its claim until stopped. As a context manager: started on entry, stopped on exit."""

    def __init__(self, registry: StoryDecisions, article: Article):
        super().__init__(daemon=True)
        self.registry, self.article = registry, article
        self.told: list[Article] | None = None
        self.go_away = threading.Event()

    def run(self) -> None:
        with self.registry.claim() as claim:
            self.told = claim.decided_before(self.article)
            self.go_away.wait(30)

    def stop(self, timeout: float = 10) -> None:
        self.go_away.set()
        self.join(timeout)

    def __enter__(self) -> Rival:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def test_a_later_same_story_article_waits_for_the_earlier_decision(
        registry: StoryDecisions, reports: dict[str, Article]) -> None:
    english, arabic = reports["rubio-riyadh-en"], reports["rubio-riyadh-ar"]
    with registry.claim() as first:
        assert first.decided_before(english) == []
        with Rival(registry, arabic) as later:
            wait_until(lambda: registry.in_flight() == 2,
                       message="the Arabic report registered")
            # Registered, and it shares a candidate key with the undecided English report: it
            # cannot have been told anything yet.
            assert later.is_alive() and later.told is None
            first.decide("s-riyadh")
            assert registry.client.ttl(keys.STORY_DECISIONS_STORIES) > 0
            wait_until(lambda: later.told is not None, message="the Arabic report told")
    assert [(a.id, a.story_id) for a in later.told or []] == [("rubio-riyadh-en", "s-riyadh")]
    assert registry.in_flight() == 0  # both withdrawn


def test_an_unrelated_article_does_not_wait(registry: StoryDecisions,
                                            reports: dict[str, Article]) -> None:
    riyadh, opec = reports["rubio-riyadh-en"], reports["opec-cut-ru"]  # no key shared
    with registry.claim() as first:
        first.decided_before(riyadh)
        with Rival(registry, opec) as other:
            wait_until(lambda: other.told is not None, message="told without waiting")
            assert other.told == []


def test_a_withdrawn_article_is_left_to_the_database(registry: StoryDecisions,
                                                     reports: dict[str, Article]) -> None:
    with ExitStack() as rivals:
        with registry.claim() as first:
            first.decided_before(reports["rubio-riyadh-en"])
            later = rivals.enter_context(Rival(registry, reports["rubio-riyadh-fr"]))
            wait_until(lambda: registry.in_flight() == 2,
                       message="the French report registered")
        # The first left (committed, or failed) without deciding: nothing to wait for.
        wait_until(lambda: later.told is not None, message="the French report told")
        assert later.told == []


def test_a_dead_workers_entry_expires_and_stops_nobody(redis_client: Any,
                                                       reports: dict[str, Article]) -> None:
    short_lived = StoryDecisions(redis_client, entry_ttl=0)
    dead = short_lived.claim().__enter__()  # never left: its worker was killed
    dead.decided_before(reports["who-cholera-sudan-en"])
    with StoryDecisions(redis_client, entry_ttl=60).claim() as claim:
        assert claim.decided_before(reports["who-cholera-sudan-es"]) == []
        assert redis_client.zrange(keys.STORY_DECISIONS_ORDER, 0, -1) == [
            b"who-cholera-sudan-es"]  # the expired entry was pruned
        assert all(redis_client.ttl(key) > 0 for key in (  # the keys themselves expire too
            keys.STORY_DECISIONS_SEQUENCE, keys.STORY_DECISIONS_ORDER,
            keys.STORY_DECISIONS_EXPIRY, keys.STORY_DECISIONS_ARTICLES))


def timed_out_waits() -> float:
    return REGISTRY.get_sample_value("wiredesk_pipeline_story_decision_waits_total",
                                     {"outcome": "timed_out"}) or 0.0


def test_waiting_is_bounded_and_counted(redis_client: Any, reports: dict[str, Article]) -> None:
    impatient = StoryDecisions(redis_client, entry_ttl=60, wait_seconds=0)
    before = timed_out_waits()
    with impatient.claim() as stuck:
        stuck.decided_before(reports["putin-erdogan-call-ru"])  # never decides
        with impatient.claim() as claim:
            assert claim.decided_before(reports["putin-erdogan-call-en"]) == []
    assert timed_out_waits() == before + 1  # what operators see of a worker that died mid-way


def test_an_article_that_waits_out_a_silent_rival_still_holds_its_story_lock(
        celery_app: Any, database: Any, monkeypatch: pytest.MonkeyPatch,
        reports: dict[str, Article]) -> None:
    """A rival registered first never decides (its worker was killed): the article waits for
    it holding its story lock, gives up, and is still processed, its lock held to the end
    (released, not expired: an expired one raises on release, after the commit)."""
    from tests.helpers import PUBLISH_EVERYTHING, put_rules_in_force
    from wiredesk.identity import article_id, content_hash
    from wiredesk.pipeline.tasks import process_article
    from wiredesk.store import articles as article_store
    from wiredesk.store.feeds import add_feed

    monkeypatch.setattr(keys, "STORY_LOCK_TTL_SECONDS", 2)  # the real 30 s, scaled down
    services = celery_app.wiredesk
    put_rules_in_force(database, PUBLISH_EVERYTHING)
    english = reports["rubio-riyadh-en"]
    with database.session() as session:
        feed_id = add_feed(session, "http://127.0.0.1/wire-en", trust="auto").id
    own_id = article_id(feed_id, "wire-en-riyadh", None)
    with database.session() as session:
        article_store.upsert(session, Article(
            id=own_id, feed_id=feed_id, guid="wire-en-riyadh", url=None,
            title=english.title, body_text=english.body_text,
            content_hash=content_hash(english.title, english.body_text),
            published_at=english.published_at))
    killed = services.story_decisions.claim().__enter__()  # never left, never decides
    killed.decided_before(reports["rubio-riyadh-ar"])

    assert process_article(services, own_id) == "published"


def test_a_rival_registered_again_is_no_longer_waited_for(
        redis_client: Any, monkeypatch: pytest.MonkeyPatch, reports: dict[str, Article]) -> None:
    """The first article fails and is withdrawn; its retry registers again at once, now after
    the second. The second must stop waiting for it (the retry waits for the second): waiting
    for each other would hold both for the whole wait."""
    from wiredesk.pipeline import story_decisions

    monkeypatch.setattr(story_decisions, "POLL_SECONDS", 1.0)  # the retry lands between polls
    registry = StoryDecisions(redis_client, entry_ttl=60, wait_seconds=60)
    first = registry.claim().__enter__()
    first.decided_before(reports["rubio-riyadh-en"])
    later = Rival(registry, reports["rubio-riyadh-ar"])
    later.start()
    wait_until(lambda: registry.in_flight() == 2, message="the Arabic report registered")
    first.withdraw()  # failed
    retry = Rival(registry, reports["rubio-riyadh-en"])  # sent again: registered after
    retry.start()
    try:
        wait_until(lambda: later.told is not None, timeout=10,
                   message="the Arabic report told without waiting for the retry")
        assert later.told == []
    finally:
        later.stop()  # first: the retry, registered after it, waits for it
        retry.stop(70)


def test_a_failure_to_withdraw_does_not_hide_the_failure_being_handled() -> None:
    import redis

    unreachable = StoryDecisions(redis.Redis(port=1, socket_connect_timeout=1), entry_ttl=60)
    with pytest.raises(KeyError, match="the real failure"), unreachable.claim() as claim:
        claim.article_id = "registered-before-redis-went-away"
        raise KeyError("the real failure")


def test_a_registration_whose_reply_is_lost_is_still_withdrawn(
        registry: StoryDecisions, reports: dict[str, Article]) -> None:
    import redis

    registered = registry.register

    def run_then_lose_the_reply(**kwargs: Any) -> Any:
        registered(**kwargs)  # Redis ran it...
        raise redis.ConnectionError("connection lost before the reply")  # ...we never heard

    registry.register = run_then_lose_the_reply  # type: ignore[method-assign]
    with pytest.raises(redis.ConnectionError), registry.claim() as claim:
        claim.decided_before(reports["opec-cut-ar"])
    assert registry.in_flight() == 0  # nobody will wait for an article that is not processing
