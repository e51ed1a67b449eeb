"""Plain typed values passed between the stages of the pipeline.

Stages are functions from these values to these values; none of them touches the database
(only ``storage/`` does) or the network (only ``pipeline/fetch/client.py`` does).
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
