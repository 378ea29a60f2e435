"""Stories grown by the process task: members keep their tier, canonical choice, sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import put_rules_in_force
from tests.pipeline.test_dedupe_index import BASE
from wiredesk.identity import article_id, content_hash
from wiredesk.pipeline.tasks import process_article
from wiredesk.schemas import Article
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store.feeds import add_feed

BODY = BASE  # an earthquake report, as the index tests use it
PUBLISH_ALL = "rules:\n  - {name: all, action: publish, when: {}}\n"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _feed(database: Any, name: str, trust: str = "auto") -> int:
    with database.session() as session:
        return add_feed(session, f"http://127.0.0.1/{name}.xml", name=name, trust=trust).id


def _report(feed_id: int, body: str, *, title: str = "Quake", minutes: int = 0,
            guid: str = "g") -> Article:
    return Article(id=article_id(feed_id, guid, None), feed_id=feed_id, guid=guid, url=None,
                   title=title, body_text=body, content_hash=content_hash(title, body),
                   published_at=T0 + timedelta(minutes=minutes),
                   fetched_at=T0 + timedelta(minutes=minutes))


def _store(database: Any, article: Article) -> str:
    with database.session() as session:
        return article_store.upsert(session, article)


def _row(database: Any, article_id_: str) -> models.Article:
    with database.session() as session:
        row = session.get(models.Article, article_id_)
        session.expunge(row)
        return row


def test_a_revised_near_duplicate_stays_a_near_duplicate_member(
        celery_app: Any, database: Any) -> None:
    """A reprint that joined a story by near-duplicate text, then revised by its feed, lost
    its tier and score: the story showed it as if it had founded it."""
    put_rules_in_force(database, PUBLISH_ALL)
    services = celery_app.wiredesk
    first = _report(_feed(database, "wire"), BODY)
    reprint = _report(_feed(database, "paper"), BODY + " Paper staff contributed.", minutes=5)
    for article in (first, reprint):
        _store(database, article)
        assert process_article(services, article.id) == "published"
    joined = _row(database, reprint.id)
    assert joined.story_id == _row(database, first.id).story_id
    assert joined.duplicate_tier == "near" and joined.duplicate_score is not None

    revised = reprint.replace(body_text=reprint.body_text + " Updated with the toll.",
                              content_hash=content_hash("Quake", reprint.body_text + " x"))
    assert _store(database, revised) == "updated"
    assert process_article(services, reprint.id) == "corrected"
    again = _row(database, reprint.id)
    assert again.story_id == joined.story_id
    assert (again.duplicate_tier, again.duplicate_score) == ("near", joined.duplicate_score)


EXACT_THEN_PUBLISH = ("rules:\n  - {name: exact-duplicate, action: reject, "
                      "when: {duplicate_tier: exact}}\n  - {name: all, action: publish, when: {}}\n")
HOLD_ONE_FEED = ("rules:\n  - {name: hold, action: review, when: {feed: held}}\n"
                 "  - {name: all, action: publish, when: {}}\n")


def _three_reports(database: Any, services: Any, first_feed: str = "wire") -> list[Article]:
    """One story of three reports processed in this order: A (published first), B (published
    last), C (published between them); the canonical is A, then C, then B."""
    a = _report(_feed(database, first_feed), BODY, title="Report A")
    b = _report(_feed(database, "late"), BODY + " Late edition.", title="Report B", minutes=20)
    c = _report(_feed(database, "mid"), BODY + " Mid edition.", title="Report C", minutes=10)
    for article in (a, b, c):
        _store(database, article)
        process_article(services, article.id)
    assert len({_row(database, x.id).story_id for x in (a, b, c)}) == 1
    return [a, b, c]


def test_deleting_the_canonical_hands_it_to_the_earliest_remaining_report(
        celery_app: Any, database: Any) -> None:
    """The canonical went to the member stored first, not to the earliest published."""
    put_rules_in_force(database, PUBLISH_ALL)
    a, b, c = _three_reports(database, celery_app.wiredesk)
    with database.session() as session:
        assert article_store.delete_article(session, a.id, "test")
    with database.session() as session:
        story = session.get(models.Story, _row(database, b.id).story_id)
        assert story.canonical_article_id == c.id


def test_a_story_whose_canonical_was_rejected_shows_the_earliest_published_report(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """With its canonical rejected by an editor, a story showed the member stored first."""
    from wiredesk.store.review import decide

    put_rules_in_force(database, HOLD_ONE_FEED)
    a, b, c = _three_reports(database, celery_app.wiredesk, first_feed="held")
    assert _row(database, a.id).status == "pending_review"
    with database.session() as session:
        decide(session, a.id, "reject", "editor")
    story = publisher.get(f"/api/v1/stories/{_row(database, b.id).story_id}").get_json()
    assert story["headlines"][0]["value"] == "Report C"


def test_an_operator_rule_rejecting_a_feed_also_rejects_its_exact_copies(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """An exact copy of a published story was always published as one of its sources, even
    when the operator's first rule rejected its feed: the mirror site showed up in the story's
    altIds and infoSources, recorded as rule 'exact-duplicate'."""
    put_rules_in_force(database, EXACT_THEN_PUBLISH.replace(
        "rules:\n", "rules:\n  - {name: no-mirrors, action: reject, when: {feed: 'mirror*'}}\n"))
    services = celery_app.wiredesk
    original = _report(_feed(database, "wire"), BODY)
    copy = _report(_feed(database, "mirror-site"), BODY, guid="m")
    for article in (original, copy):
        _store(database, article)
    assert process_article(services, original.id) == "published"
    assert process_article(services, copy.id) == "rejected"
    row = _row(database, copy.id)
    assert (row.duplicate_tier, row.routing_rule) == ("exact", "no-mirrors")
    story = publisher.get(f"/api/v1/stories/{row.story_id}").get_json()
    assert [s["uri"] for s in story["infoSources"]] == ["http://127.0.0.1/wire.xml"]


def test_an_exact_copy_of_a_published_story_joins_it_as_a_source(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """With the default rules an exact copy never publishes a second story: it is a source."""
    put_rules_in_force(database, EXACT_THEN_PUBLISH)
    services = celery_app.wiredesk
    original = _report(_feed(database, "wire"), BODY)
    copy = _report(_feed(database, "partner"), BODY, guid="p")
    for article in (original, copy):
        _store(database, article)
        assert process_article(services, article.id) == "published"
    row = _row(database, copy.id)
    assert (row.duplicate_tier, row.routing_rule) == ("exact", "exact-duplicate")
    story = publisher.get(f"/api/v1/stories/{row.story_id}").get_json()
    assert len(story["infoSources"]) == 2 and story["version"] == "2"


PAYWALL = ("Subscribe to read the full story. Already a subscriber? Sign in to continue reading "
           "this article.")
FOOTER = ("\nRead the full story on our website. Follow us on Twitter and Facebook for the latest "
          "news, and sign up for our daily newsletter to get the headlines in your inbox.")
TEASERS = {
    "Robbery in the centre": "Police arrested two men after a robbery at a jewellery shop in "
                             "the city centre on Monday.",
    "Rates go up": "The central bank raised its main interest rate by half a point to curb "
                   "inflation on Monday.",
    "Cup final": "The home side won the cup final on penalties after a goalless draw in front "
                 "of a sold-out stadium.",
}


def test_articles_of_one_feed_sharing_only_its_boilerplate_stay_apart(
        celery_app: Any, database: Any) -> None:
    """A feed of paywall stubs, or of short teasers above one newsletter footer, became one
    story: the shared sentences alone made the texts near-duplicates (estimated Jaccard 1.0
    and 0.6) and same-story by tier 3. Now both tiers compare them without what the feed
    repeats, and each report is its own story."""
    put_rules_in_force(database, PUBLISH_ALL)
    feed = _feed(database, "paywalled")
    reports = [_report(feed, PAYWALL, title=title, guid=f"p{n}", minutes=n)
               for n, title in enumerate(["Minister resigns over budget row",
                                          "Floods hit northern towns after storm",
                                          "Museum reopens after a decade of repairs"])]
    reports += [_report(feed, teaser + FOOTER, title=title, guid=f"t{n}", minutes=10 + n)
                for n, (title, teaser) in enumerate(TEASERS.items())]
    for report in reports:  # one fetch: stored together, then processed
        _store(database, report)
    for report in reports:
        assert process_article(celery_app.wiredesk, report.id) == "published"
    rows = [_row(database, report.id) for report in reports]
    assert [row.duplicate_tier for row in rows] == [None] * 6
    assert len({row.story_id for row in rows}) == 6


def test_a_reprint_with_its_own_feeds_footer_still_joins_the_story(
        celery_app: Any, database: Any) -> None:
    put_rules_in_force(database, PUBLISH_ALL)
    original = _report(_feed(database, "wire"), BODY)
    paper = _feed(database, "paper")
    earlier = [_report(paper, teaser + FOOTER, title=title, guid=title, minutes=n)
               for n, (title, teaser) in enumerate(TEASERS.items())]
    reprint = _report(paper, BODY + FOOTER, title="Quake kills twelve", guid="q", minutes=30)
    for article in (original, *earlier, reprint):
        _store(database, article)
        process_article(celery_app.wiredesk, article.id)
    row = _row(database, reprint.id)
    assert row.story_id == _row(database, original.id).story_id and row.duplicate_tier == "near"


def test_title_only_items_of_a_recurring_title_are_not_exact_duplicates(
        celery_app: Any, database: Any) -> None:
    """Monday's and Tuesday's 'Photos of the day' (title-only items, two links) hashed the
    same content, so Tuesday's became an exact duplicate and a source of Monday's story."""
    put_rules_in_force(database, EXACT_THEN_PUBLISH)
    feed = _feed(database, "pictures")
    monday = _report(feed, "", title="Photos of the day", guid="mon")
    tuesday = _report(feed, "", title="Photos of the day", guid="tue", minutes=24 * 60 - 90)
    for article in (monday, tuesday):
        _store(database, article)
        assert process_article(celery_app.wiredesk, article.id) == "published"
    first, second = _row(database, monday.id), _row(database, tuesday.id)
    assert second.duplicate_tier is None and second.story_id != first.story_id


def test_a_copy_with_enough_text_is_still_an_exact_duplicate(
        celery_app: Any, database: Any) -> None:
    put_rules_in_force(database, EXACT_THEN_PUBLISH)
    title = "Magnitude 6.1 earthquake strikes off the coast of Aceh province, twelve dead"
    first = _report(_feed(database, "wire"), "", title=title)
    copy = _report(_feed(database, "partner"), "", title=title, guid="p")
    for article in (first, copy):
        _store(database, article)
        process_article(celery_app.wiredesk, article.id)
    assert _row(database, copy.id).duplicate_tier == "exact"


def _routed(rule: str, action: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("wiredesk_pipeline_routing_decisions_total",
                                     {"rule": rule, "action": action}) or 0.0


def test_routing_metrics_count_what_the_article_records(celery_app: Any, database: Any) -> None:
    """An exact copy added as a source of a published story was counted as rejected by
    'exact-duplicate', and a reprint joining one under the publishing rule's name, while the
    articles said published by 'exact-duplicate' and 'joined-near'."""
    put_rules_in_force(database, EXACT_THEN_PUBLISH)
    before = {key: _routed(*key) for key in (("exact-duplicate", "reject"),
                                             ("exact-duplicate", "publish"),
                                             ("joined-near", "publish"), ("all", "publish"))}
    original = _report(_feed(database, "wire"), BODY)
    copy = _report(_feed(database, "partner"), BODY, guid="p")
    reprint = _report(_feed(database, "paper"), BODY + " Paper staff contributed.", guid="r")
    for article in (original, copy, reprint):
        _store(database, article)
        assert process_article(celery_app.wiredesk, article.id) == "published"
    assert [_row(database, a.id).routing_rule for a in (original, copy, reprint)] == [
        "all", "exact-duplicate", "joined-near"]
    assert {key: _routed(*key) - n for key, n in before.items()} == {
        ("exact-duplicate", "reject"): 0, ("exact-duplicate", "publish"): 1,
        ("joined-near", "publish"): 1, ("all", "publish"): 1}


def test_two_feeds_linking_one_page_processed_at_once_make_one_story(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """Two feeds carry one page (same link) with different teasers. Processed side by side,
    neither saw the other's uncommitted row, and the page was published as two stories: the
    story lock was taken on the content hash only, and the copies' hashes differ."""
    import threading

    import redis.lock

    from tests.helpers import wait_until
    from wiredesk.pipeline import tasks

    if database.engine.dialect.name != "postgresql":
        import pytest

        pytest.skip("two writers at once: PostgreSQL (SQLite runs one writer)")
    put_rules_in_force(database, PUBLISH_ALL)
    link = "https://news.example/2026/quake-aceh"
    first = _report(_feed(database, "world"), BODY).replace(url=link)
    second = _report(_feed(database, "asia"), "Parliament voted on Wednesday to extend the "
                     "state of emergency for three more months, the speaker said.",
                     title="Emergency extended", guid="x").replace(url=link)
    for article in (first, second):
        _store(database, article)

    classified, go, blocked = threading.Event(), threading.Event(), threading.Event()
    real_classify, real_acquire = tasks.classify, redis.lock.Lock.acquire

    def classify_then_wait(services: Any, article: Article) -> Article:
        if threading.current_thread().name == "first":
            classified.set()  # past dedupe, not committed
            assert go.wait(timeout=30), "the test never released the first worker"
        return real_classify(services, article)

    def acquire(lock: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "second" and lock.redis.exists(lock.name):
            blocked.set()  # waits for a lock the first worker holds
        return real_acquire(lock, *args, **kwargs)

    monkeypatch.setattr(tasks, "classify", classify_then_wait)
    monkeypatch.setattr(redis.lock.Lock, "acquire", acquire)
    results: dict[str, str] = {}

    def run(name: str, article_id: str) -> None:
        results[name] = process_article(celery_app.wiredesk, article_id)

    threads = {name: threading.Thread(target=run, args=(name, article.id), name=name)
               for name, article in (("first", first), ("second", second))}
    threads["first"].start()
    try:
        assert classified.wait(timeout=30), "the first worker never got past dedupe"
        threads["second"].start()
        wait_until(lambda: "second" in results or blocked.is_set(),
                   message="the second worker to finish or wait for the first")
    finally:
        go.set()
        for thread in threads.values():
            if thread.ident:
                thread.join(timeout=60)
    assert results == {"first": "published", "second": "published"}
    rows = [_row(database, first.id), _row(database, second.id)]
    assert rows[0].story_id == rows[1].story_id and rows[1].duplicate_tier == "exact"


def test_topic_and_language_feeds_judge_a_story_by_the_report_it_shows(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """A story whose canonical waits for an editor shows another report (C), but the topic
    and language feeds filed it by the held canonical's topics and language: here an editor
    has moved the held report to sport and it is in French, and the story, showing C in
    English, sat in the sport and French feeds and out of C's own."""
    from wiredesk.store.corrections import correct_topics

    put_rules_in_force(database, HOLD_ONE_FEED)
    a, b, c = _three_reports(database, celery_app.wiredesk, first_feed="held")
    assert _row(database, a.id).status == "pending_review"
    shown = _row(database, c.id)
    shown_topics = [category["qcode"] for category in shown.categories]
    assert shown_topics and "medtop:15000000" not in shown_topics and shown.language == "en"
    with database.session() as session:
        correct_topics(session, a.id, ["medtop:15000000"], "amal")
        session.get(models.Article, a.id).language = "fr"
    story_id = shown.story_id

    def listed(path: str) -> bool:
        return any(item["id"].endswith(story_id)
                   for item in publisher.get(path).get_json()["items"])

    code = shown_topics[0].split(":")[1]
    assert publisher.get(f"/api/v1/stories/{story_id}").get_json()["headlines"][0][
        "value"] == "Report C"
    assert {path: listed(path) for path in (
        f"/feeds/topic/{code}.json", "/feeds/topic/15000000.json", "/feeds/lang/en.json",
        "/feeds/lang/fr.json")} == {
        f"/feeds/topic/{code}.json": True, "/feeds/topic/15000000.json": False,
        "/feeds/lang/en.json": True, "/feeds/lang/fr.json": False}
