"""Editors edit a held article's copy before deciding: a new revision, theirs, audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from tests.desk.conftest import EDITOR, csrf_token, hold, store_sample
from tests.desk.test_queue import audit_rows, decide, row
from tests.helpers import wait_until
from wiredesk import keys
from wiredesk.feedserver import SAMPLE_FEEDS_DIR
from wiredesk.identity import content_hash
from wiredesk.ingester.parse import parse_feed
from wiredesk.store import articles as article_store
from wiredesk.store import models

FEED = "world-wire.xml"
FEED_URL = f"http://127.0.0.1/{FEED}"


@pytest.fixture
def held(celery_app: Any, database: Any) -> list[str]:
    return hold(celery_app, store_sample(database, FEED))


def edit(client: Any, article_id: str, **form: str) -> Any:
    return client.post(f"/articles/{article_id}/edit",
                       data={**form, "csrf_token": csrf_token(client, "/")})


def history(database: Any, article_id: str) -> list[tuple[int, str, str | None, str]]:
    with database.session() as session:
        return [(v.revision, v.title, v.edited_by, v.content_hash) for v in session.scalars(
            select(models.ArticleRevision).where(models.ArticleRevision.article_id == article_id)
            .order_by(models.ArticleRevision.revision))]


def fetch_again(database: Any, feed_xml: str) -> dict[str, str]:
    """The feed fetched again (stored as the ingester stores it): each article's outcome."""
    with database.session() as session:
        feed_id = session.scalar(select(models.Feed.id).where(models.Feed.url == FEED_URL))
    parsed = parse_feed(feed_xml.encode(), feed_id=feed_id, url=FEED_URL)
    with database.session() as session:
        outcomes = article_store.upsert_many(session, parsed.articles)
    return {a.id: outcome for a, outcome in zip(parsed.articles, outcomes, strict=True)}


def test_an_edit_is_a_new_revision_of_the_held_article_marked_and_audited(
        editor: Any, held: list[str], database: Any, redis_client: Any) -> None:
    before = row(database, held[0])
    answer = edit(editor, held[0], title=" Quake: toll rises ", summary="Rescuers dig on.\r\n",
                  body="Rescuers <dug> on & on.\r\n\r\n  Aid arrived at dawn.  \r\n",
                  note="tightened the lede")
    assert answer.status_code == 303 and answer.location == f"/articles/{held[0]}"
    after = row(database, held[0])
    assert (after.title, after.summary) == ("Quake: toll rises", "Rescuers dig on.")
    assert after.body_html == "<p>Rescuers &lt;dug&gt; on &amp; on.</p><p>Aid arrived at dawn.</p>"
    assert after.body_text == "Rescuers <dug> on & on.\nAid arrived at dawn."
    assert after.content_hash == content_hash(after.title, after.body_text)
    assert (after.revision, after.edited_by) == (2, EDITOR)
    assert (after.status, after.status_changed_at) == ("pending_review", before.status_changed_at)
    # The feed's version joined the history, as a feed's correction would.
    assert history(database, held[0]) == [(1, before.title, None, before.content_hash)]
    assert audit_rows(database) == [(EDITOR, "edit", held[0], before.story_id,
                                     "revision 2: title, summary, body changed; tightened the lede")]
    page = editor.get(f"/articles/{held[0]}").text
    assert "Saved: revision 2" in page and f"edited by {EDITOR}" in page
    assert "Rescuers &lt;dug&gt; on &amp; on." in page
    assert f"edited by {EDITOR}" in editor.get(f"/queue/items/{held[0]}").text
    last = redis_client.xrevrange(keys.EVENTS_STREAM, count=1)[0][1]
    assert (last[b"type"], json.loads(last[b"data"])) == (
        b"article.edited", {"article_id": held[0], "editor": EDITOR})


def test_an_unchanged_body_keeps_the_feeds_markup_and_no_change_saves_nothing(
        editor: Any, held: list[str], database: Any) -> None:
    before = row(database, held[0])
    same = {"title": before.title, "summary": before.summary, "body": before.body_text}
    assert "Nothing changed" in editor.get(
        edit(editor, held[0], **same).location).text
    assert row(database, held[0]).revision == 1 and history(database, held[0]) == []
    assert edit(editor, held[0], **{**same, "title": "A sharper headline"}).status_code == 303
    after = row(database, held[0])
    assert (after.body_html, after.body_text) == (before.body_html, before.body_text)
    assert after.content_hash == content_hash("A sharper headline", before.body_text)
    assert audit_rows(database)[-1][-1] == "revision 2: title changed"


def test_an_approved_edit_is_what_consumers_read(editor: Any, held: list[str], database: Any,
                                                 publisher: Any) -> None:
    edit(editor, held[0], title="Edited headline", summary="", body="Edited first paragraph.")
    assert decide(editor, held[0], "approve").status_code == 303
    approved = row(database, held[0])
    assert approved.status == "published"  # never published before: no correction
    story = publisher.get(f"/api/v1/stories/{approved.story_id}").get_json()
    assert story["headlines"][0]["value"] == "Edited headline"
    assert {"value": "<p>Edited first paragraph.</p>", "contentType": "text/html"} in story["bodies"]


def test_the_same_feed_entry_fetched_again_leaves_the_edit_a_real_change_replaces_it(
        editor: Any, held: list[str], database: Any) -> None:
    """The feed keeps serving the entry the editor rewrote: that version is in the history
    (a feed wavering back to it is no change), so the editor's copy stands. When the source
    really changes again, its new copy is a new revision over the edit, which joins the
    history, and the article goes through the pipeline (and review) again."""
    feed_xml = (SAMPLE_FEEDS_DIR / FEED).read_text(encoding="utf-8")
    before = row(database, held[0])
    edit(editor, held[0], title="Edited headline", summary=before.summary, body="Edited text.")
    assert fetch_again(database, feed_xml)[held[0]] == "unchanged"
    kept = row(database, held[0])
    assert (kept.title, kept.edited_by, kept.revision, kept.status) == (
        "Edited headline", EDITOR, 2, "pending_review")

    first_sentence = before.body_text.split(".")[0]
    assert first_sentence in feed_xml
    changed = feed_xml.replace(first_sentence, first_sentence + ", the agency said later")
    assert fetch_again(database, changed)[held[0]] == "updated"
    revised = row(database, held[0])
    assert "the agency said later" in revised.body_text and revised.title == before.title
    assert (revised.edited_by, revised.revision, revised.status) == (None, 3, "received")
    assert [(r, t, e) for r, t, e, _ in history(database, held[0])] == [
        (1, before.title, None), (2, "Edited headline", EDITOR)]


def test_only_a_held_article_is_edited_and_a_title_is_needed(editor: Any, held: list[str],
                                                             database: Any) -> None:
    assert edit(editor, held[0], title="  ", summary="", body="x").status_code == 400
    assert edit(editor, held[0], title="t" * 1001, summary="", body="x").status_code == 400
    assert edit(editor, "a1-" + "0" * 32, title="t", summary="", body="x").status_code == 404
    assert decide(editor, held[0], "reject").status_code == 303
    late = edit(editor, held[0], title="Too late", summary="", body="x")
    assert late.status_code == 409 and "no longer waiting for review" in late.text
    assert row(database, held[0]).title != "Too late"
    assert editor.post(f"/articles/{held[1]}/edit", data={"title": "No token"}).status_code == 400
    assert [r[1] for r in audit_rows(database)] == ["reject"]


def test_an_edited_report_approved_into_a_live_story_is_published_not_corrected(
        editor: Any, celery_app: Any, database: Any) -> None:
    """Another outlet's report of a published story, held for review and edited (revision 2):
    approving it was called a correction, though consumers had never seen it."""
    from tests.helpers import store_reprint, store_sample_feed
    from wiredesk.pipeline.tasks import process_article

    first = store_sample_feed(database)[0]
    assert process_article(celery_app.wiredesk, first) == "published"
    with database.session() as session:
        original = article_store.to_article(session.get(models.Article, first))
    reprint = store_reprint(database, original)
    with database.session() as session:
        session.get(models.Feed, session.get(models.Article, reprint).feed_id).trust = "review"
    assert process_article(celery_app.wiredesk, reprint) == "pending_review"
    assert edit(editor, reprint, title="Edited reprint", summary="",
                body="Edited text.").status_code == 303
    assert decide(editor, reprint, "approve").status_code == 303
    approved = row(database, reprint)
    assert (approved.revision, approved.status) == (2, "published")
    assert approved.story_id == row(database, first).story_id


def test_an_edit_survives_the_feed_served_again_after_a_normalizer_upgrade(
        editor: Any, held: list[str], database: Any) -> None:
    """The hashes stored before a normalizer upgrade carry the old version. The feed serving
    the entry the editor rewrote, now hashed by the new normalizer, matched neither the row
    (the editor's copy) nor the history's old hash: it became a new revision, and the edit was
    silently undone. The history's versions are now compared as the new normalizer hashes
    them, and the matching one is hashed anew, so the next fetch finds it directly."""
    feed_xml = (SAMPLE_FEEDS_DIR / FEED).read_text(encoding="utf-8")
    before = row(database, held[0])
    edit(editor, held[0], title="Edited headline", summary=before.summary, body="Edited text.")
    with database.session() as session:  # as stored by the normalizer before this one
        for stored in [session.get(models.Article, held[0]), *session.scalars(
                select(models.ArticleRevision)
                .where(models.ArticleRevision.article_id == held[0]))]:
            stored.content_hash = "c1n0-" + stored.content_hash.split("-", 1)[1]
    for _ in range(2):
        assert fetch_again(database, feed_xml)[held[0]] == "unchanged"
        kept = row(database, held[0])
        assert (kept.title, kept.edited_by, kept.revision) == ("Edited headline", EDITOR, 2)
    assert kept.content_hash == content_hash(kept.title, kept.body_text)
    assert history(database, held[0])[0][3] == before.content_hash  # hashed anew


SPORT_BODY = ("Spain's football team beat Brazil 3-1 in Madrid on Sunday. The striker scored "
              "twice and the coach praised the players after the match in the World Cup "
              "qualifier.")


def test_an_edited_copy_is_tagged_and_categorized_again_by_a_worker(
        editor: Any, held: list[str], database: Any, worker: Any, publisher: Any) -> None:
    """The editor rewrote the copy; its entities, keywords and topics were still the feed
    copy's, so consumers of the approved story read subjects and places of another text."""
    before = row(database, held[0])
    assert "MY" in {e["id"] for e in before.entities}
    assert edit(editor, held[0], title="Spain beat Brazil in World Cup qualifier", summary="",
                body=SPORT_BODY).status_code == 303

    def tagged_again() -> models.Article | None:
        now = row(database, held[0])
        return now if {"ES", "BR"} <= {e["id"] for e in now.entities} else None

    edited = wait_until(tagged_again, timeout=30, message="the edit's new tags")
    assert "MY" not in {e["id"] for e in edited.entities}
    assert [c["qcode"] for c in edited.categories] == ["medtop:15000000"]
    assert "World Cup" in edited.keywords
    # The editor still decides: status, routing and story are as they were.
    assert (edited.status, edited.routing_rule, edited.story_id, edited.revision) == (
        "pending_review", before.routing_rule, before.story_id, 2)
    assert decide(editor, held[0], "approve").status_code == 303
    doc = publisher.get(f"/api/v1/stories/{before.story_id}").get_json()
    assert [s["literal"] for s in doc["subjects"]] == ["medtop:15000000"]
    assert {p.get("literal") for p in doc["places"]} >= {"ES", "BR"}


def test_tagging_an_edit_again_keeps_topics_an_editor_chose_and_skips_a_stale_revision(
        editor: Any, held: list[str], database: Any, celery_app: Any) -> None:
    from wiredesk.pipeline.tasks import reenrich_article
    from wiredesk.store.corrections import correct_topics

    with database.session() as session:
        correct_topics(session, held[0], ["medtop:04000000"], "omar")
    edit(editor, held[0], title="Spain beat Brazil", summary="", body=SPORT_BODY)
    assert reenrich_article(celery_app.wiredesk, held[0], 1) == "stale"
    assert reenrich_article(celery_app.wiredesk, held[0], 2) == "done"
    edited = row(database, held[0])
    assert {"ES", "BR"} <= {e["id"] for e in edited.entities}
    assert [c["qcode"] for c in edited.categories] == ["medtop:04000000"]


def test_two_editors_on_one_copy_neither_overwrites_nor_approves_unseen_text(
        desk_app: Any, editor: Any, held: list[str], database: Any) -> None:
    """Amal and Omar open the same held article. Amal saves an edit. Omar, still reading the
    feed's copy, saved his edit over hers (hers silently gone from the article) or approved
    her text without having read it. Both are now refused with what changed, and his typing
    stays in the form."""
    from tests.desk.conftest import log_in
    from wiredesk.store.editors import add_editor

    with database.session() as session:
        add_editor(session, "omar", "another long password")
    omar = desk_app.test_client()
    assert log_in(omar, "omar", "another long password").status_code == 303
    seen = {"revision": "1"}  # what both pages carried
    assert 'name="revision" value="1"' in omar.get(f"/articles/{held[0]}").text
    assert edit(editor, held[0], title="Amal's headline", summary="", body="Amal's text.",
                **seen).status_code == 303

    late_edit = edit(omar, held[0], title="Omar's headline", summary="", body="Omar's text.",
                     **seen)
    assert late_edit.status_code == 409
    assert "the copy changed since you opened it: it is revision 2 (edited by amal)" \
        in late_edit.text
    assert "Omar&#39;s text." in late_edit.text and "<details id=\"edit\" open>" in late_edit.text
    late_approval = decide_seen(omar, held[0], "approve", "1")
    assert late_approval.status_code == 409 and "Not approved" in late_approval.text
    now = row(database, held[0])
    assert (now.title, now.revision, now.status) == ("Amal's headline", 2, "pending_review")
    assert decide_seen(omar, held[0], "approve", "2").status_code == 303
    assert row(database, held[0]).status == "published"
    assert [r[1] for r in audit_rows(database)] == ["edit", "approve"]


def decide_seen(client: Any, article_id: str, decision: str, revision: str) -> Any:
    return client.post(f"/articles/{article_id}/decision",
                       data={"decision": decision, "revision": revision,
                             "csrf_token": csrf_token(client, "/")})


@pytest.mark.parametrize("revision", ["²", "١", "-1", "1.0", "9" * 30])
def test_a_revision_that_is_not_a_plain_number_is_a_400(editor: Any, held: list[str],
                                                        database: Any, revision: str) -> None:
    """'²' and Arabic-Indic digits pass str.isdigit(), and int() refused the first: a 500."""
    for answer in (decide_seen(editor, held[0], "approve", revision),
                   edit(editor, held[0], title="t", summary="", body="b", revision=revision)):
        assert answer.status_code == 400
    assert row(database, held[0]).status == "pending_review"
