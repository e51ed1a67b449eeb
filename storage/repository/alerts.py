"""Alerts: channels, the delivery queue and its leases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlmodel import col

from pipeline.core.clock import as_utc
from pipeline.core.errors import NotFoundError
from storage.models import AlertChannel, AlertDelivery, Flag
from storage.repository.base import RepositoryBase, dialect_insert, distinct_chunks
from storage.repository.flags import story_urls
from storage.repository.records import DueDelivery
from storage.types import UTCDateTime
from storage.views import api_flags


class AlertStore(RepositoryBase):
    """Alert channels and deliveries."""

    def sync_alert_channels(self, channels: dict[str, str], now: datetime) -> None:
        """Record channels (name -> kind) seen for the first time: flags created before a
        channel existed are never sent on it. Removed channels keep their rows."""
        with self._session() as session:
            for name, kind in channels.items():
                session.execute(
                    dialect_insert(session, AlertChannel)
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
                    dialect_insert(session, AlertDelivery)
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
        found: dict[int, dict[str, Any]] = {}
        with self._session() as session:
            for chunk in distinct_chunks(flag_ids):
                query = select(api_flags).where(api_flags.c.id.in_(chunk))
                for row in session.execute(query):
                    found[row.id] = dict(row._mapping)
            duplicates = story_urls(session, [flag["story_id"] for flag in found.values()])
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


def _due_deliveries(channel: str, now: datetime) -> list[Any]:
    return [
        col(AlertDelivery.channel) == channel,
        col(AlertDelivery.status) == "pending",
        col(AlertDelivery.next_attempt_at) <= now,
    ]
