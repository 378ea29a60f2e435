"""The desk's forms ask the browser for what the server checks: one source for each rule."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.desk.conftest import hold, store_sample
from wiredesk.desk import app as desk_app_module
from wiredesk.identity import STORY_ID_PATTERN, article_id, story_id_for
from wiredesk.store import models

TEMPLATES = Path(desk_app_module.__file__).parent / "templates"


class _Fields(HTMLParser):
    """Every form field of a page, as (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"input", "textarea"}:
            self.fields.append((tag, dict(attrs)))


def test_templates_type_no_limit_or_pattern_of_their_own() -> None:
    """The story-id pattern and the note and copy limits were typed twice, in Python and in
    the templates: changing one left the browser refusing what the server takes, or asking
    for what it refuses. The templates now take them from the app."""
    typed = {path.name: found for path in TEMPLATES.glob("*.html")
             if (found := re.findall(r'\b(?:maxlength|pattern)="(?!\{\{)[^"]*"', path.read_text()))}
    assert typed == {}


def test_the_article_page_asks_what_the_server_checks(editor: Any, celery_app: Any,
                                                      database: Any) -> None:
    held = hold(celery_app, store_sample(database, "world-wire.xml"))
    parser = _Fields()
    parser.feed(editor.get(f"/articles/{held[0]}").text)
    limits = {attrs["name"]: int(attrs["maxlength"] or 0) for _, attrs in parser.fields
              if "maxlength" in attrs}
    assert limits == desk_app_module.FORM_LIMITS
    patterns = {attrs["pattern"] for _, attrs in parser.fields if "pattern" in attrs}
    assert patterns == {STORY_ID_PATTERN}
    # The pattern takes the stories the pipeline makes, and nothing around them.
    with database.session() as session:
        story_id = session.get(models.Article, held[0]).story_id
    assert re.fullmatch(STORY_ID_PATTERN, story_id)
    assert re.fullmatch(STORY_ID_PATTERN, story_id_for(article_id(1, "guid", None)))
    assert not re.fullmatch(STORY_ID_PATTERN, held[0])  # an article id is no story id


def test_a_story_id_the_pattern_refuses_is_refused_by_the_server(editor: Any, celery_app: Any,
                                                                 database: Any) -> None:
    from tests.desk.conftest import csrf_token

    held = hold(celery_app, store_sample(database, "world-wire.xml"))
    answer = editor.post(f"/articles/{held[0]}/merge", data={
        "story": held[1], "csrf_token": csrf_token(editor, "/")})
    assert answer.status_code == 409 and "is not a story id" in answer.text
