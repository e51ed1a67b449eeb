"""The tables. Column by column documentation for downstream tools is in the README.

All timestamps are UTC (stored without a zone). Uniqueness that matters for correctness under
concurrency (one article per URL, one flag per story and entity) is enforced by constraints here,
not only by checks in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

FEED_STATUSES = ("ok", "failing", "gone", "removed", "duplicate")
FEED_KINDS = ("feed", "sitemap")
FLAG_STATUSES = ("new", "relevant", "dismissed")
USER_ROLES = ("reviewer", "observer")
DELIVERY_STATUSES = ("pending", "sent", "failed")


def _utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Feed(SQLModel, table=True):
    __tablename__ = "feed"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    url: str
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kind: str = Field(default="feed")  # feed (RSS/Atom/JSON Feed) | sitemap (news sitemap)
    # ok | failing | gone (410) | removed (no longer in feeds.yaml) | duplicate (see duplicate_of)
    status: str = Field(default="ok")
    interval_seconds: float  # the current interval (adaptive unless pinned)
    interval_pinned: bool = False  # feeds.yaml gives this feed an explicit `interval:`
    interval_floor_seconds: float | None = None  # the feed's own ttl / sy:update* / max-age
    etag: str | None = None  # validators are stored only after a 200
    last_modified: str | None = None
    body_hash: str | None = None  # hash of the last 200 body: the same body is "unchanged"
    final_url: str | None = None  # where the feed URL last redirected to
    duplicate_of: int | None = Field(default=None, foreign_key="feed.id")
    next_poll_at: datetime = _utc(index=True)
    last_attempt_at: datetime | None = _utc(default=None)
    last_success_at: datetime | None = _utc(default=None)
    last_new_item_at: datetime | None = _utc(default=None)
    last_error: str | None = None
    last_error_at: datetime | None = _utc(default=None)
    consecutive_failures: int = 0
    # ---- worker leases (pipeline.poll.leases) ----
    # host:pid:start:namespace:token of the worker polling it now (start tells a reused pid apart)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _utc(default=None)  # renewed by the owner's heartbeat
    # The fencing token: +1 on every claim by another worker; a poll's writes check it.
    lease_generation: int = 0
    # ---- end of worker leases ----
    created_at: datetime = _utc()


class FetchAttempt(SQLModel, table=True):
    """One poll of one feed: the feed's history."""

    __tablename__ = "fetch_attempt"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    started_at: datetime = _utc()
    duration_seconds: float
    outcome: str  # ok | not_modified | unchanged (same body) | error | interrupted
    http_status: int | None = None
    bytes: int = 0
    entries: int = 0
    new_entries: int = 0
    duplicates: int = 0
    flagged: int = 0
    errors: int = 0
    error: str | None = None
    worker: str | None = None
    interval_seconds: float | None = None  # the interval chosen after this poll


class Story(SQLModel, table=True):
    """One story: the first-seen article plus every duplicate of it."""

    __tablename__ = "story"

    id: int | None = Field(default=None, primary_key=True)
    title: str = ""
    first_article_id: int | None = None  # the representative (first-seen) article
    created_at: datetime = _utc()


class Article(SQLModel, table=True):
    __tablename__ = "article"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    story_id: int = Field(foreign_key="story.id", index=True)
    duplicate_of: int | None = Field(default=None, foreign_key="article.id")
    url: str
    canonical_url: str = Field(unique=True)
    final_url: str | None = None
    guid: str | None = None
    title: str = ""
    author: str | None = None
    published_at: datetime | None = _utc(default=None)
    fetched_at: datetime = _utc(index=True)
    language: str | None = None
    text: str = Field(sa_type=Text)
    text_source: str  # page | feed
    content_hash: str = Field(index=True)
    extractor: str
    extractor_version: str
    revision: int = 1  # number of the current text; earlier ones are in article_revision
    revised_at: datetime | None = _utc(default=None)  # when the current revision was stored


class ArticleUrl(SQLModel, table=True):
    """Every canonical URL known to lead to an article (link, redirect target, canonical link)."""

    __tablename__ = "article_url"

    url: str = Field(primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    # What the feed last said about the entry with this link
    # (pipeline.dedup.fingerprints.entry_fingerprint);
    # a change makes the pipeline fetch the page again to look for a revision.
    entry_fingerprint: str | None = None


class ArticleRevision(SQLModel, table=True):
    """An earlier text of an article, kept when a changed text at its URL replaced it."""

    __tablename__ = "article_revision"
    __table_args__ = (UniqueConstraint("article_id", "revision", name="uq_article_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id")
    revision: int  # 1 is the first-seen text
    title: str
    text: str = Field(sa_type=Text)
    text_source: str
    content_hash: str
    stored_at: datetime = _utc()  # when this text was stored
    replaced_at: datetime = _utc()  # when the next revision replaced it


class DedupSignature(SQLModel, table=True):
    """The MinHash signature of an article's text (pipeline.dedup.fingerprints), to confirm LSH
    candidates.
    Short texts (below dedup.min_words) have none: they match by exact hash and title only."""

    __tablename__ = "dedup_signature"

    article_id: int = Field(foreign_key="article.id", primary_key=True)
    signature: bytes = Field(sa_type=LargeBinary)  # 128 little-endian 32-bit values


class DedupBand(SQLModel, table=True):
    """The LSH index: one row per band key of an article's signature. Articles sharing a key
    are near-duplicate candidates; the primary key (key, article_id) is the lookup index."""

    __tablename__ = "dedup_band"

    key: int = Field(sa_type=BigInteger, primary_key=True)
    article_id: int = Field(foreign_key="article.id", primary_key=True, index=True)


class Entity(SQLModel, table=True):
    """A watchlist item (synced from the watchlist file)."""

    __tablename__ = "entity"

    id: str = Field(primary_key=True)
    name: str
    kind: str
    country: str | None = None
    programs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = ""
    updated_at: datetime = _utc()
    # The desk's entity pages and the FtM export show these (issue 20, migration 0005).
    identifiers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    addresses: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class Flag(SQLModel, table=True):
    """One flag per (story, entity): the unit analysts review."""

    __tablename__ = "flag"
    __table_args__ = (
        UniqueConstraint("story_id", "entity_id", name="uq_flag_story_entity"),
        Index("ix_flag_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id")
    entity_id: str = Field(foreign_key="entity.id", index=True)
    article_id: int = Field(foreign_key="article.id", index=True)  # the copy that matched
    matched: str
    snippet: str = Field(sa_type=Text)
    mentions: int
    score: float = 1.0
    rule: str = ""
    why: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    offsets: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="new")  # new | relevant | dismissed
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = _utc(default=None)
    created_at: datetime = _utc()


class FlagReview(SQLModel, table=True):
    """Audit trail: every status change of a flag."""

    __tablename__ = "flag_review"

    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True)
    from_status: str
    to_status: str
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime = _utc()


class HostState(SQLModel, table=True):
    """Politeness shared by every feed and worker on one host: a host that answered 429/503
    is slowed as a whole until `throttled_until`."""

    __tablename__ = "host_state"

    host: str = Field(primary_key=True)
    throttled_until: datetime | None = _utc(default=None)
    consecutive_throttles: int = 0
    last_status: int | None = None
    updated_at: datetime = _utc()


class ArchivedPage(SQLModel, table=True):
    """A fetched article page kept raw (compressed, content-addressed under `archive.path`) with
    its headers and the feed entry that led to it, so `pipeline reprocess` needs no network."""

    __tablename__ = "archived_page"
    __table_args__ = (
        UniqueConstraint("url", "sha256", name="uq_archived_page_url_sha256"),
        Index("ix_archived_page_fetched_at", "fetched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    article_id: int | None = Field(default=None, foreign_key="article.id", index=True)
    url: str  # the entry link as the feed gave it
    final_url: str
    sha256: str = Field(index=True)  # of the raw body: its file name in the archive
    size: int  # raw bytes
    http_status: int
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entry: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fetched_at: datetime = _utc()


class AppUser(SQLModel, table=True):
    """A person who signs in to `pipeline serve` (`pipeline users add NAME`)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    password_hash: str  # argon2
    role: str = Field(default="reviewer")  # reviewer (may decide) | observer (read only)
    api_token_hash: str | None = Field(default=None, unique=True)  # sha256 of the API token
    disabled: bool = False
    created_at: datetime = _utc()


class AlertChannel(SQLModel, table=True):
    """An alert channel from feeds.yaml `alerts:`; flags older than the channel are not sent."""

    __tablename__ = "alert_channel"

    name: str = Field(primary_key=True)
    kind: str  # webhook | email
    created_at: datetime = _utc()


class AlertDelivery(SQLModel, table=True):
    """One flag on one channel: delivered at least once, retried with backoff, survives restarts."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("flag_id", "channel", name="uq_alert_delivery_flag_channel"),
        Index("ix_alert_delivery_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id")
    channel: str = Field(foreign_key="alert_channel.name")
    status: str = Field(default="pending")  # pending | sent | failed (gave up)
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    last_error: str | None = None
    last_http_status: int | None = None
    sent_at: datetime | None = _utc(default=None)
    created_at: datetime = _utc()


# ---- Possible mentions (issue 17): candidates and their audit trail ----------------------------

CANDIDATE_STATUSES = ("new", "promoted", "dismissed")


class Candidate(SQLModel, table=True):
    """One possible mention per (story, entity): an occurrence the matching rules did not
    accept, kept for an analyst; never alerts. Promoting makes it a flag (rule ``analyst``)."""

    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("story_id", "entity_id", name="uq_candidate_story_entity"),
        Index("ix_candidate_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id")
    entity_id: str = Field(foreign_key="entity.id", index=True)
    article_id: int = Field(foreign_key="article.id", index=True)  # the copy it was found in
    matched: str  # the text as written
    snippet: str = Field(sa_type=Text)
    offsets: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str = Field(sa_type=Text)  # why the rules did not accept it, in words
    context: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    score: float
    why: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="new")  # new | promoted | dismissed
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = _utc(default=None)
    flag_id: int | None = Field(default=None, foreign_key="flag.id")  # the flag it became
    # The rule of that flag: "analyst" when a person promoted it, else the matching rule that
    # accepted it later (after a watchlist change). Only "analyst" counts as a recall gap.
    promoted_rule: str | None = None
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class CandidateReview(SQLModel, table=True):
    """Audit trail: every status change of a candidate (by a person or by the rules)."""

    __tablename__ = "candidate_review"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    from_status: str
    to_status: str
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime = _utc()


# ---- desk: sign-in throttling and its audit (issue 20, migration 0005) -------------------------

SIGN_IN_OUTCOMES = ("ok", "failed", "throttled")


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins in a row for one account or one client address (`key` is
    "account:NAME" or "address:IP"); after a few, sign-in waits until `locked_until`."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True)
    failures: int = 0
    last_failure_at: datetime = _utc()
    locked_until: datetime | None = _utc(default=None)


class SignInEvent(SQLModel, table=True):
    """Audit trail of sign-in attempts: who, from where, and what the desk answered."""

    __tablename__ = "sign_in_event"
    __table_args__ = (Index("ix_sign_in_event_name_at", "name", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    name: str  # as typed (may name no user)
    address: str
    outcome: str  # ok | failed | throttled
