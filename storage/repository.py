"""Every query the application needs, named for what it does.

Each public method is one short transaction. Values going in and out are plain (dataclasses,
dicts); ORM objects never leave this module. Races between workers end in one row thanks to
the unique constraints of ``storage.models``: the loser re-reads and moves on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col

from pipeline.config import FeedConfig
from pipeline.errors import NotFoundError, StorageError
from pipeline.records import ArticleDraft, EntityMatch
from pipeline.watchlist import Watchlist
from storage.db import Database
from storage.models import (
    Article,
    ArticleUrl,
    Entity,
    Feed,
    FetchAttempt,
    Flag,
    FlagReview,
    Story,
)
from storage.views import api_articles, api_flags

POLLABLE_STATUSES = ("ok", "failing")


@dataclass(frozen=True, slots=True)
class FeedToPoll:
    id: int
    name: str
    url: str
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
                            tags=list(feed.tags),
                            status="ok",
                            interval_seconds=interval,
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
                row.interval_seconds = interval
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
        query = select(col(Feed.id)).where(col(Feed.status).in_(POLLABLE_STATUSES), lease_free)
        if due_only:
            query = query.where(col(Feed.next_poll_at) <= now)
        query = query.order_by(col(Feed.next_poll_at)).limit(limit)
        claimed: list[FeedToPoll] = []
        with self._session() as session:
            for feed_id in session.execute(query).scalars().all():
                result = session.execute(
                    update(Feed)
                    .where(col(Feed.id) == feed_id, lease_free)
                    .values(lease_owner=owner, lease_expires_at=lease_until)
                )
                if result.rowcount == 1:
                    row = session.get_one(Feed, feed_id)
                    claimed.append(_feed_to_poll(row))
        return claimed

    def renew_leases(self, feed_ids: Iterable[int], owner: str, lease_until: datetime) -> None:
        """Extend the leases `owner` still holds: a live worker's long poll is never taken
        over; a dead worker stops renewing and its leases expire."""
        ids = list(feed_ids)
        if not ids:
            return
        with self._session() as session:
            session.execute(
                update(Feed)
                .where(col(Feed.id).in_(ids), col(Feed.lease_owner) == owner)
                .values(lease_expires_at=lease_until)
            )

    def release_feeds(self, feed_ids: Iterable[int], owner: str) -> None:
        ids = list(feed_ids)
        if not ids:
            return
        with self._session() as session:
            session.execute(
                update(Feed)
                .where(col(Feed.id).in_(ids), col(Feed.lease_owner) == owner)
                .values(lease_owner=None, lease_expires_at=None)
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

    def store_article(self, draft: ArticleDraft, now: datetime) -> StoreOutcome:
        """Store the article, its URLs, its story and its flags in one transaction."""
        try:
            with self._session() as session:
                return _store_article(session, draft, now)
        except IntegrityError:
            # Another worker stored the same article first: its row wins, we re-read it.
            with self._session() as session:
                known = _article_by_urls(session, draft.known_urls)
                if known is None:
                    raise
                return StoreOutcome("known", known.id or 0, known.story_id, 0)

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
        return _translated(self.db)


class _translated:
    """`db.session()` with SQLAlchemy errors (other than IntegrityError, which callers handle)
    mapped to StorageError."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._context: Any = None

    def __enter__(self) -> Session:
        self._context = self._db.session()
        try:
            session: Session = self._context.__enter__()
        except SQLAlchemyError as exc:
            raise StorageError(f"database error: {exc}") from exc
        return session

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        try:
            self._context.__exit__(exc_type, exc, traceback)
        except IntegrityError:
            raise
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {error}") from error
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


def _store_article(session: Session, draft: ArticleDraft, now: datetime) -> StoreOutcome:
    _serialise_on_content(session, draft.content_hash)
    known = _article_by_urls(session, draft.known_urls)
    if known is not None:
        _insert_aliases(session, known.id or 0, draft.known_urls)
        return StoreOutcome("known", known.id or 0, known.story_id, 0)
    original = (
        session.execute(
            select(Article)
            .where(col(Article.content_hash) == draft.content_hash)
            .order_by(col(Article.id))
            .limit(1)
        )
        .scalars()
        .first()
    )
    if original is not None:
        story_id = original.story_id
        duplicate_of: int | None = original.duplicate_of or original.id
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
    _insert_aliases(session, article_id, draft.known_urls)
    new_flags = sum(
        _insert_flag(session, story_id, article_id, match, now) for match in draft.matches
    )
    return StoreOutcome("duplicate" if original else "stored", article_id, story_id, new_flags)


def _serialise_on_content(session: Session, content_hash: str) -> None:
    """Two workers storing the same text at once must agree on one story. SQLite serialises
    writers already (BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock keyed
    by the content hash makes the second writer wait and then see the first one's article."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # 60 bits of a stable digest: the same key in every worker process (unlike hash()).
    key = int(hashlib.sha256(content_hash.encode()).hexdigest()[:15], 16)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


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
