"""A story's HTML page: what a reader clicking a headline on the front page gets."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest

from tests.helpers import publish_first_entry, store_sample_feed
from wiredesk.pipeline.tasks import process_article
from wiredesk.store import models


def _published(celery_app: Any, database: Any, feed: str = "world-wire.xml",
               name: str = "") -> list[str]:
    ids = store_sample_feed(database, feed, name=name)
    for article_id in ids:
        assert process_article(celery_app.wiredesk, article_id) == "published"
    return ids


def _story_id(database: Any, article_id: str) -> str:
    with database.session() as session:
        return session.get(models.Article, article_id).story_id


def _page(publisher: Any, path: str) -> Any:
    response = publisher.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.content_type == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.get_data(as_text=True))


def test_a_headline_on_the_front_page_opens_the_storys_page(
        celery_app: Any, database: Any, publisher: Any, config: Any) -> None:
    """The front page linked every headline to the JSON API: a reader clicking a story got
    a JSON document. It opens the story's page: headline, dateline, body as published,
    sources, topics, and links to the story's ninjs document."""
    ids = _published(celery_app, database, name="World Wire")
    front = _page(publisher, "/")
    headlines = front.xpath("//article//h2/a")
    assert len(headlines) == 3
    base = config.public_base_url.rstrip("/")
    for link in headlines:
        story_id = link.get("href").rsplit("/", 1)[1]
        assert link.get("href") == f"/stories/{story_id}"
        page = _page(publisher, link.get("href"))
        doc = publisher.get(f"/api/v1/stories/{story_id}").get_json()
        assert page.xpath("string(//h1)").strip() == doc["headlines"][0]["value"]
        assert page.xpath("//link[@rel='canonical']/@href") == [f"{base}/stories/{story_id}"]
        (alternate,) = page.xpath("//link[@rel='alternate'][@type='application/json']")
        assert alternate.get("href") == doc["uri"]
    # The marathon report: its body's paragraphs, its dateline, its outlet and link, its topics.
    story_id = _story_id(database, ids[-1])
    page = _page(publisher, f"/stories/{story_id}")
    doc = publisher.get(f"/api/v1/stories/{story_id}").get_json()
    body = next(b["value"] for b in doc["bodies"] if b["contentType"] == "text/html")
    paragraphs = [p.text_content() for p in page.xpath("//*[@class='body']//p")]
    assert paragraphs == [p.text_content() for p in lxml.html.fragments_fromstring(body)]
    dateline = page.xpath("string(//*[@class='dateline'])")
    assert "Nairobi" in dateline and "Associated Press" in dateline and "UTC" in dateline
    (published,) = page.xpath("//*[@class='dateline']//time/@datetime")
    assert published.endswith("Z") and published == doc["firstCreated"].split(".")[0] + "Z"
    sources = page.xpath("//*[@class='sources']//li")
    assert len(sources) == 1 and "World Wire" in sources[0].text_content()
    with database.session() as session:
        article = session.get(models.Article, ids[-1])
        link, topics = article.url, [c["label"] for c in article.categories]
    assert sources[0].xpath(".//a/@href") == [link]
    shown = [t.text_content().strip() for t in page.xpath("//*[@class='topics']//li")]
    assert topics and shown == topics


def test_an_arabic_story_reads_right_to_left_in_an_english_page(
        celery_app: Any, database: Any, publisher: Any) -> None:
    ids = _published(celery_app, database, "arabic-wire.xml", name="نشرة عربية")
    page = _page(publisher, f"/stories/{_story_id(database, ids[0])}")
    html = page.getroottree().getroot()
    assert (html.get("lang"), html.get("dir")) == ("en", "ltr")  # the page's own words
    header, body = page.xpath("//*[@class='copy' or @class='body']")
    for copy in (header, body):
        assert (copy.get("lang"), copy.get("dir")) == ("ar", "rtl")
    assert header.xpath("string(.//h1)").startswith("وزراء آسيان")
    assert body.text_content().strip().startswith("كوالالمبور")
    # The outlet's name and the topics' labels are Arabic in English lines: isolated.
    assert page.xpath("//*[@class='sources']//bdi/text()") == ["نشرة عربية"]
    assert all(t.get("lang") == "ar" for t in page.xpath("//*[@class='topics']//bdi"))


def test_a_merged_storys_page_moves_to_the_story_it_went_into(
        celery_app: Any, database: Any, publisher: Any, config: Any) -> None:
    from wiredesk.store.stories import merge

    ids = _published(celery_app, database)
    kept, gone = _story_id(database, ids[0]), _story_id(database, ids[1])
    with database.session() as session:
        assert merge(session, kept, gone).story_id == kept
    moved = publisher.get(f"/stories/{gone}")
    assert moved.status_code == 301
    assert moved.location == f"{config.public_base_url.rstrip('/')}/stories/{kept}"


@pytest.mark.parametrize("story_id", ["s1-nothing", "s1-%00"])
def test_an_unknown_story_is_not_found(publisher: Any, database: Any, story_id: str) -> None:
    response = publisher.get(f"/stories/{story_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"


SCRIPTED_FEED = (
    b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    b"<item><guid isPermaLink='false'>s-1</guid><link>http://127.0.0.1/s-1</link>"
    b"<title>Port strike ends after three days</title><description><![CDATA[<p>Dock workers "
    b"returned <script>alert(1)</script>to work <img src=x onerror=alert(2)> on Monday.</p>"
    b"]]></description></item></channel></rss>"
)


def test_the_page_runs_nothing_from_the_copy_and_says_so_in_its_headers(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The body is the sanitized HTML as published, and the page's CSP lets no script run
    should any get through; the front page sends the same headers."""
    article_id = publish_first_entry(celery_app, database, SCRIPTED_FEED,
                                     "http://127.0.0.1/scripted.xml")
    path = f"/stories/{_story_id(database, article_id)}"
    response = publisher.get(path)
    text = response.get_data(as_text=True)
    assert "Dock workers" in text and "<script" not in text and "onerror" not in text
    for page in (response, publisher.get("/")):
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"]
    again = publisher.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


LATIN_FIRST_ARABIC_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>wire</title>"
    "<item><guid isPermaLink='false'>apple-1</guid><link>http://127.0.0.1/apple-1</link>"
    "<title>Apple تطلق هاتفا جديدا في الرياض بحضور وزير الاتصالات</title><description>"
    "iPhone الجديد يصل إلى الأسواق السعودية الأسبوع المقبل، وقالت الشركة إن الأسعار ستعلن "
    "لاحقا بعد التشاور مع شركات الاتصالات المحلية في المملكة.</description></item>"
    "</channel></rss>"
).encode()


def test_arabic_copy_opening_with_a_latin_name_still_reads_right_to_left(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The front page set ``dir="auto"`` on each story's copy: the browser takes the direction
    from the first strong letter, so an Arabic headline opening with a brand ("Apple ...")
    was laid out left to right, its words in the wrong order on the line. The story's page
    sets the direction from the language; the front page now does too."""
    article_id = publish_first_entry(celery_app, database, LATIN_FIRST_ARABIC_FEED,
                                     "http://127.0.0.1/apple.xml")
    story_id = _story_id(database, article_id)
    front = _page(publisher, "/")
    (headline,) = front.xpath(f"//article//h2/a[@href='/stories/{story_id}']")
    copy = next(e for e in headline.iterancestors() if e.get("lang"))
    assert (copy.get("lang"), copy.get("dir")) == ("ar", "rtl")
    page = _page(publisher, f"/stories/{story_id}")
    assert page.xpath("//*[@class='copy']/@dir") == ["rtl"]


def test_copy_of_an_undetermined_language_does_not_claim_the_pages_english(
        celery_app: Any, database: Any, publisher: Any) -> None:
    """The language stage leaves a short unsure text without a feed hint undetermined. Its
    copy then carried no lang and inherited the page's lang="en": a screen reader read a
    German headline as English, and a translating browser skipped it. Unknown is lang=""."""
    ids = _published(celery_app, database)
    with database.session() as session:
        session.get(models.Article, ids[0]).language = None
        session.commit()
    story_id = _story_id(database, ids[0])
    page = _page(publisher, f"/stories/{story_id}")
    assert page.xpath("//header[contains(@class, 'copy')]/@lang") == [""]
    assert page.xpath("//div[contains(@class, 'body')]/@lang") == [""]
    front = _page(publisher, "/")
    (copy,) = front.xpath(f"//article[.//a[@href='/stories/{story_id}']]//div[@dir='auto']")
    assert copy.get("lang") == ""
