"""Sign-in throttling: failures in a row per account and per client address, and the audit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import col

from pipeline.core.clock import as_utc
from storage.models import SignInEvent, SignInThrottle
from storage.repository.base import RepositoryBase, dialect_insert


class SignInStore(RepositoryBase):
    """The sign_in_throttle rows (one per throttled key) and the sign_in_event audit."""

    def sign_in_locks(self, keys: Sequence[str], now: datetime) -> datetime | None:
        """The latest `locked_until` still in the future among these keys, else None."""
        query = select(func.max(col(SignInThrottle.locked_until))).where(
            col(SignInThrottle.key).in_(list(keys)), col(SignInThrottle.locked_until) > now
        )
        with self._session() as session:
            until: datetime | None = session.execute(query).scalar_one()
        return as_utc(until) if until is not None else None

    def record_sign_in_failure(
        self,
        keys_and_allowances: dict[str, int],
        now: datetime,
        lock_for: Callable[[int], timedelta],
        *,
        forget_before: datetime,
    ) -> dict[str, int]:
        """Count one more failure for every key (a count whose last failure is older than
        `forget_before` starts again); a key past its allowance of free failures is locked for
        `lock_for(failures beyond the allowance)`. Returns the failures per key."""
        counts: dict[str, int] = {}
        with self._session() as session:
            for key, allowance in keys_and_allowances.items():
                # Insert-or-nothing first: concurrent first failures of one key end in one row.
                session.execute(
                    dialect_insert(session, SignInThrottle)
                    .values(key=key, failures=0, last_failure_at=now)
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                row = session.get_one(SignInThrottle, key, with_for_update=True)
                if as_utc(row.last_failure_at) < forget_before:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                if row.failures > allowance:
                    row.locked_until = now + lock_for(row.failures - allowance)
                counts[key] = row.failures
        return counts

    def clear_sign_in_failures(self, keys: Sequence[str]) -> None:
        with self._session() as session:
            session.execute(delete(SignInThrottle).where(col(SignInThrottle.key).in_(list(keys))))

    def record_sign_in_event(self, name: str, address: str, outcome: str, now: datetime) -> None:
        with self._session() as session:
            session.add(SignInEvent(at=now, name=name[:200], address=address, outcome=outcome))

    def sign_in_throttles(self) -> dict[str, dict[str, Any]]:
        """Every throttle row by key: failures, last failure, locked until."""
        with self._session() as session:
            return {
                row.key: {
                    "failures": row.failures,
                    "last_failure_at": row.last_failure_at,
                    "locked_until": row.locked_until,
                }
                for row in session.execute(select(SignInThrottle)).scalars()
            }

    def sign_in_events(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest sign-in attempts, newest first (of one name, or of everyone)."""
        query = select(SignInEvent).order_by(col(SignInEvent.id).desc()).limit(limit)
        if name is not None:
            query = query.where(col(SignInEvent.name) == name)
        with self._session() as session:
            return [
                {"at": row.at, "name": row.name, "address": row.address, "outcome": row.outcome}
                for row in session.execute(query).scalars()
            ]
