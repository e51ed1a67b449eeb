"""Plain typed values passed between the stages of the pipeline.

Stages are functions from these values to these values; none of them touches the database
(only ``storage/`` does) or the network (only ``pipeline/fetch/`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TextSource = Literal["page", "feed"]


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """What one GET produced, after redirects."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200, or 304 for a conditional GET that found nothing new
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decoded from gzip/deflate/br; empty on 304
    elapsed: float  # seconds, whole request including redirects

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed. ``link`` is absolute (resolved against the feed URL) or None."""

    link: str | None
    guid: str | None
    title: str
    published: datetime | None  # timezone-aware UTC
    summary: str  # plain text (HTML stripped)
    content: str  # plain text of the full content when the feed carries it, else ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    warning: str | None = None  # e.g. feedparser's bozo reason when entries were still read
    # Seconds between updates the document announces (RSS <ttl>, sy:updatePeriod/Frequency):
    # a floor of the feed's adaptive interval (pipeline.core.intervals).
    update_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """Main content of an HTML page."""

    title: str | None
    text: str
    author: str | None
    published: datetime | None  # timezone-aware UTC; dates in the future are dropped
    language: str | None
    canonical_url: str | None  # <link rel=canonical> or og:url, absolute
    extractor: str  # e.g. "trafilatura"
    extractor_version: str


@dataclass(frozen=True, slots=True)
class Mention:
    """One occurrence of a watchlist alias in a document (title + "\\n\\n" + text)."""

    start: int
    end: int
    matched: str  # the text as it appeared
    alias: str  # the watchlist alias it matched


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """Everything one document says about one watchlist entity: the basis of a flag."""

    entity_id: str
    entity_name: str
    matched: str  # text of the first accepted mention, as it appeared
    snippet: str  # context around the first mention (>= 40 characters where the text allows)
    mentions: list[Mention]
    score: float = 1.0  # 0..1
    rule: str = "strong-alias"  # which rule allowed the flag
    why: dict[str, object] = field(default_factory=dict)  # alias, strength, context words ...

    @property
    def count(self) -> int:
        return len(self.mentions)


@dataclass(frozen=True, slots=True)
class CandidateMatch:
    """A possible mention the rules did not accept (one per document and entity): kept for an
    analyst to promote or dismiss, never alerting. Offsets are into title + "\\n\\n" + text."""

    entity_id: str
    entity_name: str
    matched: str  # the text as it appeared
    snippet: str  # context around it, the mention wrapped in « »
    start: int
    end: int
    reason: str  # why it fell short, in words
    context: list[str]  # the corroborating words it did have
    score: float  # 0..1, always below the lowest flag score
    why: dict[str, object] = field(default_factory=dict)  # alias, class, negative terms ...
    offsets: list[tuple[int, int]] = field(default_factory=list)  # every occurrence


@dataclass(frozen=True, slots=True)
class TextFingerprint:
    """What duplicate detection needs of an article's text (computed by pipeline.dedup,
    stored and compared by storage)."""

    title_key: str  # the title's normalised words (pipeline.core.textkeys.title_key)
    word_count: int
    signature: tuple[int, ...] | None  # MinHash; None for short texts (exact hash + title only)
    band_keys: list[int]  # the signature's LSH band keys ([] for short texts)


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """An article ready to be stored with its matches, in one transaction."""

    feed_id: int
    url: str  # the entry link as given by the feed
    canonical_url: str
    final_url: str | None
    known_urls: list[str]  # every canonical URL variant that identifies this article
    guid: str | None
    title: str
    author: str | None
    published_at: datetime | None
    language: str | None
    text: str
    text_source: TextSource
    content_hash: str
    extractor: str
    extractor_version: str
    matches: list[EntityMatch]
    fingerprint: TextFingerprint  # of title and text, for exact and near duplicates
    candidates: list[CandidateMatch] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """A watchlist entity as the entity table keeps it (flags name it)."""

    id: str
    name: str
    kind: str
    country: str | None
    programs: list[str]
    aliases: list[str]
    source: str
    # Shown by the desk's entity pages and the FtM export (issue 20).
    identifiers: dict[str, str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedToPoll:
    """A feed a worker holds the lease of, with what its last polls left behind."""

    id: int
    name: str
    url: str
    kind: str  # feed | sitemap
    etag: str | None
    last_modified: str | None
    interval_seconds: float
    consecutive_failures: int
    interval_pinned: bool = False  # feeds.yaml gives an explicit interval: no adaptation
    body_hash: str | None = None  # of the last fully processed 200 body
    interval_floor_seconds: float | None = None  # the publisher's floor seen last
    lease_generation: int = 0  # the fencing token of this claim (storage.models.Feed)


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll of one feed did; written to the feed row and to fetch_attempt."""

    feed_id: int
    worker: str
    started_at: datetime
    duration_seconds: float
    outcome: Literal["ok", "not_modified", "unchanged", "error", "interrupted"]
    next_poll_at: datetime
    status: str  # the feed's status after this poll
    consecutive_failures: int
    http_status: int | None = None
    bytes: int = 0
    entries: int = 0
    new_entries: int = 0
    duplicates: int = 0
    flagged: int = 0
    errors: int = 0
    error: str | None = None
    etag: str | None = None  # validators to store (only after a 200)
    last_modified: str | None = None
    body_hash: str | None = None  # to store after a 200 (None: the body must be parsed again)
    final_url: str | None = None  # where the feed URL redirected to (None: not fetched)
    interval_seconds: float | None = None  # the feed's interval from now on (None: unchanged)
    interval_floor_seconds: float | None = None  # the publisher's floor seen in this poll
    lease_generation: int | None = None  # the claim it was polled under (None: not fenced)


@dataclass(frozen=True, slots=True)
class FeedDuplicate:
    """A feed found to be another one (same address, or redirected there): only the
    original is polled from now on."""

    feed: str
    original: str
    address: str


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """A stored link, and what its feed entry said when last seen (None: not yet recorded)."""

    url: str
    article_id: int
    entry_fingerprint: str | None


@dataclass(slots=True)
class HostThrottle:
    """A host that answered 429/503, left alone until `until`."""

    host: str
    until: datetime
    count: int  # throttles in a row
    status: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on a feed: every write of its poll checks it still holds."""

    feed_id: int
    owner: str
    generation: int
