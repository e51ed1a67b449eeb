"""Leases: which worker polls which feed, until when, and the fencing token of each claim.

A claim by another worker adds one to `feed.lease_generation`; every write of a poll checks, in
its own transaction, that the feed still has its owner and generation (`check_lease`). A worker
frozen past its lease (SIGSTOP, a long GC pause, a lost network) therefore finds out at its
next write and stores nothing twice. PostgreSQL holds the feed row `FOR SHARE` until the write
commits, so a takeover waits for it; SQLite has one writer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlmodel import Session, col

from pipeline.core.clock import as_utc
from pipeline.core.errors import LeaseLostError
from pipeline.core.records import FeedToPoll, Lease
from pipeline.core.urls import host_of
from storage.models import Feed
from storage.repository.base import POLLABLE_STATUSES, RepositoryBase, distinct_chunks
from storage.repository.hosts import throttled_hosts
from storage.repository.records import LeaseHolder


class LeaseStore(RepositoryBase):
    """Claims, renewals and releases of feed leases."""

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
        # Our own lapsed lease keeps its token: the poll of ours still in flight stays valid.
        generation = case(
            (col(Feed.lease_owner) == owner, col(Feed.lease_generation)),
            else_=col(Feed.lease_generation) + 1,
        )
        claimed: dict[int, FeedToPoll] = {}
        with self._session() as session:
            ids = list(session.execute(query).scalars().all())
            throttled = throttled_hosts(session, now) if ids else {}
            for chunk in distinct_chunks(ids):  # one UPDATE per chunk, not per feed
                # The UPDATE re-checks everything the SELECT saw: on PostgreSQL another worker
                # may have claimed, polled and released a feed in between (it is not due now).
                session.execute(
                    update(Feed)
                    .where(col(Feed.id).in_(chunk), *claimable)
                    .values(
                        lease_owner=owner, lease_expires_at=lease_until, lease_generation=generation
                    )
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

    def renew_leases(self, feed_ids: Iterable[int], owner: str, lease_until: datetime) -> set[int]:
        """Extend the leases `owner` still holds: a live worker's long poll is never taken
        over; a dead worker stops renewing and its leases expire. Returns the feeds among
        `feed_ids` it no longer holds (another worker took them over)."""
        ids = list(feed_ids)
        self._update_own_leases(ids, owner, lease_expires_at=lease_until)
        if not ids:
            return set()
        held: set[int] = set()
        with self._session() as session:
            for chunk in distinct_chunks(ids):
                query = select(col(Feed.id)).where(
                    col(Feed.id).in_(chunk), col(Feed.lease_owner) == owner
                )
                held.update(session.execute(query).scalars())
        return set(ids) - held

    def release_feeds(self, feed_ids: Iterable[int], owner: str) -> None:
        self._update_own_leases(feed_ids, owner, lease_owner=None, lease_expires_at=None)

    def lease_holders(self, now: datetime) -> list[LeaseHolder]:
        """Every lease in force at `now` (pollable feeds), by feed name."""
        query = (
            select(col(Feed.id), col(Feed.name), col(Feed.lease_owner), col(Feed.lease_expires_at))
            .where(
                col(Feed.status).in_(POLLABLE_STATUSES),
                col(Feed.lease_owner).is_not(None),
                col(Feed.lease_expires_at) >= now,
            )
            .order_by(col(Feed.name))
        )
        with self._session() as session:
            return [
                LeaseHolder(feed_id, name, owner, as_utc(until))
                for feed_id, name, owner, until in session.execute(query).all()
            ]

    def free_leases_of(self, owners: Collection[str]) -> dict[str, int]:
        """Let go of every lease these (dead) owners hold: feeds held -> claimable at once.
        Returns how many feeds each owner held."""
        if not owners:
            return {}
        held = (
            select(col(Feed.lease_owner), col(Feed.id))
            .where(col(Feed.lease_owner).in_(list(owners)))
            .with_for_update()
        )
        freed: dict[str, int] = {}
        with self._session() as session:
            rows = session.execute(held).all()
            for owner, _ in rows:
                freed[owner] = freed.get(owner, 0) + 1
            if rows:
                session.execute(
                    update(Feed)
                    .where(col(Feed.id).in_([feed_id for _, feed_id in rows]))
                    .where(col(Feed.lease_owner).in_(list(owners)))
                    .values(lease_owner=None, lease_expires_at=None)
                )
        return freed

    def _update_own_leases(self, feed_ids: Iterable[int], owner: str, **values: Any) -> None:
        ids = list(feed_ids)
        if not ids:
            return
        with self._session() as session:
            for chunk in distinct_chunks(ids):
                session.execute(
                    update(Feed)
                    .where(col(Feed.id).in_(chunk), col(Feed.lease_owner) == owner)
                    .values(**values)
                )


def check_lease(session: Session, lease: Lease | None) -> None:
    """Raise LeaseLostError unless the lease still holds; on PostgreSQL the feed row stays
    locked (shared) until the caller's transaction ends, so no takeover slips in before its
    write commits. `None`: a write outside any poll (reprocess, rescan), never fenced."""
    if lease is None:
        return
    query = (
        select(col(Feed.lease_owner))
        .where(
            col(Feed.id) == lease.feed_id,
            col(Feed.lease_owner) == lease.owner,
            col(Feed.lease_generation) == lease.generation,
        )
        .with_for_update(read=True)
    )
    if session.execute(query).first() is None:
        raise LeaseLostError(f"the lease on feed {lease.feed_id} was taken over by another worker")


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
        lease_generation=row.lease_generation,
    )
