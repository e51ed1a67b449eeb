"""Database-wide figures: `pipeline stats` and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import FLAG_STATUSES, AlertDelivery, Article, Feed, FetchAttempt, Flag, Story
from storage.repository.base import POLLABLE_STATUSES, RepositoryBase
from storage.repository.records import MetricsSnapshot


@dataclass(frozen=True, slots=True)
class _Totals:
    """What `pipeline stats` and /metrics both report, counted by one set of queries."""

    feeds_by_status: dict[str, int]
    articles: int
    duplicates: int
    flags_by_status: dict[str, int]  # every status of FLAG_STATUSES, 0 when none


class StatsStore(RepositoryBase):
    """Counts over the whole database."""

    def stats(self) -> dict[str, Any]:
        with self._session() as session:
            totals = _totals(session)
            stories = session.execute(select(func.count()).select_from(Story)).scalar_one()
        return {
            "feeds": sum(totals.feeds_by_status.values()),
            "feeds_by_status": totals.feeds_by_status,
            "articles": totals.articles,
            "duplicates": totals.duplicates,
            "stories": stories,
            "flags": sum(totals.flags_by_status.values()),
            "flags_by_status": totals.flags_by_status,
        }

    def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        with self._session() as session:
            totals = _totals(session)
            dialect = session.get_bind().dialect.name
            outcome = col(FetchAttempt.outcome)
            polls = session.execute(select(outcome, func.count()).group_by(outcome)).all()
            kind = _error_kind(col(FetchAttempt.error), dialect).label("kind")
            errors = session.execute(
                select(kind, func.count())
                .where(col(FetchAttempt.error).is_not(None))
                .group_by(kind)
            ).all()
            polled = session.execute(
                select(col(Feed.name), col(Feed.last_success_at), col(Feed.created_at)).where(
                    col(Feed.status).in_(POLLABLE_STATUSES)
                )
            ).all()
            channel, delivery_status = col(AlertDelivery.channel), col(AlertDelivery.status)
            deliveries = session.execute(
                select(channel, delivery_status, func.count()).group_by(channel, delivery_status)
            ).all()
        return MetricsSnapshot(
            polls_by_outcome={name: int(count) for name, count in polls},
            errors_by_kind={name or "unknown": int(count) for name, count in errors},
            feeds_by_status=totals.feeds_by_status,
            articles=totals.articles,
            duplicates=totals.duplicates,
            flags_by_status=totals.flags_by_status,
            feed_lag_seconds={
                name: max((now - (last_success_at or created_at)).total_seconds(), 0.0)
                for name, last_success_at, created_at in polled
            },
            deliveries={(name, state): int(count) for name, state, count in deliveries},
        )


def _totals(session: Session) -> _Totals:
    feed_status, flag_status = col(Feed.status), col(Flag.status)
    feeds = session.execute(select(feed_status, func.count()).group_by(feed_status)).all()
    flags = dict(session.execute(select(flag_status, func.count()).group_by(flag_status)).all())
    articles = session.execute(select(func.count()).select_from(Article)).scalar_one()
    duplicates = session.execute(
        select(func.count()).select_from(Article).where(col(Article.duplicate_of).is_not(None))
    ).scalar_one()
    return _Totals(
        feeds_by_status={status: int(count) for status, count in feeds},
        articles=int(articles),
        duplicates=int(duplicates),
        flags_by_status={status: int(flags.get(status, 0)) for status in FLAG_STATUSES},
    )


def _error_kind(error: Any, dialect: str) -> Any:
    """The exception class name an error string starts with ("HTTPStatusError: 503 ...")."""
    if dialect == "postgresql":
        return func.split_part(error, ":", 1)
    return func.substr(error, 1, func.instr(error + ":", ":") - 1)
