"""Stories as IPTC ninjs 3.1 documents (schema: ../shared/schemas/ninjs/ninjs-schema_3.1.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wiredesk.publisher.stories import KilledStory, StoryView

WIKIDATA = "http://www.wikidata.org/entity/"
MEDIATOPIC = "http://cv.iptc.org/newscodes/mediatopic/"
_ENTITY_GROUPS = {"person": "people", "organisation": "organisations", "agency": "organisations",
                  "country": "places", "place": "places"}


# What a killed story's URI and the pushes withdrawing it say to consumers. The editor's
# reason stays in the newsroom (the audit trail): it may itself be what must not be published.
WITHDRAWN_NOTE = ("This story has been withdrawn by the publisher. Do not use it; remove it "
                  "wherever it was published.")


def iso(value: datetime) -> str:
    """A UTC time as ninjs and RFC 3339 write it (``Z``)."""
    return value.isoformat().replace("+00:00", "Z")


def story_uri(base_url: str, story_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/stories/{story_id}"


def page_url(base_url: str, story_id: str) -> str:
    """The story's HTML page for readers (the ninjs document's ``rel="alternate"``)."""
    return f"{base_url.rstrip('/')}/stories/{story_id}"


def to_ninjs(story: StoryView, base_url: str) -> dict[str, Any]:
    """One story as a ninjs 3.1 object."""
    article = story.canonical
    doc: dict[str, Any] = {
        "uri": story_uri(base_url, story.id),
        "type": "text",
        "representationType": "full",
        "version": str(story.version),
        "firstCreated": iso(story.published_at),
        "versionCreated": iso(story.updated_at),
        "pubStatus": "usable",
        "headlines": [{"value": article.title, "contentType": "text/plain"}],
        "altIds": [{"role": "guid", "value": s.article.guid or s.article.url or s.article.id}
                   for s in story.sources],
        "infoSources": _info_sources(story),
    }
    if article.published_at:
        doc["contentCreated"] = iso(article.published_at)
    if article.language:
        doc["language"] = article.language
    bodies = []
    if article.body_html:
        bodies.append({"value": article.body_html, "contentType": "text/html"})
    if article.body_text:
        bodies.append({"value": article.body_text, "contentType": "text/plain"})
    if bodies:
        doc["bodies"] = bodies
    if article.summary:
        doc["descriptions"] = [{"value": article.summary, "role": "summary",
                                "contentType": "text/plain"}]
    if article.authors:
        doc["by"] = ", ".join(article.authors)
    for entity in article.entities:
        group = _ENTITY_GROUPS.get(entity.type)
        if group is None:
            continue
        item: dict[str, Any] = {"name": entity.name}
        if entity.type == "country":
            item["literal"] = entity.id
        elif entity.id.startswith("Q"):
            item["uri"] = WIKIDATA + entity.id
        doc.setdefault(group, []).append(item)
    if article.dateline and article.dateline.place:
        doc["located"] = article.dateline.place
    if article.categories:
        doc["subjects"] = [
            {"uri": MEDIATOPIC + c.qcode.split(":", 1)[1], "name": c.label,
             "relevance": round(c.score * 100), "literal": c.qcode}
            for c in article.categories
        ]
    return doc


def _info_sources(story: StoryView) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for source in story.sources:
        seen.setdefault(source.feed_url, {"name": source.feed_name, "uri": source.feed_url,
                                          "role": "source"})
    agency = story.canonical.dateline.agency if story.canonical.dateline else None
    sources = list(seen.values())
    if agency:
        sources.append({"name": agency, "role": "originator"})
    return sources


def to_ninjs_canceled(story: KilledStory, base_url: str) -> dict[str, Any]:
    """A killed story as ninjs 3.1: its URI, a new version, ``pubStatus`` canceled, and none
    of its content (a consumer replaces what it had with this)."""
    return {
        "uri": story_uri(base_url, story.id),
        "type": "text",
        "representationType": "partial",
        "version": str(story.version),
        "firstCreated": iso(story.published_at),
        "versionCreated": iso(story.killed_at),
        "pubStatus": "canceled",
        "edNote": WITHDRAWN_NOTE,
    }
