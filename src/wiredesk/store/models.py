"""Tables. Enrichment (entities, keywords, dateline, categories) is stored as JSON validated by
the Article schema, so stages can grow without a migration for every field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# What consumers see: an article or story in one of these statuses is published.
PUBLISHED_STATUSES = ("published", "corrected")
# A story (and its articles) withdrawn after publication: consumers are told it is canceled,
# and nothing brings it back.
KILLED = "retracted"


def utcnow() -> datetime:
    return datetime.now(UTC)


# Every URL column's length. The indexed ones (feeds.url, articles.url) are btrees, whose entries
# PostgreSQL refuses past 2704 bytes: a URL must fit in this many characters *and* bytes.
MAX_URL_LENGTH = 2000


def fits_url_column(url: str) -> bool:
    """True if ``url`` can be stored in a URL column (length, UTF-8 size, no NUL)."""
    if len(url) > MAX_URL_LENGTH or "\x00" in url:
        return False
    if url.isascii():
        return True
    try:
        return len(url.encode("utf-8")) <= MAX_URL_LENGTH
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): not text PostgreSQL takes
        return False


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str | None] = mapped_column(String(35))
    trust: Mapped[str] = mapped_column(String(10), default="review")  # auto | review
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Conditional GET and scheduling state.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How entries are read (migration 0002): zone for dates without one, identity rule
    # (guid | link | content), and whether the linked article page is fetched for full text.
    date_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    identity_rule: Mapped[str] = mapped_column(String(10), default="guid")
    full_text: Mapped[bool] = mapped_column(default=False)
    # Scheduling state beyond next_fetch_at: why that time was chosen, when the last error was.
    schedule_reason: Mapped[str | None] = mapped_column(String(20))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The URL a permanent redirect moved this feed away from, and when.
    redirected_from: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    redirected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WebSub: the hub and topic advertised, our per-feed HMAC secret, and the lease.
    websub_hub: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    websub_topic: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    websub_secret: Mapped[str | None] = mapped_column(String(128))
    websub_state: Mapped[str | None] = mapped_column(String(20))  # pending|subscribed|denied
    websub_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    websub_lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    websub_last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_feeds_enabled_next_fetch", "enabled", "next_fetch_at"),)


class Story(Base):
    __tablename__ = "stories"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    canonical_article_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="received")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # ninjs versionCreated and version: move whenever consumers would see the story change
    # (``touch``); the version only ever counts up.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Status ``merged``: an editor merged this story into that one, which has its articles.
    merged_into: Mapped[str | None] = mapped_column(String(64))
    # Status ``retracted``: withdrawn from consumers (an editor killed it, or its last shown
    # report was deleted) at ``killed_at``; ``last_shown``: what it was filed under then
    # ({"topics": [qcodes], "language": tag}), so the feeds that held it can be told.
    killed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_shown: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_stories_status_published", "status", "published_at"),)

    def touch(self, now: datetime) -> None:
        """A change consumers see (a source joined or left, a correction): a new version."""
        self.updated_at = now
        # In the database when the row is stored: two sessions touching it at once both count.
        self.version = (Story.version + 1 if inspect(self).persistent  # type: ignore[assignment]
                        else (self.version or 1) + 1)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(35))
    language_hint: Mapped[str | None] = mapped_column(String(35))
    language_confidence: Mapped[float | None] = mapped_column(Float)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The dates as the feed wrote them, and what reading them assumed (zone_assumed, ...).
    published_raw: Mapped[str | None] = mapped_column(String(200))
    updated_raw: Mapped[str | None] = mapped_column(String(200))
    date_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    dateline: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    story_id: Mapped[str | None] = mapped_column(ForeignKey("stories.id"), index=True)
    duplicate_tier: Mapped[str | None] = mapped_column(String(10))
    duplicate_score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="received")
    routing_rule: Mapped[str | None] = mapped_column(String(200))
    routing_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # When the row last changed status; the reconciler re-enqueues what sits too long.
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The editor who wrote the current version on the desk (None: the feed's own copy).
    edited_by: Mapped[str | None] = mapped_column(String(100))
    # Tier 3's sentence embedding (WIREDESK_DEDUPE_SEMANTIC; stages/semantic.pack), stored so
    # that an article is embedded once, not once per article it is a candidate of.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    __table_args__ = (
        Index("ix_articles_status_changed", "status", "status_changed_at"),
        # A feed's articles, newest first (dedupe reads a feed's recent ones for its
        # boilerplate); also every lookup by feed alone, so no index of feed_id by itself.
        Index("ix_articles_feed_created", "feed_id", "created_at"),
    )


class ArticleRevision(Base):
    """Every earlier content version of an article: version N is kept here when version N+1
    replaces it on the article's row, which holds the current one (most articles never change,
    and a copy of each would double what a fetch writes)."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    # The status this version had when the next replaced it (None: stored before 0009): an
    # editor rejecting the next one brings a published version back.
    status: Mapped[str | None] = mapped_column(String(20))
    # What the stages made of this version (None: stored before 0010): the version published
    # goes on with its own topics, language and entities while a revision waits for an editor.
    language: Mapped[str | None] = mapped_column(String(35))
    language_confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    keywords: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    dateline: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    categories: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The editor who wrote this version on the desk (None: the feed's own copy).
    edited_by: Mapped[str | None] = mapped_column(String(100))


class RoutingRuleset(Base):
    """One saved, ordered set of routing rules; the newest row is the one in force. Older rows
    stay as the history of who changed routing when (``source``)."""

    __tablename__ = "routing_rulesets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleTombstone(Base):
    """An article someone deleted: ingest skips its id for good, whatever the feed still says."""

    __tablename__ = "article_tombstones"

    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopicCorrection(Base):
    """An editor's IPTC topics for an article: what the article now carries, and a labeled
    example the categorizer's next training reads (``wiredesk train categorizer``)."""

    __tablename__ = "topic_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    qcodes: Mapped[list[str]] = mapped_column(JSON)
    # What the categorizer had said, so an evaluation can count what editors changed.
    previous: Mapped[list[str]] = mapped_column(JSON, default=list)
    editor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Editor(Base):
    """An account that may log in to the desk (``wiredesk editors add``)."""

    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One thing an editor did on the desk: who, what, when, on which article and story, why.
    No foreign keys: the trail outlives a deleted article or editor."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    editor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    article_id: Mapped[str | None] = mapped_column(String(64), index=True)
    story_id: Mapped[str | None] = mapped_column(String(64), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HubSubscription(Base):
    """A subscriber's WebSub subscription to one of the publisher's feeds (the publisher is the
    hub, the ``deliver`` service pushes). ``request_*`` hold the (un)subscription asked for and
    not yet verified: only the callback echoing our challenge puts it in force."""

    __tablename__ = "hub_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of topic and callback: one subscription per pair (two URLs of 2000 characters
    # overflow a btree entry, so the pair is not indexed itself).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    callback: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    # pending (never verified) | unverified (refused) | active | failing (deliveries gave up;
    # still tried) | unsubscribed | gone (the callback answered 410)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(32))
    request_mode: Mapped[str | None] = mapped_column(String(12))
    request_secret: Mapped[str | None] = mapped_column(String(200))
    request_lease_seconds: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_hub_subscriptions_state_expires", "state", "expires_at"),)


class HubDelivery(Base):
    """One push of one story version to one subscription: made once (the unique key), so a
    story announced twice is pushed once."""

    __tablename__ = "hub_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("hub_subscriptions.id", ondelete="CASCADE"))
    story_id: Mapped[str] = mapped_column(String(64))
    story_version: Mapped[int] = mapped_column(Integer)
    # pending | delivered | failed (gave up) | gone (410) | skipped (subscription ended)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a push of it last started or was sent again: a pending delivery left alone longer
    # than any retry waits lost its message, and the reconciler sends it again.
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Story first: a fan-out looks up one story version's deliveries.
        UniqueConstraint("story_id", "story_version", "subscription_id",
                         name="uq_hub_deliveries_story_version_subscription"),
        Index("ix_hub_deliveries_status_attempted", "status", "attempted_at"),
        Index("ix_hub_deliveries_created", "created_at"),
    )
