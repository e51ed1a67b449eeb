"""Plain values only the repository's callers see (ORM objects never leave it). Values that
stages pass to storage (FeedToPoll, PollRecord, KnownEntry, EntityRecord, ...) are in
pipeline.core.records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    status: Literal["stored", "duplicate", "known"]
    article_id: int
    story_id: int
    new_flags: int


@dataclass(frozen=True, slots=True)
class RevisionOutcome:
    """What a changed text at a stored article's URL did: `revised` (a new revision),
    `unchanged` (same text and title), or `kept` (a feed summary never replaces page text)."""

    status: Literal["revised", "unchanged", "kept"]
    article_id: int
    story_id: int
    revision: int
    new_flags: int


@dataclass(frozen=True, slots=True)
class StoredText:
    id: int
    story_id: int
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class ArchivedPageRecord:
    """A fetched page body kept in the archive (pipeline.archive.store): where it came from, its
    response headers and the feed entry that led to it (JSON-able values)."""

    feed_id: int
    article_id: int | None  # None only while its article is not stored
    url: str
    final_url: str
    sha256: str
    size: int
    http_status: int
    headers: dict[str, str]
    entry: dict[str, Any]
    fetched_at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A pending alert delivery claimed for sending (its lease is `next_attempt_at`)."""

    id: int
    flag_id: int
    channel: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Database-wide figures for /metrics (pipeline.ops.metrics)."""

    polls_by_outcome: dict[str, int]
    errors_by_kind: dict[str, int]
    feeds_by_status: dict[str, int]
    articles: int
    duplicates: int
    flags_by_status: dict[str, int]
    feed_lag_seconds: dict[str, float]  # per polled feed: now - last success (or creation)
    deliveries: dict[tuple[str, str], int]  # (channel, status) -> rows


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The review queue's filters and page (`pipeline serve`)."""

    status: str | None = None
    entity: str | None = None  # entity id, or part of its name
    feed: str | None = None
    since: datetime | None = None  # first seen at or after
    until: datetime | None = None  # first seen before
    search: str | None = None  # part of the title or the snippet
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[dict[str, Any]]
    has_more: bool
    counts: dict[str, int]  # flags per status under the same filters


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A desk user; password_hash never leaves the process (argon2)."""

    id: int
    name: str
    role: str  # reviewer | observer
    password_hash: str
    has_api_token: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """A feed leased by a worker (pipeline.poll.leases) until `until`."""

    feed_id: int
    feed: str
    owner: str
    until: datetime
