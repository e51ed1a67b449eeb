"""Host politeness: hosts that answered 429/503 and until when they are left alone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, select
from sqlmodel import Session, col

from pipeline.core.clock import as_utc
from pipeline.core.records import HostThrottle
from storage.models import HostState
from storage.repository.base import RepositoryBase, dialect_insert


class HostStore(RepositoryBase):
    """Throttled hosts, shared by every worker."""

    def throttle_hosts(self, throttles: Iterable[HostThrottle], now: datetime) -> None:
        """Remember hosts that answered 429/503 until when they are left alone (a later end
        already stored wins: another worker may have seen a longer Retry-After)."""
        with self._session() as session:
            for throttle in throttles:
                upsert = dialect_insert(session, HostState).values(
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
            return throttled_hosts(session, now)


def throttled_hosts(session: Session, now: datetime) -> dict[str, datetime]:
    # A small table: hosts that answered 429/503, most of them long over.
    query = select(HostState).where(col(HostState.throttled_until) > now)
    return {
        row.host: as_utc(row.throttled_until)
        for row in session.execute(query).scalars()
        if row.throttled_until is not None
    }
