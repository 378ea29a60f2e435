"""Editors merge two stories and split an article out into a story of its own: what consumers
read (ninjs altIds, infoSources, versions), the audit, the index, and two editors at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.desk.conftest import EDITOR, csrf_token
from tests.desk.test_queue import audit_rows
from tests.helpers import pause_after, second_waits_for_first, store_reprint, store_sample_feed
from wiredesk.pipeline.stages import dedupe
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import articles as article_store
from wiredesk.store import models
from wiredesk.store import stories as story_store


def story_of(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).story_id


def story(database: Any, story_id: str) -> models.Story:
    with database.session() as session:
        found = session.get(models.Story, story_id)
        session.expunge(found)
        return found


def members(database: Any, story_id: str) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(models.Article.id).where(
            models.Article.story_id == story_id)))


def canonical_of(database: Any, ids: set[str]) -> str:
    with database.session() as session:
        return dedupe.canonical([article_store.to_article(session.get(models.Article, i))
                                 for i in ids]).id


def guids(database: Any, ids: set[str]) -> list[str]:
    with database.session() as session:
        return sorted(session.get(models.Article, i).guid for i in ids)


def ninjs(publisher: Any, story_id: str) -> Any:
    return publisher.get(f"/api/v1/stories/{story_id}")


@pytest.fixture
def two_stories(celery_app: Any, database: Any) -> tuple[str, str]:
    """Two published stories of one article each: the first published first."""
    ids = store_sample_feed(database)
    for article_id in ids[:2]:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    assert story_of(database, ids[0]) != story_of(database, ids[1])
    return ids[0], ids[1]


def sources(doc: Any) -> tuple[list[str], list[str]]:
    """A ninjs story's altIds and infoSources, sorted (their order is not the point)."""
    return (sorted(a["value"] for a in doc["altIds"]),
            sorted(json.dumps(i, sort_keys=True) for i in doc["infoSources"]))


def post(client: Any, path: str, **form: str) -> Any:
    return client.post(path, data={**form, "csrf_token": csrf_token(client, "/")})


def test_merging_two_stories_moves_the_sources_and_the_versions(
        editor: Any, two_stories: tuple[str, str], database: Any, publisher: Any,
        celery_app: Any) -> None:
    first, second = two_stories
    kept_id, gone_id = story_of(database, first), story_of(database, second)
    versions = story(database, kept_id).version, story(database, gone_id).version
    before = [sources(ninjs(publisher, i).get_json()) for i in (kept_id, gone_id)]
    # From the second article's page: the story published first keeps its id.
    answer = post(editor, f"/articles/{second}/merge", story=kept_id, note="same quake")
    assert answer.status_code == 303 and answer.location == f"/articles/{second}"
    assert members(database, kept_id) == {first, second}
    kept, gone = story(database, kept_id), story(database, gone_id)
    assert (gone.status, gone.merged_into) == ("merged", kept_id)
    assert (kept.version, gone.version) == (versions[0] + 1, versions[1] + 1)
    assert kept.canonical_article_id == canonical_of(database, {first, second})
    doc = ninjs(publisher, kept_id).get_json()
    assert doc["version"] == str(kept.version)
    assert sources(doc)[0] == guids(database, {first, second}) == sorted(
        before[0][0] + before[1][0])
    # Every feed of both stories; the originator (a dateline's agency) is the canonical's.
    canonical_story = 0 if kept.canonical_article_id == first else 1
    feeds_before = {i for b in before for i in b[1] if '"source"' in i}
    originator = [i for i in before[canonical_story][1] if '"originator"' in i]
    assert sources(doc)[1] == sorted(feeds_before | set(originator))
    # A consumer holding the merged story's URI is sent to the story it went into.
    moved = ninjs(publisher, gone_id)
    assert moved.status_code == 301 and moved.location.endswith(f"/api/v1/stories/{kept_id}")
    listed = [s["uri"] for s in publisher.get("/api/v1/stories").get_json()["data"]]
    assert any(u.endswith(kept_id) for u in listed) and not any(u.endswith(gone_id) for u in listed)
    note = f"story {gone_id} merged into story {kept_id} (1 article moved); same quake"
    assert audit_rows(database) == [(EDITOR, "merge", second, kept_id, note)]
    page = editor.get(f"/articles/{second}").text
    assert f"Story {gone_id} merged into story {kept_id}" in page

    # Another outlet's reprint of the moved article joins the merged story (the index points
    # the moved article at it), and tier 3 finds it there too (the database says so).
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, second))
    reprint = store_reprint(database, original)
    assert process_article(celery_app.wiredesk, reprint) == "published"
    assert story_of(database, reprint) == kept_id


def test_a_merge_the_index_never_heard_of_still_sends_later_copies_to_the_merged_story(
        two_stories: tuple[str, str], database: Any, celery_app: Any) -> None:
    """The merge is committed but the index was not told (Redis was down): the index still
    names the merged-away story; the worker follows the merge instead of reviving it."""
    first, second = two_stories
    kept_id, gone_id = story_of(database, first), story_of(database, second)
    with database.session() as session:
        story_store.merge(session, gone_id, kept_id)
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, second))
    reprint = store_reprint(database, original)
    assert process_article(celery_app.wiredesk, reprint) == "published"
    assert story_of(database, reprint) == kept_id
    assert story(database, gone_id).status == "merged" and members(database, gone_id) == set()


def test_splitting_an_article_out_gives_it_a_story_of_its_own(
        editor: Any, two_stories: tuple[str, str], database: Any, publisher: Any,
        celery_app: Any) -> None:
    first, second = two_stories
    kept_id, gone_id = story_of(database, first), story_of(database, second)
    alone = {i: sources(ninjs(publisher, story_of(database, i)).get_json()) for i in two_stories}
    assert post(editor, f"/articles/{second}/merge", story=kept_id).status_code == 303
    before = story(database, kept_id).version
    answer = post(editor, f"/articles/{second}/split", note="different quake")
    assert answer.status_code == 303
    new_id = story_of(database, second)
    assert new_id not in (kept_id, gone_id) and new_id.startswith("s1-")
    assert members(database, kept_id) == {first} and members(database, new_id) == {second}
    new, kept = story(database, new_id), story(database, kept_id)
    assert (new.status, new.canonical_article_id, new.version) == ("published", second, 1)
    assert (kept.canonical_article_id, kept.version) == (first, before + 1)
    for story_id, article_id in ((kept_id, first), (new_id, second)):
        doc = ninjs(publisher, story_id).get_json()
        assert sources(doc) == alone[article_id]  # as before the merge
        assert doc["version"] == str(story(database, story_id).version)
    assert audit_rows(database)[-1] == (
        EDITOR, "split", second, new_id,
        f"moved out of story {kept_id} into story {new_id}, its own; different quake")
    # Its own story now: alone, it cannot be split again.
    alone = post(editor, f"/articles/{second}/split")
    assert alone.status_code == 409 and "only article of its story" in alone.text

    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, second))
    reprint = store_reprint(database, original)
    assert process_article(celery_app.wiredesk, reprint) == "published"
    assert story_of(database, reprint) == new_id


def test_merges_that_make_no_sense_are_refused(editor: Any, two_stories: tuple[str, str],
                                               database: Any) -> None:
    first, second = two_stories
    own = story_of(database, first)
    for story_id, why in ((own, "cannot be merged with itself"), ("nonsense", "not a story id"),
                          ("s1-" + "0" * 32, "no story"), ("", "name the story")):
        answer = post(editor, f"/articles/{first}/merge", story=story_id)
        assert answer.status_code == 409 and why in answer.text, story_id
    gone_id = story_of(database, second)
    assert post(editor, f"/articles/{second}/merge", story=own).status_code == 303
    gone = post(editor, f"/articles/{first}/merge", story=gone_id)
    assert gone.status_code == 409 and f"was merged into {own}" in gone.text
    assert editor.post(f"/articles/{first}/split", data={}).status_code == 400  # no token
    assert [r[1] for r in audit_rows(database)] == ["merge"]


def test_two_editors_merging_and_splitting_the_same_stories_at_once(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """Editor 1 merges stories A and B; editor 2, at the same moment, splits B's earliest
    report out. Each must act on the stories as the other left them: before, the merge chose
    the merged story's canonical from the articles it had read, and the split moved that
    report away meanwhile, leaving a canonical that is not in its story."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL (SQLite runs one writer)")
    services = celery_app.wiredesk
    ids = store_sample_feed(database)
    with database.session() as session:
        when = {i: session.get(models.Article, i).published_at for i in ids}
    early, late = sorted(ids[:2], key=lambda i: when[i])
    # The later report's story is published first: it keeps its id; the early one is the
    # canonical of the merged story, and the one the split takes out.
    for article_id in (late, early):
        assert process_article(services, article_id) == "published"
    a_id, b_id = story_of(database, late), story_of(database, early)
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, early))
    reprint = store_reprint(database, original)
    with database.session() as session:  # filed an hour later: the early report stays first
        session.get(models.Article, reprint).published_at = when[early] + timedelta(hours=1)
    assert process_article(services, reprint) == "published"
    assert members(database, b_id) == {early, reprint}
    assert canonical_of(database, {early, late, reprint}) == early

    real_canonical = dedupe.canonical
    chose, go = pause_after(monkeypatch, dedupe, "canonical", "merge")

    def in_session(act: Any) -> Any:
        with database.session() as session:
            return act(session)

    results = second_waits_for_first(
        database, ("merge", lambda: in_session(lambda s: story_store.merge(s, a_id, b_id))),
        ("split", lambda: in_session(lambda s: story_store.split(s, early))), chose, go)
    assert isinstance(results["merge"], story_store.StoryChange), results
    assert isinstance(results["split"], story_store.StoryChange), results
    new_id = results["split"].story_id
    assert members(database, a_id) == {late, reprint}
    assert members(database, new_id) == {early}
    assert story(database, b_id).status == "merged" and members(database, b_id) == set()
    with database.session() as session:
        for story_row in session.scalars(select(models.Story)):
            if story_row.status != "merged":
                assert story_row.canonical_article_id in members(database, story_row.id)
    assert story(database, a_id).canonical_article_id == real_canonical(
        [article_store.to_article(r) for r in _rows(database, {late, reprint})]).id


def _rows(database: Any, ids: set[str]) -> list[models.Article]:
    with database.session() as session:
        rows = [session.get(models.Article, i) for i in sorted(ids)]
        for row in rows:
            session.expunge(row)
        return rows


def test_an_article_split_out_while_a_worker_processes_its_revision_stays_split(
        celery_app: Any, database: Any, monkeypatch: Any) -> None:
    """A worker read a revised article (in story S) and an editor split it out meanwhile:
    the worker saved the correction as S's (S marked corrected, its version moved) while the
    article's new story, where consumers read the correction, stayed as it was. Now the worker
    starts again from the article as it is."""
    from tests.helpers import processing_paused
    from wiredesk.identity import content_hash

    if database.engine.dialect.name != "postgresql":
        pytest.skip("a worker and an editor at once: PostgreSQL (SQLite runs one writer)")
    services = celery_app.wiredesk
    first = store_sample_feed(database)[0]
    assert process_article(services, first) == "published"
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, first))
    reprint = store_reprint(database, original)
    assert process_article(services, reprint) == "published"
    s_id = story_of(database, first)
    assert members(database, s_id) == {first, reprint}
    with database.session() as session:
        stored = article_store.to_article(session.get(models.Article, reprint))
        body = stored.body_text + "\n\nThe ministry later revised the figures."
        assert article_store.upsert(session, stored.replace(
            body_text=body, body_html=f"<p>{body}</p>",
            content_hash=content_hash(stored.title, body))) == "updated"

    with processing_paused(monkeypatch, services, reprint) as outcome:
        with database.session() as session:
            new_id = story_store.split(session, reprint).story_id
        left = story(database, s_id)
    assert outcome == ["corrected"]
    assert story_of(database, reprint) == new_id
    assert members(database, s_id) == {first} and members(database, new_id) == {reprint}
    corrected, untouched = story(database, new_id), story(database, s_id)
    assert (corrected.status, corrected.version) == ("corrected", 2)
    assert (untouched.status, untouched.version) == (left.status, left.version)


def test_moving_an_article_into_another_story(editor: Any, celery_app: Any, database: Any,
                                              publisher: Any) -> None:
    """'Move this article to story X': before, only a split then a merge did it, and the
    split published a story of its own for a moment, which consumers could see and keep."""
    ids = store_sample_feed(database)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    a, b, c = ids
    sa, sb, sc = (story_of(database, i) for i in ids)
    with database.session() as session:
        story_store.merge(session, sa, sb)
    assert members(database, sa) == {a, b}
    versions = {i: story(database, i).version for i in (sa, sc)}
    with database.session() as session:
        count = len(list(session.scalars(select(models.Story.id))))

    answer = post(editor, f"/articles/{b}/move", story=sc, note="belongs with the summit")
    assert answer.status_code == 303
    assert members(database, sa) == {a} and members(database, sc) == {b, c}
    left, joined = story(database, sa), story(database, sc)
    assert (left.version, joined.version) == (versions[sa] + 1, versions[sc] + 1)
    assert left.canonical_article_id == a
    assert joined.canonical_article_id == canonical_of(database, {b, c})
    assert sources(ninjs(publisher, sc).get_json())[0] == guids(database, {b, c})
    assert sources(ninjs(publisher, sa).get_json())[0] == guids(database, {a})
    with database.session() as session:  # no story of its own, not even for a moment
        assert len(list(session.scalars(select(models.Story.id)))) == count
    assert audit_rows(database)[-1] == (
        EDITOR, "move", b, sc, f"moved out of story {sa} into story {sc}; belongs with the summit")
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, b))
    reprint = store_reprint(database, original)
    assert process_article(celery_app.wiredesk, reprint) == "published"
    assert story_of(database, reprint) == sc

    # The last article of a story: the story follows it (merged into the target).
    answer = post(editor, f"/articles/{a}/move", story=sc)
    assert answer.status_code == 303
    assert f"story {sa}, left empty, merged into it" in editor.get(answer.location).text
    assert (story(database, sa).status, story(database, sa).merged_into) == ("merged", sc)
    # The story merged into it before follows: its URI leads straight to the articles.
    assert story(database, sb).merged_into == sc
    assert ninjs(publisher, sa).location.endswith(f"/api/v1/stories/{sc}")
    for target, why in ((sc, "is in story"), (sb, "was merged into"), ("", "name the story")):
        refused = post(editor, f"/articles/{a}/move", story=target)
        assert refused.status_code == 409 and why in refused.text, target


def test_a_revised_article_split_out_sends_its_later_copies_to_its_new_story(
        editor: Any, two_stories: tuple[str, str], database: Any, celery_app: Any) -> None:
    """The index keeps an article where it was first indexed (a revision is not indexed
    again), but the desk looked for it in the slot of its current fetch time: for an article
    revised a day later the entry was not found, and its copies still joined the old story."""
    first, second = two_stories
    kept_id = story_of(database, first)
    assert post(editor, f"/articles/{second}/merge", story=kept_id).status_code == 303
    with database.session() as session:  # as a revision fetched a day later leaves it
        revised = session.get(models.Article, second)
        revised.fetched_at = revised.fetched_at + timedelta(days=1)
    assert post(editor, f"/articles/{second}/split").status_code == 303
    new_id = story_of(database, second)
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, second))
    reprint = store_reprint(database, original.replace(fetched_at=original.fetched_at
                                                        - timedelta(days=1)))
    assert process_article(celery_app.wiredesk, reprint) == "published"
    assert story_of(database, reprint) == new_id


def test_merging_and_splitting_push_the_changed_stories_to_subscribers(
        editor: Any, two_stories: tuple[str, str], database: Any, redis_client: Any) -> None:
    """A merge or a split moves the versions of the stories consumers see (sources join or
    leave, a story goes away or appears), but subscribers were never told: the push followed
    the pipeline's and the editors' publications only."""
    first, second = two_stories
    kept_id, gone_id = story_of(database, first), story_of(database, second)

    def fan_outs_since(start: int) -> list[str]:
        new = redis_client.llen("deliver") - start  # Celery pushes new messages at the head
        sent = [json.loads(m)["headers"]
                for m in (redis_client.lrange("deliver", 0, new - 1) if new else [])]
        return sorted(h["argsrepr"] for h in sent if h["task"] == "deliver.fan_out")

    start = redis_client.llen("deliver")
    assert post(editor, f"/articles/{second}/merge", story=kept_id).status_code == 303
    assert fan_outs_since(start) == sorted([repr([kept_id]), repr([gone_id])])
    start = redis_client.llen("deliver")
    assert post(editor, f"/articles/{second}/split").status_code == 303
    assert fan_outs_since(start) == sorted([repr([kept_id]), repr([story_of(database, second)])])
