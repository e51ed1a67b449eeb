"""Entities over time: the overview of every entity, one entity's page, and its coverage
timeline (stories per day or week, by language or feed, with decisions)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from pipeline.core.clock import as_utc
from pipeline.core.errors import NotFoundError
from storage.models import FLAG_STATUSES, Article, Entity, Feed, Flag, FlagReview
from storage.repository.base import RepositoryBase
from storage.repository.entities import entity_json
from storage.repository.stories import story_rows


class TimelineStore(RepositoryBase):
    """Queries behind /entities, /entities/{id} and the timeline API."""

    def entities_overview(self) -> list[dict[str, Any]]:
        """Every entity with its flags per status and its first and latest coverage."""
        coverage = func.coalesce(col(Article.published_at), col(Article.fetched_at))
        stats = (
            select(
                col(Flag.entity_id),
                col(Flag.status),
                func.count(),
                func.min(coverage),
                func.max(coverage),
            )
            .join(Article, col(Article.id) == col(Flag.article_id))
            .group_by(col(Flag.entity_id), col(Flag.status))
        )
        with self._session() as session:
            entities = [
                entity_json(entity)
                for entity in session.execute(select(Entity).order_by(col(Entity.name))).scalars()
            ]
            found = session.execute(stats).all()
        by_id = {entity["id"]: entity for entity in entities}
        for entity in entities:
            entity.update(
                flags={status: 0 for status in FLAG_STATUSES},
                first_coverage_at=None,
                latest_coverage_at=None,
            )
        for entity_id, status, count, first, latest in found:
            known = by_id.get(entity_id)
            if known is None:
                continue
            known["flags"][status] = int(count)
            first, latest = _aware(first), _aware(latest)
            if known["first_coverage_at"] is None or first < known["first_coverage_at"]:
                known["first_coverage_at"] = first
            if known["latest_coverage_at"] is None or latest > known["latest_coverage_at"]:
                known["latest_coverage_at"] = latest
        for entity in entities:
            entity["stories"] = sum(entity["flags"].values())  # one flag per story and entity
        return entities

    def entity_page(
        self,
        entity_id: str,
        *,
        status: str | None = None,
        feed: str | None = None,
        language: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """The entity, its top outlets and languages, and its stories (newest coverage first)
        under the filters."""
        overview = next((e for e in self.entities_overview() if e["id"] == entity_id), None)
        if overview is None:
            raise NotFoundError(f"no entity with id {entity_id!r}")
        with self._session() as session:
            coverage = _coverage_rows(session, entity_id)
            wanted = [
                row
                for row in coverage
                if (status is None or row["status"] == status)
                and (feed is None or row["feed"] == feed)
                and (language is None or row["language"] == language)
            ]
            wanted.sort(key=lambda row: (row["at"], row["story_id"]), reverse=True)
            stories = story_rows(session, [row["story_id"] for row in wanted[:limit]])
        overview["outlets"] = Counter(row["feed"] for row in coverage).most_common(10)
        overview["languages"] = Counter(row["language"] or "?" for row in coverage).most_common()
        overview["story_rows"] = stories
        overview["matching_stories"] = len(wanted)
        return overview

    def entity_coverage(self, entity_id: str) -> list[dict[str, Any]]:
        """One row per flag of the entity: when the story was covered (published, else
        fetched), its language, feed and status; and the times of every decision on it."""
        with self._session() as session:
            if session.get(Entity, entity_id) is None:
                raise NotFoundError(f"no entity with id {entity_id!r}")
            return _coverage_rows(session, entity_id)


def _coverage_rows(session: Session, entity_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            col(Flag.id),
            col(Flag.story_id),
            col(Flag.status),
            col(Article.published_at),
            col(Article.fetched_at),
            col(Article.language),
            col(Feed.name),
        )
        .join(Article, col(Article.id) == col(Flag.article_id))
        .join(Feed, col(Feed.id) == col(Article.feed_id))
        .where(col(Flag.entity_id) == entity_id)
    ).all()
    decisions: dict[int, list[datetime]] = {}
    reviews = select(col(FlagReview.flag_id), col(FlagReview.reviewed_at)).where(
        col(FlagReview.flag_id).in_([row[0] for row in rows])
    )
    for flag_id, reviewed_at in session.execute(reviews).all() if rows else []:
        decisions.setdefault(flag_id, []).append(reviewed_at)
    return [
        {
            "flag_id": flag_id,
            "story_id": story_id,
            "status": status,
            "at": published or fetched,
            "language": language,
            "feed": feed,
            "decided_at": decisions.get(flag_id, []),
        }
        for flag_id, story_id, status, published, fetched, language, feed in rows
    ]


def _aware(value: Any) -> datetime:
    """Aggregates over a coalesce come back untyped (text on SQLite): make them aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)
