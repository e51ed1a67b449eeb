"""Feeds: the table kept in step with feeds.yaml, duplicate feeds, the listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from pipeline.core.clock import as_utc
from pipeline.core.config import FeedConfig
from pipeline.core.records import FeedDuplicate
from pipeline.core.urls import feed_address_key
from storage.models import Article, Feed, Flag
from storage.repository.base import POLLABLE_STATUSES, RepositoryBase, dialect_insert


class FeedStore(RepositoryBase):
    """Feeds as configured, and what polling learnt about them."""

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
                        dialect_insert(session, Feed)
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
                    # The worker polling it now (pipeline.poll.leases), if its lease holds.
                    "lease_owner": feed.lease_owner,
                    "lease_expires_at": feed.lease_expires_at,
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


def mark_redirect_duplicate(session: Session, feed: Feed) -> FeedDuplicate | None:
    """After a poll found where `feed` redirects: if another active feed has that address
    (or redirects there too), the later-added of the two becomes the other's duplicate."""
    keys = _feed_keys(feed)
    target = feed_address_key(feed.final_url)
    if target is None or target == feed_address_key(feed.url):
        return None  # it answers at its own address: sync_feeds has compared that already
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
            return FeedDuplicate(later.name, first.name, later.final_url or later.url)
    return None
