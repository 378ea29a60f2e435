"""The Article contract: what the ingester produces and every pipeline stage reads and writes.

Stages take and return ``Article`` objects; ``ArticleSchema`` validates them wherever they cross a
boundary (the database, the admin API, golden files). Unknown fields are refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load, validate

STATUSES = (
    "received", "processed", "pending_review", "published", "rejected",
    "corrected", "retracted", "failed",
)
FINAL_STATUSES = ("pending_review", "published", "rejected", "corrected", "retracted", "failed")
DUPLICATE_TIERS = ("exact", "near", "story")


@dataclass
class Entity:
    type: str  # person | organisation | place | country | agency
    name: str  # English name
    id: str  # ISO 3166-1 alpha-2 for countries, else a Wikidata QID
    mentions: int = 1
    first_offset: int = 0


@dataclass
class Dateline:
    place: str | None = None
    place_id: str | None = None
    date: str | None = None  # ISO date
    agency: str | None = None
    text: str = ""  # the dateline as printed


@dataclass
class Category:
    qcode: str  # medtop:NNNNNNNN
    label: str
    score: float


@dataclass
class Article:
    id: str
    feed_id: int
    guid: str | None
    url: str | None
    title: str
    content_hash: str
    summary: str = ""
    body_html: str = ""
    body_text: str = ""
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    language_hint: str | None = None
    language_confidence: float | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime | None = None
    # The feed's own date strings, and what reading them assumed (ingester.dates.DATE_FLAGS).
    published_raw: str | None = None
    updated_raw: str | None = None
    date_flags: list[str] = field(default_factory=list)
    revision: int = 1
    entities: list[Entity] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    dateline: Dateline | None = None
    categories: list[Category] = field(default_factory=list)
    story_id: str | None = None
    duplicate_tier: str | None = None
    duplicate_score: float | None = None
    status: str = "received"
    routing_rule: str | None = None
    routing_reason: str | None = None

    def replace(self, **changes: Any) -> Article:
        return dataclasses.replace(self, **changes)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class EntitySchema(_Strict):
    type = fields.String(
        required=True,
        validate=validate.OneOf(["person", "organisation", "place", "country", "agency", "event"]),
    )
    name = fields.String(required=True, validate=validate.Length(1, 300))
    id = fields.String(required=True, validate=validate.Length(1, 100))
    mentions = fields.Integer(load_default=1, validate=validate.Range(min=1))
    first_offset = fields.Integer(load_default=0, validate=validate.Range(min=0))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Entity:
        return Entity(**data)


class DatelineSchema(_Strict):
    place = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    place_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    date = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    agency = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    text = fields.String(load_default="", validate=validate.Length(max=500))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Dateline:
        return Dateline(**data)


class CategorySchema(_Strict):
    qcode = fields.String(required=True, validate=validate.Regexp(r"^medtop:\d{8}$"))
    label = fields.String(required=True, validate=validate.Length(1, 200))
    score = fields.Float(required=True, validate=validate.Range(0.0, 1.0))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Category:
        return Category(**data)


class ArticleSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(1, 64))
    feed_id = fields.Integer(required=True)
    guid = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    url = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    title = fields.String(required=True, validate=validate.Length(max=1000))
    content_hash = fields.String(required=True, validate=validate.Length(1, 64))
    summary = fields.String(load_default="", validate=validate.Length(max=100_000))
    body_html = fields.String(load_default="", validate=validate.Length(max=2_000_000))
    body_text = fields.String(load_default="", validate=validate.Length(max=1_000_000))
    authors = fields.List(fields.String(validate=validate.Length(max=300)), load_default=list)
    language = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=35))
    language_hint = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=35)
    )
    language_confidence = fields.Float(allow_none=True, load_default=None)
    published_at = fields.AwareDateTime(allow_none=True, load_default=None)
    updated_at = fields.AwareDateTime(allow_none=True, load_default=None)
    fetched_at = fields.AwareDateTime(allow_none=True, load_default=None)
    published_raw = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    updated_raw = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    date_flags = fields.List(
        fields.String(validate=validate.OneOf(["zone_assumed", "future_clamped", "unparsed"])),
        load_default=list,
    )
    revision = fields.Integer(load_default=1, validate=validate.Range(min=1))
    entities = fields.List(fields.Nested(EntitySchema), load_default=list)
    keywords = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list)
    dateline = fields.Nested(DatelineSchema, allow_none=True, load_default=None)
    categories = fields.List(fields.Nested(CategorySchema), load_default=list)
    story_id = fields.String(allow_none=True, load_default=None)
    duplicate_tier = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(DUPLICATE_TIERS)
    )
    duplicate_score = fields.Float(allow_none=True, load_default=None)
    status = fields.String(load_default="received", validate=validate.OneOf(STATUSES))
    routing_rule = fields.String(allow_none=True, load_default=None)
    routing_reason = fields.String(allow_none=True, load_default=None)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Article:
        return Article(**data)


article_schema = ArticleSchema()
