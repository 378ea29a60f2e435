"""The reader's pages in a real browser (chromium, the ``browser`` fixture): the story page
lays Arabic copy out right to left in an English page, and its Content-Security-Policy blocks
nothing the page itself needs (its stylesheet is inline: a policy without ``style-src
'unsafe-inline'`` would leave the page unstyled, and no assertion on headers would see it)."""

from __future__ import annotations

from typing import Any

from tests.helpers import serving_app, store_sample_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.publisher.app import create_app
from wiredesk.store import models


def _console(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser")]


def test_the_story_page_reads_right_to_left_and_its_policy_blocks_nothing_it_needs(
        browser: Any, celery_app: Any, database: Any, config: Any) -> None:
    from selenium.webdriver.common.by import By

    ids = store_sample_feed(database, "arabic-wire.xml", name="نشرة عربية")
    assert process_article(celery_app.wiredesk, ids[0]) == "published"
    with database.session() as session:
        story_id = session.get(models.Article, ids[0]).story_id
    app = create_app(config)
    app.extensions["wiredesk_db"] = database
    with serving_app(app) as base:
        for path in (f"/stories/{story_id}", "/"):
            browser.get(base + path)
            # The inline stylesheet applied (52rem, at the browser's 16px) ...
            body = browser.find_element(By.TAG_NAME, "body")
            assert body.value_of_css_property("max-width") == "832px", path
            # ... and the browser refused nothing the page asked for (a favicon aside).
            refused = [m for m in _console(browser) if "favicon.ico" not in m]
            assert refused == [], path
        browser.get(f"{base}/stories/{story_id}")
        for copy in browser.find_elements(By.CSS_SELECTOR, ".copy h1, .body p"):
            assert copy.value_of_css_property("direction") == "rtl"
        # The page's own words, and the Arabic outlet's name isolated inside them, stay LTR.
        for own in browser.find_elements(By.CSS_SELECTOR, ".dateline, .sources li"):
            assert own.value_of_css_property("direction") == "ltr"
        assert browser.find_element(By.CSS_SELECTOR, ".sources bdi").text == "نشرة عربية"
