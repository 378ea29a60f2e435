"""The desk in a real browser (Debian's chromium through chromedriver and Selenium), served over
loopback HTTP: log in, work the queue, and see an article that enters review appear live.

CI installs the browser (deploy/install-tools.sh); a machine without one fails these tests
unless WIREDESK_TEST_ALLOW_NO_BROWSER=1, so CI cannot skip them by accident."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.desk.conftest import EDITOR, PASSWORD, hold, store_sample
from tests.helpers import BROWSER_WAIT_SECONDS
from wiredesk import events
from wiredesk.store import models, review


@pytest.fixture
def desk_url(desk_app: Any) -> Iterator[str]:
    """The desk on a loopback port, in a thread (threaded: the queue page holds its stream)."""
    desk_app.config["DESK_EVENTS_HEARTBEAT_SECONDS"] = 0.5
    server = make_server("127.0.0.1", 0, desk_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def wait(driver: Any, condition: Any, message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, BROWSER_WAIT_SECONDS, poll_frequency=0.05).until(condition, message)


def entry(driver: Any, article_id: str) -> Any:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, f"article-{article_id}")
    return found[0] if found else None


def is_live(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "live").get_attribute("data-state") == "live"


def log_in(driver: Any, desk_url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{desk_url}/")
    assert "/login" in driver.current_url  # every page needs a login
    driver.find_element(By.NAME, "name").send_keys(EDITOR)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver, lambda d: d.find_elements(By.ID, "queue"), "the queue after logging in")


def status(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).status


def test_an_editor_works_the_queue_live(browser: Any, desk_url: str, celery_app: Any,
                                        database: Any, redis_client: Any) -> None:
    from selenium.webdriver.common.by import By

    held = hold(celery_app, store_sample(database, "world-wire.xml"))
    log_in(browser, desk_url)
    assert all(entry(browser, article_id) for article_id in held)

    # Approve the first article with a note: it is published, audited, and leaves the queue.
    first = entry(browser, held[0])
    first.find_element(By.NAME, "note").send_keys("checked with the bureau")
    first.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    wait(browser, lambda d: "Approved:" in d.find_element(By.CLASS_NAME, "flash").text,
         "the approval's message")
    assert entry(browser, held[0]) is None
    assert status(database, held[0]) == "published"

    # The page follows the events stream: an article held now appears without a reload,
    # laid out right to left, and one another editor decides meanwhile goes away.
    wait(browser, is_live, "the page's event stream")
    arabic = hold(celery_app, store_sample(database, "arabic-wire.xml")[:1])[0]
    wait(browser, lambda d: entry(d, arabic), "the newly held Arabic article")
    copy = entry(browser, arabic).find_element(By.CLASS_NAME, "copy")
    assert copy.get_attribute("lang") == "ar"
    assert copy.value_of_css_property("direction") == "rtl"
    with database.session() as session:
        review.decide(session, held[1], "reject", "omar")
    events.emit(redis_client, "article.rejected", article_id=held[1], editor="omar")
    wait(browser, lambda d: entry(d, held[1]) is None, "the article another editor rejected")

    # The article page: the sanitized body and the audit trail of the approval.
    browser.get(f"{desk_url}/articles/{held[0]}")
    audit = browser.find_element(By.ID, "audit").text
    assert EDITOR in audit and "approve" in audit and "checked with the bureau" in audit
    assert browser.find_element(By.ID, "status").text == "published"


def test_an_editor_edits_approves_merges_splits_and_kills(browser: Any, desk_url: str,
                                                          celery_app: Any, database: Any,
                                                          redis_client: Any) -> None:
    from selenium.webdriver.common.by import By

    held = hold(celery_app, store_sample(database, "world-wire.xml"))
    log_in(browser, desk_url)

    # Another editor edits an article while the queue is open: its entry shows the new copy.
    wait(browser, is_live, "the page's event stream")
    with database.session() as session:
        body = session.get(models.Article, held[2]).body_text
        review.edit(session, held[2], "omar", "Retitled by omar", "", body)
    events.emit(redis_client, "article.edited", article_id=held[2], editor="omar")

    def shows_the_edit(driver: Any) -> bool:
        from selenium.common.exceptions import StaleElementReferenceException

        try:  # the entry is replaced as a whole
            text = entry(driver, held[2]).text
        except (AttributeError, StaleElementReferenceException):
            return False
        return "Retitled by omar" in text and "edited by omar" in text

    wait(browser, shows_the_edit, "the edited entry")

    def flash() -> str:
        from selenium.common.exceptions import StaleElementReferenceException

        try:  # the page may be replaced between finding the message and reading it
            return " ".join(found.text for found in browser.find_elements(By.CLASS_NAME, "flash"))
        except StaleElementReferenceException:
            return ""

    # Edit the first held article's copy, then approve it: consumers get the editor's text.
    browser.get(f"{desk_url}/articles/{held[0]}")
    browser.find_element(By.CSS_SELECTOR, "#edit summary").click()
    title = browser.find_element(By.NAME, "title")
    title.clear()
    title.send_keys("Edited in the browser")
    body = browser.find_element(By.NAME, "body")
    body.clear()
    body.send_keys("First paragraph.\nSecond <paragraph> & more.")
    browser.find_element(By.CSS_SELECTOR, "button[value=edit]").click()
    wait(browser, lambda d: "Saved: revision 2" in flash(), "the edit's message")
    paragraphs = browser.find_elements(By.CSS_SELECTOR, ".body p")
    assert [p.text for p in paragraphs] == ["First paragraph.", "Second <paragraph> & more."]
    assert f"edited by {EDITOR}" in browser.find_element(By.CLASS_NAME, "meta").text
    browser.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    wait(browser, lambda d: "Approved: Edited in the browser" in flash(), "the approval")
    with database.session() as session:
        row = session.get(models.Article, held[0])
        assert (row.status, row.title, row.edited_by) == (
            "published", "Edited in the browser", EDITOR)
        other_story = session.get(models.Article, held[2]).story_id

    # Merge the second article's story with the third's, then split it out again.
    browser.get(f"{desk_url}/articles/{held[1]}")
    browser.find_element(By.CSS_SELECTOR, "#merge input[name=story]").send_keys(other_story)
    browser.find_element(By.CSS_SELECTOR, "#merge button").click()
    wait(browser, lambda d: "merged into story" in flash(), "the merge's message")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#story li")) == 2
    with database.session() as session:
        assert session.get(models.Article, held[1]).story_id == session.get(
            models.Article, held[2]).story_id
    browser.find_element(By.CSS_SELECTOR, "#split button").click()
    wait(browser, lambda d: "Moved out of story" in flash(), "the split's message")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#story li")) == 1
    assert browser.find_elements(By.CSS_SELECTOR, "#split") == []  # alone now
    with database.session() as session:
        assert session.get(models.Article, held[1]).story_id != session.get(
            models.Article, held[2]).story_id
    audit = browser.find_element(By.ID, "audit").text
    assert "merge" in audit and "split" in audit

    # Kill the story the edited article published: the reason is required, then it is gone.
    browser.get(f"{desk_url}/articles/{held[0]}")
    reason = browser.find_element(By.CSS_SELECTOR, "#kill input[name=reason]")
    assert reason.get_attribute("required") is not None
    reason.send_keys("the figures were wrong")
    browser.find_element(By.CSS_SELECTOR, "#kill button").click()
    wait(browser, lambda d: "Killed story" in flash(), "the kill's message")
    assert browser.find_element(By.ID, "status").text == "retracted"
    assert browser.find_elements(By.ID, "killed") and not browser.find_elements(By.ID, "kill")
    audit = browser.find_element(By.ID, "audit").text
    assert "kill" in audit and "the figures were wrong" in audit
