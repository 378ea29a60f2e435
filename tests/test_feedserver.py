"""The sample feed server `make run` starts: its feeds, and the pages their stories link to."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from wiredesk.feedserver import SAMPLE_FEEDS_DIR, FeedServer
from wiredesk.ingester.parse import parse_feed


@pytest.fixture
def samples() -> Iterator[FeedServer]:
    server = FeedServer(SAMPLE_FEEDS_DIR).start()
    yield server
    server.stop()


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLE_FEEDS_DIR.glob("*.xml")))
def test_every_sample_story_links_to_a_page_that_opens(samples: FeedServer, name: str) -> None:
    """Every sample story linked to http://127.0.0.1/sample/..., where nothing listens: a
    newcomer who clicked a story in the publisher's feeds (in a feed reader, or the JSON
    Feed's url) got "connection refused". The links now lead to the sample server, wherever
    it runs, and it answers each with the story's page."""
    url = samples.url(name)
    with urllib.request.urlopen(url, timeout=5) as response:
        parsed = parse_feed(response.read(), feed_id=1, url=url)
    assert parsed.articles
    for article in parsed.articles:
        assert article.url and article.url.startswith(f"http://127.0.0.1:{samples.port}/"), \
            article.url
        status, content_type, page = _get(article.url)
        assert status == 200 and content_type.startswith("text/html")
        assert article.title in page
