"""Every query the application needs, named for what it does.

Each public method is one short transaction. Values going in and out are plain (dataclasses,
dicts); ORM objects never leave this module. Races between workers end in one row thanks to
the unique constraints of ``storage.models``: the loser re-reads and moves on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col

from pipeline.core.clock import as_utc
from pipeline.core.config import DedupSettings, FeedConfig
from pipeline.core.errors import NotFoundError, StorageError
from pipeline.core.records import ArticleDraft, EntityMatch
from pipeline.core.urls import feed_address_key
from pipeline.dedup.fingerprints import (
    TextFingerprint,
    estimated_jaccard,
    signature_from_bytes,
    signature_to_bytes,
    text_fingerprint,
    title_key,
)
from pipeline.fetch.politeness import HostThrottle, host_of
from pipeline.match.watchlist import Watchlist
from storage.db import Database
from storage.models import (
    FLAG_STATUSES,
    AlertChannel,
    AlertDelivery,
    AppUser,
    ArchivedPage,
    Article,
    ArticleRevision,
    ArticleUrl,
    DedupBand,
    DedupSignature,
    Entity,
    Feed,
    FetchAttempt,
    Flag,
    FlagReview,
    HostState,
    Story,
)
from storage.types import UTCDateTime
from storage.views import api_articles, api_flags

log = logging.getLogger("storage.repository")

POLLABLE_STATUSES = ("ok", "failing")
EXACT_CANDIDATES = 100  # articles with one content hash looked at for a short text's title
NEAR_CANDIDATES = 100  # LSH candidates confirmed per article, those sharing most bands first


@dataclass(frozen=True, slots=True)
class FeedToPoll:
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
class KnownEntry:
    """A stored link, and what its feed entry said when last seen (None: not yet recorded)."""

    url: str
    article_id: int
    entry_fingerprint: str | None


@dataclass(frozen=True, slots=True)
class _StoryRef:
    story_id: int
    first_article_id: int | None


@dataclass(frozen=True, slots=True)
class StoredText:
    id: int
    story_id: int
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class EntityRecord:
    id: str
    name: str
    kind: str
    country: str | None
    programs: list[str]
    aliases: list[str]
    source: str


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


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite has one writer and every transaction here begins IMMEDIATE: threads of this
        # process queue on a lock instead of in SQLite's busy handler, which sleeps up to
        # 100 ms between retries and let a few writer threads stall a whole poll round.
        self._sqlite_lock = threading.RLock() if db.is_sqlite else None

    # ---- feeds -------------------------------------------------------------------------------

    def sync_feeds(
        self,
        feeds: Sequence[FeedConfig],
        default_interval: float,
        now: datetime,
        *,
        min_interval: float = 0.0,
        max_interval: float = float("inf"),
    ) -> list[tuple[str, str]]:
        """Make the feed table match feeds.yaml: add new feeds, update changed ones, and mark
        feeds no longer configured as `removed` (their articles stay).

        An unpinned feed keeps its adaptive interval; it starts again from `default_interval`
        only when it is new, loses its pin or lies outside [min_interval, max_interval]. A feed
        whose URL is another configured feed's (http/https, www or not, or where an earlier
        poll was redirected) is marked `duplicate` and never polled. Returns the duplicates
        found as (feed, duplicate of) names."""
        configured = {feed.name: feed for feed in feeds}
        with self._session() as session:
            rows = {row.name: row for row in session.execute(select(Feed)).scalars()}
            for name, feed in configured.items():
                pinned = feed.interval is not None
                interval = feed.interval if feed.interval is not None else default_interval
                url = str(feed.url)
                row = rows.get(name)
                if row is None:
                    session.execute(
                        _insert(session, Feed)
                        .values(
                            name=name,
                            url=url,
                            kind=feed.kind,
                            tags=list(feed.tags),
                            status="ok",
                            interval_seconds=interval,
                            interval_pinned=pinned,
                            next_poll_at=now,
                            consecutive_failures=0,
                            created_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                    continue
                if row.url != url:  # a new address: old validators mean nothing there
                    row.url, row.etag, row.last_modified = url, None, None
                    row.body_hash, row.final_url = None, None
                    row.next_poll_at = now
                row.tags = list(feed.tags)
                row.kind = feed.kind
                adaptive = min_interval <= row.interval_seconds <= max_interval
                if pinned or row.interval_pinned or not adaptive:
                    row.interval_seconds = interval
                row.interval_pinned = pinned
                if row.status == "removed":
                    row.status, row.next_poll_at = "ok", now
            for name, row in rows.items():
                if name not in configured and row.status != "removed":
                    row.status = "removed"
            session.flush()
            return _mark_configured_duplicates(session, [*configured], now)

    def claim_feeds(
        self, *, now: datetime, owner: str, lease_until: datetime, due_only: bool, limit: int
    ) -> list[FeedToPoll]:
        """Take a lease on up to `limit` pollable feeds (due ones only if `due_only`).

        The conditional UPDATE is atomic on both engines, so two workers never hold one feed;
        an expired lease (a crashed worker) is simply taken over. A feed whose host is
        throttled (host_state, after a 429/503) is not polled: its next poll moves to the end
        of the throttle and its lease is let go at once.
        """
        lease_free = or_(col(Feed.lease_expires_at).is_(None), col(Feed.lease_expires_at) < now)
        claimable = [col(Feed.status).in_(POLLABLE_STATUSES), lease_free]
        if due_only:
            claimable.append(col(Feed.next_poll_at) <= now)
        query = select(col(Feed.id)).where(*claimable)
        query = query.order_by(col(Feed.next_poll_at)).limit(limit)
        claimed: dict[int, FeedToPoll] = {}
        with self._session() as session:
            ids = list(session.execute(query).scalars().all())
            throttled = _throttled_hosts(session, now) if ids else {}
            for start in range(0, len(ids), 500):  # one UPDATE per chunk, not per feed
                chunk = ids[start : start + 500]
                # The UPDATE re-checks everything the SELECT saw: on PostgreSQL another worker
                # may have claimed, polled and released a feed in between (it is not due now).
                session.execute(
                    update(Feed)
                    .where(col(Feed.id).in_(chunk), *claimable)
                    .values(lease_owner=owner, lease_expires_at=lease_until)
                    .execution_options(synchronize_session=False)
                )
                won = select(Feed).where(
                    col(Feed.id).in_(chunk),
                    col(Feed.lease_owner) == owner,
                    col(Feed.lease_expires_at) == lease_until,
                )
                for row in session.execute(won.execution_options(populate_existing=True)).scalars():
                    until = throttled.get(host_of(row.url))
                    if until is not None:
                        row.next_poll_at = max(as_utc(row.next_poll_at), until)
                        row.lease_owner, row.lease_expires_at = None, None
                        continue
                    claimed[row.id or 0] = _feed_to_poll(row)
        return [claimed[feed_id] for feed_id in ids if feed_id in claimed]

    def renew_leases(self, feed_ids: Iterable[int], owner: str, lease_until: datetime) -> None:
        """Extend the leases `owner` still holds: a live worker's long poll is never taken
        over; a dead worker stops renewing and its leases expire."""
        self._update_own_leases(feed_ids, owner, lease_expires_at=lease_until)

    def release_feeds(self, feed_ids: Iterable[int], owner: str) -> None:
        self._update_own_leases(feed_ids, owner, lease_owner=None, lease_expires_at=None)

    def _update_own_leases(self, feed_ids: Iterable[int], owner: str, **values: Any) -> None:
        ids = list(feed_ids)
        if not ids:
            return
        with self._session() as session:
            session.execute(
                update(Feed)
                .where(col(Feed.id).in_(ids), col(Feed.lease_owner) == owner)
                .values(**values)
            )

    def record_poll(self, record: PollRecord) -> None:
        self.record_polls([record])

    def record_polls(self, records: Sequence[PollRecord]) -> None:
        """Write each poll's outcome to its feed (health, validators, body hash, interval, next
        poll) and the history, and release the lease, all in one transaction (a round of
        2,000 304s is 2,000 polls: one commit each would cost more than the polls). A feed that
        turns out to redirect to another active feed's address becomes the `duplicate` of the
        earlier one."""
        if not records:
            return
        feed_table = SQLModel.metadata.tables[Feed.__tablename__]
        with self._session() as session:
            ids = sorted({record.feed_id for record in records})
            columns = (feed_table.c.id, feed_table.c.status, feed_table.c.final_url,
                       feed_table.c.lease_owner)  # fmt: skip
            current = {
                row.id: row for row in session.execute(select(*columns).where(columns[0].in_(ids)))
            }
            changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            redirected: list[int] = []
            for record in records:
                row = current[record.feed_id]
                values = _poll_changes(record, row.status, row.final_url, row.lease_owner)
                changes.setdefault(tuple(sorted(values)), []).append({**values, "_id": row.id})
                if "final_url" in values and values.get("status", row.status) in POLLABLE_STATUSES:
                    redirected.append(row.id)
            # Core executemany per set of changed columns: the ORM's bookkeeping would cost
            # more than the rest of a 304 poll.
            for keys, rows in changes.items():
                statement = (
                    update(feed_table)
                    .where(feed_table.c.id == bindparam("_id"))
                    .values({key: bindparam(key) for key in keys})
                )
                session.execute(statement, rows)
            session.execute(
                insert(FetchAttempt), [_fetch_attempt_row(record) for record in records]
            )
            for feed_id in redirected:
                _mark_redirect_duplicate(session, session.get_one(Feed, feed_id))

    def list_feeds(self) -> list[dict[str, Any]]:
        articles = (
            select(col(Article.feed_id), func.count().label("n"))
            .group_by(col(Article.feed_id))
            .subquery()
        )
        flags = (
            select(col(Article.feed_id), func.count().label("n"))
            .join(Flag, col(Flag.article_id) == col(Article.id))
            .group_by(col(Article.feed_id))
            .subquery()
        )
        original = aliased(Feed)
        query = (
            select(Feed, articles.c.n, flags.c.n, col(original.name))
            .outerjoin(articles, articles.c.feed_id == col(Feed.id))
            .outerjoin(flags, flags.c.feed_id == col(Feed.id))
            .outerjoin(original, col(original.id) == col(Feed.duplicate_of))
            .order_by(col(Feed.name))
        )
        with self._session() as session:
            return [
                {
                    "name": feed.name,
                    "url": feed.url,
                    "kind": feed.kind,
                    "status": feed.status,
                    "duplicate_of": duplicate_of,
                    "final_url": feed.final_url,
                    "tags": feed.tags,
                    "interval_seconds": feed.interval_seconds,
                    "interval_pinned": feed.interval_pinned,
                    "interval_floor_seconds": feed.interval_floor_seconds,
                    "last_attempt_at": feed.last_attempt_at,
                    "last_success_at": feed.last_success_at,
                    "last_new_item_at": feed.last_new_item_at,
                    "last_error": feed.last_error,
                    "last_error_at": feed.last_error_at,
                    "consecutive_failures": feed.consecutive_failures,
                    "next_poll_at": feed.next_poll_at,
                    "created_at": feed.created_at,
                    "articles": n_articles or 0,
                    "flags": n_flags or 0,
                }
                for feed, n_articles, n_flags, duplicate_of in session.execute(query).all()
            ]

    def stale_feeds(self, before: datetime) -> list[dict[str, Any]]:
        """Feeds (not removed, not duplicates) with no success or no new item since `before`;
        "never" counts from when the feed was added (a feed added an hour ago is not stale
        for a day yet). Rows as `list_feeds`."""
        cutoff = as_utc(before)

        def stale(value: datetime | None, feed: dict[str, Any]) -> bool:
            return as_utc(value or feed["created_at"]) < cutoff

        return [
            feed
            for feed in self.list_feeds()
            if feed["status"] not in ("removed", "duplicate")
            and (stale(feed["last_success_at"], feed) or stale(feed["last_new_item_at"], feed))
        ]

    # ---- host politeness ---------------------------------------------------------------------

    def throttle_hosts(self, throttles: Iterable[HostThrottle], now: datetime) -> None:
        """Remember hosts that answered 429/503 until when they are left alone (a later end
        already stored wins: another worker may have seen a longer Retry-After)."""
        with self._session() as session:
            for throttle in throttles:
                upsert = _insert(session, HostState).values(
                    host=throttle.host,
                    throttled_until=throttle.until,
                    consecutive_throttles=throttle.count,
                    last_status=throttle.status,
                    updated_at=now,
                )
                stored, offered = col(HostState.throttled_until), upsert.excluded.throttled_until
                session.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["host"],
                        set_={
                            "throttled_until": case((stored > offered, stored), else_=offered),
                            "consecutive_throttles": upsert.excluded.consecutive_throttles,
                            "last_status": upsert.excluded.last_status,
                            "updated_at": upsert.excluded.updated_at,
                        },
                    )
                )

    def host_throttles(self, now: datetime) -> dict[str, datetime]:
        """Hosts throttled beyond `now`, with the end of their throttle."""
        with self._session() as session:
            return _throttled_hosts(session, now)

    # ---- articles ----------------------------------------------------------------------------

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of these canonical URLs that already lead to a stored article."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self._session() as session:
            for start in range(0, len(wanted), 500):  # stay under bind-parameter limits
                chunk = wanted[start : start + 500]
                query = select(col(ArticleUrl.url)).where(col(ArticleUrl.url).in_(chunk))
                found.update(session.execute(query).scalars().all())
        return found

    def add_url_aliases(self, article_url: str, aliases: Iterable[str]) -> None:
        """Record more URLs (e.g. a tracking-link variant) for the article behind `article_url`."""
        with self._session() as session:
            article_id = session.execute(
                select(col(ArticleUrl.article_id)).where(col(ArticleUrl.url) == article_url)
            ).scalar_one_or_none()
            if article_id is not None:
                _insert_aliases(session, article_id, aliases)

    def known_entries(self, urls: Iterable[str]) -> dict[str, KnownEntry]:
        """The stored links among these canonical URLs, with their entry fingerprints."""
        wanted = list(dict.fromkeys(urls))
        found: dict[str, KnownEntry] = {}
        with self._session() as session:
            for start in range(0, len(wanted), 500):  # stay under bind-parameter limits
                query = select(
                    col(ArticleUrl.url),
                    col(ArticleUrl.article_id),
                    col(ArticleUrl.entry_fingerprint),
                ).where(col(ArticleUrl.url).in_(wanted[start : start + 500]))
                for url, article_id, fingerprint in session.execute(query).all():
                    found[url] = KnownEntry(url, article_id, fingerprint)
        return found

    def remember_entries(self, entries: Iterable[KnownEntry]) -> None:
        """Record what the feed says about these links now (the baseline for revisions)."""
        with self._session() as session:
            for entry in entries:
                _remember_entry(session, entry.url, entry.article_id, entry.entry_fingerprint)

    def store_article(
        self,
        draft: ArticleDraft,
        now: datetime,
        *,
        dedup: DedupSettings | None = None,
        entry_fingerprint: str | None = None,
    ) -> StoreOutcome:
        """Store the article, its URLs, its story and its flags in one transaction.

        Its story: the article behind a known URL ("known"), else the story of an exact copy
        (same content hash; a short text also needs the same title), else of a near copy
        (LSH candidates confirmed by estimated Jaccard >= dedup.threshold), else a new one.
        """
        settings = dedup or DedupSettings()
        fingerprint = text_fingerprint(draft.title, draft.text, min_words=settings.min_words)
        try:
            with self._session() as session:
                return _store_article(
                    session, draft, now, fingerprint, settings.threshold, entry_fingerprint
                )
        except IntegrityError:
            # Another worker stored the same article first: its row wins, we re-read it.
            with self._session() as session:
                known = _article_by_urls(session, draft.known_urls)
                if known is None:
                    raise
                return StoreOutcome("known", known.id or 0, known.story_id, 0)

    def find_story(
        self, content_hash: str, fingerprint: TextFingerprint, threshold: float
    ) -> int | None:
        """The story an article with this text would join (an exact or near copy), or None:
        the read-only half of `store_article`, which the dedup benchmark times."""
        with self._session() as session:
            original = _exact_copy(session, content_hash, fingerprint) or _near_copy(
                session, fingerprint, threshold
            )
        return original.story_id if original is not None else None

    def store_revision(
        self,
        article_id: int,
        draft: ArticleDraft,
        now: datetime,
        *,
        dedup: DedupSettings | None = None,
        entry_fingerprint: str | None = None,
    ) -> RevisionOutcome:
        """The page of a stored article, fetched again because its feed entry changed.

        A changed title or text becomes the article's next revision (the previous one is kept
        in article_revision), is re-indexed for near-duplicates, and raises flags for the
        entities it names that the story has no flag for yet; existing flags are never
        touched. The article stays in its story.
        """
        settings = dedup or DedupSettings()
        fingerprint = text_fingerprint(draft.title, draft.text, min_words=settings.min_words)
        with self._session() as session:
            return _store_revision(session, article_id, draft, now, fingerprint, entry_fingerprint)

    def list_articles(
        self, since: datetime | None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        query = select(api_articles).order_by(api_articles.c.id)
        if since is not None:
            query = query.where(api_articles.c.fetched_at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return [dict(row._mapping) for row in session.execute(query)]

    def count_articles(self, since: datetime | None) -> int:
        query = select(func.count()).select_from(Article)
        if since is not None:
            query = query.where(col(Article.fetched_at) >= since)
        with self._session() as session:
            return int(session.execute(query).scalar_one())

    def articles_batch(
        self, *, since: datetime | None, after_id: int, limit: int
    ) -> list[StoredText]:
        """Articles in id order after `after_id`: keyset pagination, constant memory."""
        query = (
            select(col(Article.id), col(Article.story_id), col(Article.title), col(Article.text))
            .where(col(Article.id) > after_id)
            .order_by(col(Article.id))
            .limit(limit)
        )
        if since is not None:
            query = query.where(col(Article.fetched_at) >= since)
        with self._session() as session:
            return [StoredText(*row) for row in session.execute(query).all()]

    def add_flags(
        self, article_id: int, story_id: int, matches: Sequence[EntityMatch], now: datetime
    ) -> int:
        """Flags for (story, entity) pairs the story does not have yet; the number added."""
        with self._session() as session:
            return sum(_insert_flag(session, story_id, article_id, match, now) for match in matches)

    # ---- entities and flags ------------------------------------------------------------------

    def sync_watchlist(self, watchlist: Watchlist, now: datetime) -> None:
        """Make the entity table hold the watchlist's items (old ones stay: flags name them)."""
        self.sync_entities(
            (
                EntityRecord(
                    id=entity.id,
                    name=entity.name,
                    kind=entity.kind,
                    country=entity.country,
                    programs=list(entity.programs),
                    aliases=[*entity.strong_aliases, *entity.weak_aliases],
                    source=entity.source,
                )
                for entity in watchlist.entities
            ),
            now,
        )

    def sync_entities(self, entities: Iterable[EntityRecord], now: datetime) -> None:
        with self._session() as session:
            for entity in entities:
                values = {
                    "name": entity.name,
                    "kind": entity.kind,
                    "country": entity.country,
                    "programs": entity.programs,
                    "aliases": entity.aliases,
                    "source": entity.source,
                    "updated_at": now,
                }
                statement = _insert(session, Entity).values(id=entity.id, **values)
                session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))

    def list_flags(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        feed: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        query: Select[Any] = select(api_flags)
        if status is not None:
            query = query.where(api_flags.c.status == status)
        if entity:
            pattern = f"%{entity.lower()}%"
            query = query.where(
                or_(
                    func.lower(api_flags.c.entity).like(pattern),
                    func.lower(api_flags.c.entity_id) == entity.lower(),
                )
            )
        if feed:
            query = query.where(api_flags.c.feed == feed)
        if since is not None:
            query = query.where(api_flags.c.first_seen_at >= since)
        query = query.order_by(api_flags.c.first_seen_at.desc(), api_flags.c.id.desc())
        with self._session() as session:
            return _flag_rows_with_duplicates(session, query)

    def flag_detail(self, flag_id: int) -> dict[str, Any]:
        with self._session() as session:
            row = session.execute(select(api_flags).where(api_flags.c.id == flag_id)).first()
            if row is None:
                raise NotFoundError(f"no flag with id {flag_id}")
            detail = dict(row._mapping)
            flag = session.get_one(Flag, flag_id)
            article = session.get_one(Article, flag.article_id)
            detail["duplicates"] = [
                url
                for url in _story_urls(session, [flag.story_id]).get(flag.story_id, [])
                if url != detail["url"]
            ]
            detail["why"] = flag.why
            detail["offsets"] = flag.offsets
            detail["document"] = _document(article.title, article.text)
            detail["history"] = [
                {
                    "from_status": review.from_status,
                    "to_status": review.to_status,
                    "note": review.note,
                    "reviewed_by": review.reviewed_by,
                    "reviewed_at": review.reviewed_at,
                }
                for review in session.execute(
                    select(FlagReview)
                    .where(col(FlagReview.flag_id) == flag_id)
                    .order_by(col(FlagReview.id))
                ).scalars()
            ]
        return detail

    def review_flag(
        self, flag_id: int, *, status: str, note: str | None, by: str | None, now: datetime
    ) -> None:
        with self._session() as session:
            # Locked: two reviewers deciding at once each record the status they really changed.
            flag = session.get(Flag, flag_id, with_for_update=True)
            if flag is None:
                raise NotFoundError(f"no flag with id {flag_id}")
            session.add(
                FlagReview(
                    flag_id=flag_id,
                    from_status=flag.status,
                    to_status=status,
                    note=note,
                    reviewed_by=by,
                    reviewed_at=now,
                )
            )
            flag.status, flag.note, flag.reviewed_by, flag.reviewed_at = status, note, by, now

    def stats(self) -> dict[str, Any]:
        with self._session() as session:
            feeds = dict(
                session.execute(
                    select(col(Feed.status), func.count()).group_by(col(Feed.status))
                ).all()
            )
            flags = dict(
                session.execute(
                    select(col(Flag.status), func.count()).group_by(col(Flag.status))
                ).all()
            )
            articles = session.execute(select(func.count()).select_from(Article)).scalar_one()
            duplicates = session.execute(
                select(func.count())
                .select_from(Article)
                .where(col(Article.duplicate_of).is_not(None))
            ).scalar_one()
            stories = session.execute(select(func.count()).select_from(Story)).scalar_one()
        return {
            "feeds": sum(feeds.values()),
            "feeds_by_status": feeds,
            "articles": articles,
            "duplicates": duplicates,
            "stories": stories,
            "flags": sum(flags.values()),
            "flags_by_status": {
                status: flags.get(status, 0) for status in ("new", "relevant", "dismissed")
            },
        }

    # ---- raw archive -------------------------------------------------------------------------

    def record_archived_page(self, page: ArchivedPageRecord) -> None:
        """Remember what an archived body was; the same body at the same URL is one row."""
        values = {
            "feed_id": page.feed_id,
            "article_id": page.article_id,
            "url": page.url,
            "final_url": page.final_url,
            "sha256": page.sha256,
            "size": page.size,
            "http_status": page.http_status,
            "headers": dict(page.headers),
            "entry": dict(page.entry),
            "fetched_at": page.fetched_at,
        }
        try:
            with self._session() as session:
                session.execute(
                    _insert(session, ArchivedPage)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["url", "sha256"])
                )
        except IntegrityError as exc:  # e.g. its feed or article is gone: not worth a poll
            raise StorageError(f"archived page not recorded: {exc}") from exc

    def count_archived_pages(self, since: datetime | None) -> int:
        """Articles `archived_pages_batch` will return: one (the latest page) per article."""
        query = select(func.count()).select_from(ArchivedPage).where(_latest_archived_page())
        if since is not None:
            query = query.where(col(ArchivedPage.fetched_at) >= since)
        with self._session() as session:
            return int(session.execute(query).scalar_one())

    def archived_pages_batch(
        self, *, since: datetime | None, after_id: int, limit: int
    ) -> list[ArchivedPageRecord]:
        """The latest archived page of each article, in id order after `after_id` (keyset
        pagination: constant memory, and an older page never overwrites a newer revision)."""
        query = (
            select(ArchivedPage)
            .where(col(ArchivedPage.id) > after_id, _latest_archived_page())
            .order_by(col(ArchivedPage.id))
            .limit(limit)
        )
        if since is not None:
            query = query.where(col(ArchivedPage.fetched_at) >= since)
        with self._session() as session:
            return [_archived_page_record(row) for row in session.execute(query).scalars()]

    def stored_text(self, article_id: int) -> StoredText:
        with self._session() as session:
            article = session.get(Article, article_id)
            if article is None:
                raise NotFoundError(f"no article with id {article_id}")
            return StoredText(article_id, article.story_id, article.title, article.text)

    def prune_archived_pages(self, before: datetime) -> int:
        """Forget archived pages fetched before `before`; the number of rows deleted."""
        with self._session() as session:
            result = session.execute(
                delete(ArchivedPage).where(col(ArchivedPage.fetched_at) < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def archived_shas(self, shas: Iterable[str]) -> set[str]:
        """The subset of these body hashes that an archived_page row still names."""
        wanted = list(dict.fromkeys(shas))
        found: set[str] = set()
        with self._session() as session:
            for start in range(0, len(wanted), 500):  # stay under bind-parameter limits
                query = select(col(ArchivedPage.sha256)).where(
                    col(ArchivedPage.sha256).in_(wanted[start : start + 500])
                )
                found.update(session.execute(query).scalars().all())
        return found

    # ---- alerts ------------------------------------------------------------------------------

    def sync_alert_channels(self, channels: dict[str, str], now: datetime) -> None:
        """Record channels (name -> kind) seen for the first time: flags created before a
        channel existed are never sent on it. Removed channels keep their rows."""
        with self._session() as session:
            for name, kind in channels.items():
                session.execute(
                    _insert(session, AlertChannel)
                    .values(name=name, kind=kind, created_at=now)
                    .on_conflict_do_nothing(index_elements=["name"])
                )

    def enqueue_deliveries(self, channels: Sequence[str], now: datetime) -> int:
        """A pending delivery per channel for every flag at least as new as the channel that
        has none yet; idempotent (the unique constraint settles races). The number added."""
        added = 0
        with self._session() as session:
            for channel in channels:
                since = select(col(AlertChannel.created_at)).where(
                    col(AlertChannel.name) == channel
                )
                delivered = select(col(AlertDelivery.id)).where(
                    col(AlertDelivery.flag_id) == col(Flag.id),
                    col(AlertDelivery.channel) == channel,
                )
                flags = select(
                    col(Flag.id),
                    literal(channel),
                    literal("pending"),
                    literal(0),
                    literal(now, UTCDateTime),
                    literal(now, UTCDateTime),
                ).where(col(Flag.created_at) >= since.scalar_subquery(), ~delivered.exists())
                columns = ["flag_id", "channel", "status", "attempts", "next_attempt_at"]
                statement = (
                    _insert(session, AlertDelivery)
                    .from_select([*columns, "created_at"], flags)
                    .on_conflict_do_nothing(index_elements=["flag_id", "channel"])
                    .returning(col(AlertDelivery.id))
                )
                # RETURNING, not rowcount: drivers report INSERT ... SELECT counts differently.
                added += len(session.execute(statement).all())
        return added

    def oldest_due_delivery(self, channel: str, now: datetime) -> datetime | None:
        """When the oldest pending, due delivery of a channel was queued (digest timing)."""
        query = select(func.min(col(AlertDelivery.created_at))).where(
            *_due_deliveries(channel, now)
        )
        with self._session() as session:
            oldest: datetime | None = session.execute(query).scalar_one()
        return as_utc(oldest) if oldest is not None else None

    def claim_deliveries(
        self, channel: str, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueDelivery]:
        """Take up to `limit` due pending deliveries of a channel, oldest first, by moving
        their next attempt to `lease_until`: another worker skips them, and a dispatcher that
        dies before settling them leaves them due again when the lease ends (at least once).
        On PostgreSQL, SKIP LOCKED lets concurrent claimers take disjoint rows; SQLite
        serialises writers (BEGIN IMMEDIATE)."""
        query = (
            select(AlertDelivery)
            .where(*_due_deliveries(channel, now))
            .order_by(col(AlertDelivery.next_attempt_at), col(AlertDelivery.id))
            .limit(limit)
        )
        with self._session() as session:
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.execute(query).scalars())
            claimed = [
                DueDelivery(row.id or 0, row.flag_id, row.channel, row.attempts, row.created_at)
                for row in rows
            ]
            for row in rows:
                row.next_attempt_at = lease_until
        return claimed

    def mark_delivery(
        self,
        delivery_id: int,
        *,
        sent: bool,
        now: datetime,
        http_status: int | None,
        error: str | None,
        retry_at: datetime,
        max_attempts: int,
    ) -> str:
        """Settle one attempt: `sent`, or a failed attempt retried at `retry_at` until
        `max_attempts` (then `failed`). Returns the delivery's status."""
        with self._session() as session:
            row = session.get(AlertDelivery, delivery_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no alert delivery with id {delivery_id}")
            if row.status != "pending":  # settled meanwhile (e.g. `alerts retry`): keep it
                return str(row.status)
            row.attempts += 1
            row.last_http_status, row.last_error = http_status, error
            if sent:
                row.status, row.sent_at = "sent", now
            elif row.attempts >= max_attempts:
                row.status = "failed"
            else:
                row.next_attempt_at = retry_at
            return str(row.status)

    def alert_flags(self, flag_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The flag JSON (as `flags list --format json`) of these flags, by id."""
        ids = sorted(set(flag_ids))
        found: dict[int, dict[str, Any]] = {}
        with self._session() as session:
            for start in range(0, len(ids), 500):
                query = select(api_flags).where(api_flags.c.id.in_(ids[start : start + 500]))
                for row in session.execute(query):
                    found[row.id] = dict(row._mapping)
            duplicates = _story_urls(session, [flag["story_id"] for flag in found.values()])
        for flag in found.values():
            story_id = flag.pop("story_id")
            flag.pop("duplicates_count", None)
            flag["duplicates"] = [url for url in duplicates.get(story_id, []) if url != flag["url"]]
        return found

    def list_deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        query = select(AlertDelivery).order_by(col(AlertDelivery.id))
        if status is not None:
            query = query.where(col(AlertDelivery.status) == status)
        with self._session() as session:
            return [
                {
                    "id": row.id,
                    "flag_id": row.flag_id,
                    "channel": row.channel,
                    "status": row.status,
                    "attempts": row.attempts,
                    "next_attempt_at": row.next_attempt_at,
                    "last_http_status": row.last_http_status,
                    "last_error": row.last_error,
                    "sent_at": row.sent_at,
                    "created_at": row.created_at,
                }
                for row in session.execute(query).scalars()
            ]

    def retry_failed_deliveries(self, now: datetime, channel: str | None = None) -> int:
        """Queue deliveries that gave up again, with a fresh count of attempts."""
        statement = update(AlertDelivery).where(col(AlertDelivery.status) == "failed")
        if channel is not None:
            statement = statement.where(col(AlertDelivery.channel) == channel)
        with self._session() as session:
            result = session.execute(
                statement.values(status="pending", attempts=0, next_attempt_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        with self._session() as session:
            dialect = session.get_bind().dialect.name
            outcome = col(FetchAttempt.outcome)
            polls = session.execute(select(outcome, func.count()).group_by(outcome)).all()
            kind = _error_kind(col(FetchAttempt.error), dialect).label("kind")
            errors = session.execute(
                select(kind, func.count())
                .where(col(FetchAttempt.error).is_not(None))
                .group_by(kind)
            ).all()
            feeds = session.execute(
                select(
                    col(Feed.name),
                    col(Feed.status),
                    col(Feed.last_success_at),
                    col(Feed.created_at),
                )
            ).all()
            articles = session.execute(select(func.count()).select_from(Article)).scalar_one()
            duplicates = session.execute(
                select(func.count()).where(col(Article.duplicate_of).is_not(None))
            ).scalar_one()
            status = col(Flag.status)
            flags = dict(session.execute(select(status, func.count()).group_by(status)).all())
            channel, delivery_status = col(AlertDelivery.channel), col(AlertDelivery.status)
            deliveries = session.execute(
                select(channel, delivery_status, func.count()).group_by(channel, delivery_status)
            ).all()
        feeds_by_status: dict[str, int] = {}
        lag: dict[str, float] = {}
        for name, feed_status, last_success_at, created_at in feeds:
            feeds_by_status[feed_status] = feeds_by_status.get(feed_status, 0) + 1
            if feed_status in POLLABLE_STATUSES:
                lag[name] = max((now - (last_success_at or created_at)).total_seconds(), 0.0)
        return MetricsSnapshot(
            polls_by_outcome={name: int(count) for name, count in polls},
            errors_by_kind={name or "unknown": int(count) for name, count in errors},
            feeds_by_status=feeds_by_status,
            articles=int(articles),
            duplicates=int(duplicates),
            flags_by_status={name: int(flags.get(name, 0)) for name in FLAG_STATUSES},
            feed_lag_seconds=lag,
            deliveries={(name, state): int(count) for name, state, count in deliveries},
        )

    # ---- analysts' desk (pipeline serve) and read API ----------------------------------------

    def desk_queue(self, query: QueueQuery) -> QueuePage:
        """One page of the review queue: `new` flags first, then newest first, with the number
        of flags per status under the same filters (the status filter aside)."""
        filters = _desk_filters(query)
        rows_query = select(api_flags).where(*filters)
        if query.status is not None:
            rows_query = rows_query.where(api_flags.c.status == query.status)
        not_new = case((api_flags.c.status == "new", 0), else_=1)
        rows_query = (
            rows_query.order_by(not_new, api_flags.c.first_seen_at.desc(), api_flags.c.id.desc())
            .offset(query.offset)
            .limit(query.limit + 1)  # one more tells whether a next page exists
        )
        counts_query = (
            select(api_flags.c.status, func.count()).where(*filters).group_by(api_flags.c.status)
        )
        with self._session() as session:
            rows = [dict(row._mapping) for row in session.execute(rows_query)]
            counts = {status: int(n) for status, n in session.execute(counts_query).all()}
        return QueuePage(
            rows=rows[: query.limit],
            has_more=len(rows) > query.limit,
            counts={status: counts.get(status, 0) for status in FLAG_STATUSES},
        )

    def desk_flag(self, flag_id: int) -> dict[str, Any]:
        """`flag_detail` plus what the flag page shows: the article's full text, every address
        of every copy of the story, the entity with its aliases and source, and the previous
        and next `new` flags in queue order (for j/k)."""
        detail = self.flag_detail(flag_id)
        with self._session() as session:
            article = session.get_one(Article, detail["article_id"])
            entity = session.get_one(Entity, detail["entity_id"])
            copies = session.execute(
                select(
                    col(Article.id),
                    col(Article.url),
                    col(Article.final_url),
                    col(Feed.name),
                    col(Article.fetched_at),
                )
                .join(Feed, col(Feed.id) == col(Article.feed_id))
                .where(col(Article.story_id) == detail["story_id"])
                .order_by(col(Article.id))
            ).all()
            detail["previous_id"], detail["next_id"] = _queue_neighbours(
                session, flag_id, detail["first_seen_at"]
            )
        detail["text"] = article.text
        detail["fetched_at"] = article.fetched_at
        detail["entity_record"] = {
            "id": entity.id,
            "name": entity.name,
            "kind": entity.kind,
            "country": entity.country,
            "programs": list(entity.programs),
            "aliases": list(entity.aliases),
            "source": entity.source,
        }
        detail["appearances"] = [
            {
                "article_id": copy_id,
                "url": url,
                "final_url": final_url if final_url and final_url != url else None,
                "feed": feed,
                "fetched_at": fetched_at,
            }
            for copy_id, url, final_url, feed, fetched_at in copies
        ]
        return detail

    def api_flags_page(
        self,
        *,
        status: str | None,
        since: datetime | None,
        entity: str | None,
        after_id: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Flags in id order after `after_id` (keyset pagination: a stable order in which new
        flags only ever appear at the end), each with its duplicates' URLs."""
        query = select(api_flags).where(
            api_flags.c.id > after_id,
            *_desk_filters(QueueQuery(entity=entity, since=since)),
        )
        if status is not None:
            query = query.where(api_flags.c.status == status)
        query = query.order_by(api_flags.c.id).limit(limit)
        with self._session() as session:
            return _flag_rows_with_duplicates(session, query)

    def article_detail(self, article_id: int) -> dict[str, Any]:
        """The api_articles row, every URL known to lead to it, and its flags' ids."""
        with self._session() as session:
            row = session.execute(
                select(api_articles).where(api_articles.c.id == article_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no article with id {article_id}")
            detail = dict(row._mapping)
            detail["urls"] = list(
                session.execute(
                    select(col(ArticleUrl.url))
                    .where(col(ArticleUrl.article_id) == article_id)
                    .order_by(col(ArticleUrl.url))
                ).scalars()
            )
            detail["flag_ids"] = list(
                session.execute(
                    select(col(Flag.id))
                    .where(col(Flag.article_id) == article_id)
                    .order_by(col(Flag.id))
                ).scalars()
            )
        return detail

    def ping(self) -> None:
        """A trivial query: raises StorageError when the database does not answer."""
        with self._session() as session:
            session.execute(select(literal(1))).scalar_one()

    def add_user(self, name: str, *, password_hash: str, role: str, now: datetime) -> bool:
        """Create a user; False when the name is taken."""
        with self._session() as session:
            inserted = session.execute(
                _insert(session, AppUser)
                .values(name=name, password_hash=password_hash, role=role, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(col(AppUser.id))
            ).scalar_one_or_none()
        return inserted is not None

    def list_users(self) -> list[UserRecord]:
        with self._session() as session:
            rows = session.execute(select(AppUser).order_by(col(AppUser.name))).scalars()
            return [_user_record(row) for row in rows]

    def user_by_name(self, name: str) -> UserRecord | None:
        with self._session() as session:
            row = session.execute(
                select(AppUser).where(col(AppUser.name) == name)
            ).scalar_one_or_none()
            return _user_record(row) if row is not None else None

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None:
        with self._session() as session:
            row = session.execute(
                select(AppUser).where(col(AppUser.api_token_hash) == token_hash)
            ).scalar_one_or_none()
            return _user_record(row) if row is not None else None

    def set_user_token(self, name: str, token_hash: str) -> None:
        """Replace the user's API token (only its hash is stored)."""
        self._update_user(name, api_token_hash=token_hash)

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        """Disable (or enable again) a user: a disabled user's session and API token stop
        working at their next request."""
        self._update_user(name, disabled=disabled)

    def _update_user(self, name: str, **values: Any) -> None:
        with self._session() as session:
            result = session.execute(
                update(AppUser).where(col(AppUser.name) == name).values(**values)
            )
            if not getattr(result, "rowcount", 0):
                raise NotFoundError(f"no user named {name!r}")

    # ---- plumbing ----------------------------------------------------------------------------

    def _session(self) -> Any:
        return _translated(self.db, self._sqlite_lock)


class _translated:
    """`db.session()` with SQLAlchemy errors (other than IntegrityError, which callers handle)
    mapped to StorageError."""

    def __init__(self, db: Database, lock: threading.RLock | None = None) -> None:
        self._db = db
        self._lock = lock
        self._context: Any = None

    def __enter__(self) -> Session:
        if self._lock is not None:
            self._lock.acquire()
        self._context = self._db.session()
        try:
            session: Session = self._context.__enter__()
        except SQLAlchemyError as exc:
            self._release()
            raise StorageError(f"database error: {exc}") from exc
        except BaseException:
            self._release()
            raise
        return session

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        try:
            self._context.__exit__(exc_type, exc, traceback)
        except IntegrityError:
            raise
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {error}") from error
        finally:
            self._release()
        if isinstance(exc, SQLAlchemyError) and not isinstance(exc, IntegrityError):
            raise StorageError(f"database error: {exc}") from exc


def _insert(session: Session, model: type[SQLModel]) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def _latest_archived_page() -> Any:
    """The page has an article and no newer page of that article exists (an index lookup
    per row)."""
    newer = aliased(ArchivedPage)
    has_newer = (
        select(col(newer.id))
        .where(
            col(newer.article_id) == col(ArchivedPage.article_id),
            col(newer.id) > col(ArchivedPage.id),
        )
        .exists()
    )
    return and_(col(ArchivedPage.article_id).is_not(None), ~has_newer)


def _archived_page_record(row: ArchivedPage) -> ArchivedPageRecord:
    return ArchivedPageRecord(
        feed_id=row.feed_id,
        article_id=row.article_id,
        url=row.url,
        final_url=row.final_url,
        sha256=row.sha256,
        size=row.size,
        http_status=row.http_status,
        headers=dict(row.headers),
        entry=dict(row.entry),
        fetched_at=row.fetched_at,
        id=row.id,
    )


def _due_deliveries(channel: str, now: datetime) -> list[Any]:
    return [
        col(AlertDelivery.channel) == channel,
        col(AlertDelivery.status) == "pending",
        col(AlertDelivery.next_attempt_at) <= now,
    ]


def _error_kind(error: Any, dialect: str) -> Any:
    """The exception class name an error string starts with ("HTTPStatusError: 503 ...")."""
    if dialect == "postgresql":
        return func.split_part(error, ":", 1)
    return func.substr(error, 1, func.instr(error + ":", ":") - 1)


def _poll_changes(
    record: PollRecord, status: str, final_url: str | None, lease_owner: str | None
) -> dict[str, Any]:
    """The feed columns one poll changes (see Repository.record_polls)."""
    values: dict[str, Any] = {
        "last_attempt_at": record.started_at,
        "next_poll_at": record.next_poll_at,
        "consecutive_failures": record.consecutive_failures,
    }
    if status not in ("removed", "duplicate"):  # set meanwhile: they stay
        values["status"] = record.status
    if record.outcome in ("ok", "not_modified", "unchanged"):
        values["last_success_at"] = record.started_at
        values["interval_floor_seconds"] = record.interval_floor_seconds
    if record.outcome in ("ok", "unchanged") and record.http_status == 200:
        values.update(etag=record.etag, last_modified=record.last_modified)
        values["body_hash"] = record.body_hash
    if record.interval_seconds is not None:
        values["interval_seconds"] = record.interval_seconds
    if record.final_url is not None and record.final_url != final_url:
        values["final_url"] = record.final_url
    if record.new_entries:
        values["last_new_item_at"] = record.started_at
    if record.error:
        values.update(last_error=record.error, last_error_at=record.started_at)
    if lease_owner == record.worker:
        values.update(lease_owner=None, lease_expires_at=None)
    return values


def _fetch_attempt_row(record: PollRecord) -> dict[str, Any]:
    return dict(
        feed_id=record.feed_id,
        started_at=record.started_at,
        duration_seconds=record.duration_seconds,
        outcome=record.outcome,
        http_status=record.http_status,
        bytes=record.bytes,
        entries=record.entries,
        new_entries=record.new_entries,
        duplicates=record.duplicates,
        flagged=record.flagged,
        errors=record.errors,
        error=record.error,
        worker=record.worker,
        interval_seconds=record.interval_seconds,
    )


def _feed_to_poll(row: Feed) -> FeedToPoll:
    return FeedToPoll(
        id=row.id or 0,
        name=row.name,
        url=row.url,
        kind=row.kind,
        etag=row.etag,
        last_modified=row.last_modified,
        interval_seconds=row.interval_seconds,
        consecutive_failures=row.consecutive_failures,
        interval_pinned=row.interval_pinned,
        body_hash=row.body_hash,
        interval_floor_seconds=row.interval_floor_seconds,
    )


def _throttled_hosts(session: Session, now: datetime) -> dict[str, datetime]:
    # A small table: hosts that answered 429/503, most of them long over.
    query = select(HostState).where(col(HostState.throttled_until) > now)
    return {
        row.host: as_utc(row.throttled_until)
        for row in session.execute(query).scalars()
        if row.throttled_until is not None
    }


def _feed_keys(row: Feed) -> set[str]:
    return {key for key in (feed_address_key(row.url), feed_address_key(row.final_url)) if key}


def _mark_configured_duplicates(
    session: Session, names: Sequence[str], now: datetime
) -> list[tuple[str, str]]:
    """Feeds (in feeds.yaml order) whose address or redirect target is an earlier feed's:
    `duplicate` of it. A former duplicate that no longer is one is polled again at once."""
    rows = {row.name: row for row in session.execute(select(Feed)).scalars()}
    owners: dict[str, Feed] = {}
    found: list[tuple[str, str]] = []
    for name in names:
        row = rows.get(name)
        if row is None or row.status == "gone":
            continue
        keys = _feed_keys(row)
        first = next((owners[key] for key in sorted(keys) if key in owners), None)
        if first is not None:
            row.status, row.duplicate_of = "duplicate", first.id
            row.lease_owner, row.lease_expires_at = None, None
            found.append((row.name, first.name))
            continue
        if row.status == "duplicate":
            row.status, row.duplicate_of, row.next_poll_at = "ok", None, now
        for key in keys:
            owners.setdefault(key, row)
    return found


def _mark_redirect_duplicate(session: Session, feed: Feed) -> None:
    """After a poll found where `feed` redirects: if another active feed has that address
    (or redirects there too), the later-added of the two becomes the other's duplicate."""
    keys = _feed_keys(feed)
    target = feed_address_key(feed.final_url)
    if target is None or target == feed_address_key(feed.url):
        return  # it answers at its own address: sync_feeds has compared that already
    # Only feeds on the target's host can share its address: the database narrows them.
    host = target.split("/", 1)[0]
    others = select(Feed).where(
        col(Feed.status).in_(POLLABLE_STATUSES),
        col(Feed.id) != feed.id,
        or_(col(Feed.url).contains(host), col(Feed.final_url).contains(host)),
    )
    for other in session.execute(others).scalars():
        if keys & _feed_keys(other):
            first, later = sorted((feed, other), key=lambda row: row.id or 0)
            later.status, later.duplicate_of = "duplicate", first.id
            log.warning(
                "feed %r is the same feed as %r (%s): polling only %r",
                later.name,
                first.name,
                later.final_url or later.url,
                first.name,
                extra={"feed": later.name, "stage": "schedule"},
            )
            return


def _article_by_urls(session: Session, urls: Sequence[str]) -> Article | None:
    query = (
        select(Article)
        .join(ArticleUrl, col(ArticleUrl.article_id) == col(Article.id))
        .where(col(ArticleUrl.url).in_(list(urls)))
        .limit(1)
    )
    return session.execute(query).scalars().first()


def _insert_aliases(session: Session, article_id: int, urls: Iterable[str]) -> None:
    for url in dict.fromkeys(urls):
        session.execute(
            _insert(session, ArticleUrl)
            .values(url=url, article_id=article_id)
            .on_conflict_do_nothing(index_elements=["url"])
        )


def _store_article(
    session: Session,
    draft: ArticleDraft,
    now: datetime,
    fingerprint: TextFingerprint,
    threshold: float,
    entry_fingerprint: str | None,
) -> StoreOutcome:
    _serialise_writers(session, draft.content_hash, fingerprint)
    known = _article_by_urls(session, draft.known_urls)
    if known is not None:
        _insert_aliases(session, known.id or 0, draft.known_urls)
        return StoreOutcome("known", known.id or 0, known.story_id, 0)
    original = _exact_copy(session, draft.content_hash, fingerprint) or _near_copy(
        session, fingerprint, threshold
    )
    if original is not None:
        story_id, duplicate_of = original.story_id, original.first_article_id
    else:
        story = Story(title=draft.title, created_at=now)
        session.add(story)
        session.flush()
        story_id, duplicate_of = story.id or 0, None
    article = Article(
        feed_id=draft.feed_id,
        story_id=story_id,
        duplicate_of=duplicate_of,
        url=draft.url,
        canonical_url=draft.canonical_url,
        final_url=draft.final_url,
        guid=draft.guid,
        title=draft.title,
        author=draft.author,
        published_at=draft.published_at,
        fetched_at=now,
        language=draft.language,
        text=draft.text,
        text_source=draft.text_source,
        content_hash=draft.content_hash,
        extractor=draft.extractor,
        extractor_version=draft.extractor_version,
    )
    session.add(article)
    session.flush()
    article_id = article.id or 0
    if original is None:
        session.execute(
            update(Story).where(col(Story.id) == story_id).values(first_article_id=article_id)
        )
    _index_text(session, article_id, fingerprint)
    _insert_aliases(session, article_id, draft.known_urls)
    _remember_entry(session, draft.canonical_url, article_id, entry_fingerprint)
    new_flags = sum(
        _insert_flag(session, story_id, article_id, match, now) for match in draft.matches
    )
    return StoreOutcome("duplicate" if original else "stored", article_id, story_id, new_flags)


def _exact_copy(
    session: Session, content_hash: str, fingerprint: TextFingerprint
) -> _StoryRef | None:
    """The story of the first article with the same normalised text. A short text must also
    have the same title: generic stubs ("Subscribe to read on") are not one story."""
    query = (
        select(col(Article.story_id), col(Article.title), col(Story.first_article_id))
        .join(Story, col(Story.id) == col(Article.story_id))
        .where(col(Article.content_hash) == content_hash)
        .order_by(col(Article.id))
        .limit(EXACT_CANDIDATES)
    )
    for story_id, title, first_article_id in session.execute(query).all():
        if fingerprint.signature is not None or title_key(title) == fingerprint.title_key:
            return _StoryRef(story_id, first_article_id)
    return None


def _near_copy(
    session: Session, fingerprint: TextFingerprint, threshold: float
) -> _StoryRef | None:
    """The story of the most similar indexed article: the LSH candidates (articles sharing a
    band key, an index lookup) whose estimated Jaccard similarity reaches the threshold."""
    if fingerprint.signature is None:
        return None
    shared_bands = func.count()
    candidates = (
        select(col(DedupBand.article_id))
        .where(col(DedupBand.key).in_(fingerprint.band_keys))
        .group_by(col(DedupBand.article_id))
        .order_by(shared_bands.desc(), col(DedupBand.article_id))
        .limit(NEAR_CANDIDATES)
    )
    candidate_ids = list(session.execute(candidates).scalars())
    if not candidate_ids:
        return None
    # A second query by primary keys (not a join on the first): its plan stays index lookups
    # whatever the planner's statistics, so the cost never grows with the archive.
    query = (
        select(
            col(DedupSignature.article_id),
            col(DedupSignature.signature),
            col(Article.story_id),
            col(Story.first_article_id),
        )
        .join(Article, col(Article.id) == col(DedupSignature.article_id))
        .join(Story, col(Story.id) == col(Article.story_id))
        .where(col(DedupSignature.article_id).in_(candidate_ids))
    )
    best: tuple[float, int, _StoryRef] | None = None
    for article_id, signature, story_id, first_article_id in session.execute(query).all():
        similarity = estimated_jaccard(fingerprint.signature, signature_from_bytes(signature))
        ranked = (similarity, -article_id, _StoryRef(story_id, first_article_id))
        if similarity >= threshold and (best is None or ranked[:2] > best[:2]):
            best = ranked
    return best[2] if best is not None else None


def _index_text(session: Session, article_id: int, fingerprint: TextFingerprint) -> None:
    """Add the article to the near-duplicate index (short texts are not indexed)."""
    if fingerprint.signature is None:
        return
    session.execute(
        insert(DedupSignature).values(
            article_id=article_id, signature=signature_to_bytes(fingerprint.signature)
        )
    )
    session.execute(
        insert(DedupBand), [{"key": key, "article_id": article_id} for key in fingerprint.band_keys]
    )


def _unindex_text(session: Session, article_id: int) -> None:
    session.execute(delete(DedupBand).where(col(DedupBand.article_id) == article_id))
    session.execute(delete(DedupSignature).where(col(DedupSignature.article_id) == article_id))


def _store_revision(
    session: Session,
    article_id: int,
    draft: ArticleDraft,
    now: datetime,
    fingerprint: TextFingerprint,
    entry_fingerprint: str | None,
) -> RevisionOutcome:
    article = session.get(Article, article_id, with_for_update=True)  # one reviser at a time
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    _remember_entry(session, draft.canonical_url, article_id, entry_fingerprint)
    same_text = draft.content_hash == article.content_hash
    if same_text and title_key(draft.title) == title_key(article.title):
        return RevisionOutcome("unchanged", article_id, article.story_id, article.revision, 0)
    if draft.text_source == "feed" and article.text_source == "page":
        return RevisionOutcome("kept", article_id, article.story_id, article.revision, 0)
    session.add(
        ArticleRevision(
            article_id=article_id,
            revision=article.revision,
            title=article.title,
            text=article.text,
            text_source=article.text_source,
            content_hash=article.content_hash,
            stored_at=article.revised_at or article.fetched_at,
            replaced_at=now,
        )
    )
    article.title, article.text = draft.title or article.title, draft.text
    article.text_source, article.content_hash = draft.text_source, draft.content_hash
    article.extractor, article.extractor_version = draft.extractor, draft.extractor_version
    article.author = draft.author or article.author
    article.revision, article.revised_at = article.revision + 1, now
    _unindex_text(session, article_id)
    _index_text(session, article_id, fingerprint)
    new_flags = sum(
        _insert_flag(session, article.story_id, article_id, match, now) for match in draft.matches
    )
    return RevisionOutcome("revised", article_id, article.story_id, article.revision, new_flags)


def _remember_entry(
    session: Session, url: str, article_id: int, entry_fingerprint: str | None
) -> None:
    """Record the feed entry's fingerprint on its link (adding the link if it is new)."""
    if entry_fingerprint is None:
        return
    session.execute(
        _insert(session, ArticleUrl)
        .values(url=url, article_id=article_id, entry_fingerprint=entry_fingerprint)
        .on_conflict_do_update(
            index_elements=["url"], set_={"entry_fingerprint": entry_fingerprint}
        )
    )


def _serialise_writers(session: Session, content_hash: str, fingerprint: TextFingerprint) -> None:
    """Two workers storing copies of one story at once must agree on one story.

    SQLite serialises writers already (BEGIN IMMEDIATE). On PostgreSQL the transaction takes
    a transaction-scoped advisory lock on every key it could match by: its content hash and
    each of its LSH band keys. Two copies that can match share a key, so the second waits
    for the first to commit and then finds it. The keys are taken in ascending order, so two
    writers never wait on each other in a cycle.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # 60 bits of a stable digest: the same key in every worker process (unlike hash()).
    content_key = int(hashlib.sha256(content_hash.encode()).hexdigest()[:15], 16)
    keys = sorted({content_key, *fingerprint.band_keys})
    session.execute(
        text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS BIGINT[])) AS key"),
        {"keys": keys},
    )


def _insert_flag(
    session: Session, story_id: int, article_id: int, match: EntityMatch, now: datetime
) -> int:
    """Insert the flag unless the story already has one for this entity; 1 if inserted."""
    statement = (
        _insert(session, Flag)
        .values(
            story_id=story_id,
            entity_id=match.entity_id,
            article_id=article_id,
            matched=match.matched,
            snippet=match.snippet,
            mentions=match.count,
            score=match.score,
            rule=match.rule,
            why=json.loads(json.dumps(match.why, default=str)),
            offsets=[[mention.start, mention.end] for mention in match.mentions],
            status="new",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["story_id", "entity_id"])
        .returning(col(Flag.id))
    )
    # RETURNING (not rowcount, which drivers report differently) tells whether it was inserted.
    return 0 if session.execute(statement).scalar_one_or_none() is None else 1


def _flag_rows_with_duplicates(session: Session, query: Any) -> list[dict[str, Any]]:
    """api_flags rows, each with `duplicates`: the URLs of the other copies of its story."""
    rows = [dict(row._mapping) for row in session.execute(query)]
    duplicates = _story_urls(session, [row["story_id"] for row in rows])
    for row in rows:
        row["duplicates"] = [
            url for url in duplicates.get(row["story_id"], []) if url != row["url"]
        ]
    return rows


def _story_urls(session: Session, story_ids: Sequence[int]) -> dict[int, list[str]]:
    urls: dict[int, list[str]] = {}
    ids = sorted(set(story_ids))
    for start in range(0, len(ids), 500):
        query = (
            select(col(Article.story_id), col(Article.url))
            .where(col(Article.story_id).in_(ids[start : start + 500]))
            .order_by(col(Article.id))
        )
        for story_id, url in session.execute(query).all():
            urls.setdefault(story_id, []).append(url)
    return urls


def _document(title: str, text: str) -> str:
    """The matched document: offsets of mentions index into this string."""
    return f"{title}\n\n{text}"


def _desk_filters(query: QueueQuery) -> list[Any]:
    """WHERE clauses over api_flags for the queue's filters (not the status: counts span it)."""
    filters: list[Any] = []
    if query.entity:
        filters.append(
            or_(
                func.lower(api_flags.c.entity).like(_contains(query.entity), escape="\\"),
                func.lower(api_flags.c.entity_id) == query.entity.lower(),
            )
        )
    if query.feed:
        filters.append(api_flags.c.feed == query.feed)
    if query.since is not None:
        filters.append(api_flags.c.first_seen_at >= query.since)
    if query.until is not None:
        filters.append(api_flags.c.first_seen_at < query.until)
    if query.search:
        pattern = _contains(query.search)
        filters.append(
            or_(
                func.lower(api_flags.c.title).like(pattern, escape="\\"),
                func.lower(api_flags.c.snippet).like(pattern, escape="\\"),
            )
        )
    return filters


def _contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _queue_neighbours(
    session: Session, flag_id: int, first_seen_at: datetime
) -> tuple[int | None, int | None]:
    """The `new` flags just before and after this one in queue order (newest first)."""
    is_new = col(Flag.status) == "new"
    created, ident = col(Flag.created_at), col(Flag.id)
    newer = or_(created > first_seen_at, and_(created == first_seen_at, ident > flag_id))
    older = or_(created < first_seen_at, and_(created == first_seen_at, ident < flag_id))
    previous = session.execute(
        select(ident).where(is_new, newer).order_by(created, ident).limit(1)
    ).scalar_one_or_none()
    following = session.execute(
        select(ident).where(is_new, older).order_by(created.desc(), ident.desc()).limit(1)
    ).scalar_one_or_none()
    return previous, following


def _user_record(row: AppUser) -> UserRecord:
    return UserRecord(
        id=row.id or 0,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        has_api_token=row.api_token_hash is not None,
        disabled=row.disabled,
        created_at=row.created_at,
    )


__all__ = [
    "ArchivedPageRecord",
    "EntityRecord",
    "FeedToPoll",
    "PollRecord",
    "QueuePage",
    "QueueQuery",
    "Repository",
    "StoreOutcome",
    "UserRecord",
]
