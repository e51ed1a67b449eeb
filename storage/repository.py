"""Every query the application needs, named for what it does.

Each public method is one short transaction. Values going in and out are plain (dataclasses,
dicts); ORM objects never leave this module. Races between workers end in one row thanks to
the unique constraints of ``storage.models``: the loser re-reads and moves on.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col

from pipeline.config import DedupSettings, FeedConfig
from pipeline.dedup import (
    TextFingerprint,
    estimated_jaccard,
    signature_from_bytes,
    signature_to_bytes,
    text_fingerprint,
    title_key,
)
from pipeline.errors import NotFoundError, StorageError
from pipeline.records import ArticleDraft, EntityMatch
from pipeline.watchlist import Watchlist
from storage.db import Database
from storage.models import (
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
    Story,
)
from storage.views import api_articles, api_flags

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


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll of one feed did; written to the feed row and to fetch_attempt."""

    feed_id: int
    worker: str
    started_at: datetime
    duration_seconds: float
    outcome: Literal["ok", "not_modified", "error", "interrupted"]
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


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite has one writer and every transaction here begins IMMEDIATE: threads of this
        # process queue on a lock instead of in SQLite's busy handler, which sleeps up to
        # 100 ms between retries and let a few writer threads stall a whole poll round.
        self._sqlite_lock = threading.RLock() if db.is_sqlite else None

    # ---- feeds -------------------------------------------------------------------------------

    def sync_feeds(
        self, feeds: Sequence[FeedConfig], default_interval: float, now: datetime
    ) -> None:
        """Make the feed table match feeds.yaml: add new feeds, update changed ones, and mark
        feeds no longer configured as `removed` (their articles stay)."""
        configured = {feed.name: feed for feed in feeds}
        with self._session() as session:
            rows = {row.name: row for row in session.execute(select(Feed)).scalars()}
            for name, feed in configured.items():
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
                            interval_pinned=feed.interval is not None,
                            next_poll_at=now,
                            consecutive_failures=0,
                            created_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                    continue
                if row.url != url:  # a new address: old validators mean nothing there
                    row.url, row.etag, row.last_modified = url, None, None
                    row.next_poll_at = now
                row.tags = list(feed.tags)
                row.kind = feed.kind
                row.interval_seconds = interval
                row.interval_pinned = feed.interval is not None
                if row.status == "removed":
                    row.status, row.next_poll_at = "ok", now
            for name, row in rows.items():
                if name not in configured and row.status != "removed":
                    row.status = "removed"

    def claim_feeds(
        self, *, now: datetime, owner: str, lease_until: datetime, due_only: bool, limit: int
    ) -> list[FeedToPoll]:
        """Take a lease on up to `limit` pollable feeds (due ones only if `due_only`).

        The conditional UPDATE is atomic on both engines, so two workers never hold one feed;
        an expired lease (a crashed worker) is simply taken over.
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
        """Write the poll's outcome to the feed (health, validators, next poll) and the history,
        and release the lease."""
        with self._session() as session:
            feed = session.get_one(Feed, record.feed_id)
            feed.last_attempt_at = record.started_at
            feed.next_poll_at = record.next_poll_at
            feed.consecutive_failures = record.consecutive_failures
            feed.status = record.status if feed.status != "removed" else "removed"
            if record.outcome in ("ok", "not_modified"):
                feed.last_success_at = record.started_at
            if record.outcome == "ok":
                feed.etag, feed.last_modified = record.etag, record.last_modified
            if record.new_entries:
                feed.last_new_item_at = record.started_at
            if record.error:
                feed.last_error, feed.last_error_at = record.error, record.started_at
            if feed.lease_owner == record.worker:
                feed.lease_owner, feed.lease_expires_at = None, None
            session.add(
                FetchAttempt(
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
                )
            )

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
        query = (
            select(Feed, articles.c.n, flags.c.n)
            .outerjoin(articles, articles.c.feed_id == col(Feed.id))
            .outerjoin(flags, flags.c.feed_id == col(Feed.id))
            .order_by(col(Feed.name))
        )
        with self._session() as session:
            return [
                {
                    "name": feed.name,
                    "url": feed.url,
                    "status": feed.status,
                    "tags": feed.tags,
                    "interval_seconds": feed.interval_seconds,
                    "last_attempt_at": feed.last_attempt_at,
                    "last_success_at": feed.last_success_at,
                    "last_new_item_at": feed.last_new_item_at,
                    "last_error": feed.last_error,
                    "last_error_at": feed.last_error_at,
                    "consecutive_failures": feed.consecutive_failures,
                    "next_poll_at": feed.next_poll_at,
                    "articles": n_articles or 0,
                    "flags": n_flags or 0,
                }
                for feed, n_articles, n_flags in session.execute(query).all()
            ]

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
            rows = [dict(row._mapping) for row in session.execute(query)]
            duplicates = _story_urls(session, [row["story_id"] for row in rows])
        for row in rows:
            row["duplicates"] = [
                url for url in duplicates.get(row["story_id"], []) if url != row["url"]
            ]
        return rows

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
            flag = session.get(Flag, flag_id)
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
    )


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


__all__ = [
    "EntityRecord",
    "FeedToPoll",
    "PollRecord",
    "Repository",
    "StoreOutcome",
]
