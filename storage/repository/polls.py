"""Polls: each poll's outcome and history (the leases are in storage.repository.leases)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import SQLModel

from pipeline.core.records import FeedDuplicate, PollRecord
from storage.models import Feed, FetchAttempt
from storage.repository.base import POLLABLE_STATUSES, RepositoryBase
from storage.repository.feeds import mark_redirect_duplicate


class PollStore(RepositoryBase):
    """The record of every poll."""

    def record_poll(self, record: PollRecord) -> list[FeedDuplicate]:
        return self.record_polls([record])

    def record_polls(self, records: Sequence[PollRecord]) -> list[FeedDuplicate]:
        return self.record_polls_fenced(records)[0]

    def record_polls_fenced(
        self, records: Sequence[PollRecord]
    ) -> tuple[list[FeedDuplicate], set[int]]:
        """Write each poll's outcome to its feed (health, validators, body hash, interval, next
        poll) and the history, and release the lease, all in one transaction (a round of
        2,000 304s is 2,000 polls: one commit each would cost more than the polls). A feed that
        turns out to redirect to another active feed's address becomes the `duplicate` of the
        earlier one: those found are returned, for the caller to report.

        Fenced: a record whose lease another worker took over meanwhile (its generation moved
        on) writes nothing, neither the feed row nor a fetch_attempt row; the second value is
        the feeds of those records."""
        if not records:
            return [], set()
        feed_table = SQLModel.metadata.tables[Feed.__tablename__]
        lost: set[int] = set()
        with self._session() as session:
            ids = sorted({record.feed_id for record in records})
            columns = (feed_table.c.id, feed_table.c.status, feed_table.c.final_url,
                       feed_table.c.lease_owner, feed_table.c.lease_generation)  # fmt: skip
            # Locked in id order: no takeover between this check and the writes below.
            locked = select(*columns).where(columns[0].in_(ids)).order_by(columns[0])
            current = {row.id: row for row in session.execute(locked.with_for_update())}
            changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            redirected: list[int] = []
            kept: list[PollRecord] = []
            for record in records:
                row = current[record.feed_id]
                if not _still_leased(record, row.lease_owner, row.lease_generation):
                    lost.add(record.feed_id)
                    continue
                kept.append(record)
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
            if kept:
                session.execute(
                    insert(FetchAttempt), [_fetch_attempt_row(record) for record in kept]
                )
            found = (
                mark_redirect_duplicate(session, session.get_one(Feed, feed_id))
                for feed_id in redirected
            )
            return [duplicate for duplicate in found if duplicate is not None], lost


def _still_leased(record: PollRecord, owner: str | None, generation: int) -> bool:
    """A fenced record (one with a lease generation) counts only under the claim it ran in."""
    if record.lease_generation is None:
        return True
    return owner == record.worker and generation == record.lease_generation


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
