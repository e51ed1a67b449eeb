"""Flags: adding them, listing them, one flag's detail, and its review."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlmodel import Session, col

from pipeline.core.errors import NotFoundError
from pipeline.core.records import EntityMatch
from storage.models import Article, CandidateReview, Flag, FlagReview
from storage.repository.base import RepositoryBase, dialect_insert, distinct_chunks
from storage.repository.filters import flag_filters
from storage.repository.records import QueueQuery
from storage.views import api_flags


def review_json(review: FlagReview | CandidateReview) -> dict[str, Any]:
    """One decision of the audit trail (a flag's or a candidate's), as the detail pages show it."""
    return {
        "from_status": review.from_status,
        "to_status": review.to_status,
        "note": review.note,
        "reviewed_by": review.reviewed_by,
        "reviewed_at": review.reviewed_at,
    }


class FlagStore(RepositoryBase):
    """Flags and their reviews."""

    def add_flags(
        self, article_id: int, story_id: int, matches: Sequence[EntityMatch], now: datetime
    ) -> int:
        """Flags for (story, entity) pairs the story does not have yet; the number added."""
        with self._session() as session:
            return sum(insert_flag(session, story_id, article_id, match, now) for match in matches)

    def list_flags(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        feed: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """`flags list`: newest first, filtered as the desk filters (`flag_filters`)."""
        filters = flag_filters(QueueQuery(entity=entity, feed=feed, since=since))
        query: Select[Any] = select(api_flags).where(*filters)
        if status is not None:
            query = query.where(api_flags.c.status == status)
        query = query.order_by(api_flags.c.first_seen_at.desc(), api_flags.c.id.desc())
        with self._session() as session:
            return flag_rows_with_duplicates(session, query)

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
                for url in story_urls(session, [flag.story_id]).get(flag.story_id, [])
                if url != detail["url"]
            ]
            detail["why"] = flag.why
            detail["offsets"] = flag.offsets
            detail["document"] = _document(article.title, article.text)
            detail["history"] = [
                review_json(review)
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
            # Locked: two reviewers deciding at once each record the status they really changed.
            flag = session.get(Flag, flag_id, with_for_update=True)
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


def insert_flag(
    session: Session, story_id: int, article_id: int, match: EntityMatch, now: datetime
) -> int:
    """Insert the flag unless the story already has one for this entity; 1 if inserted."""
    statement = (
        dialect_insert(session, Flag)
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


def flag_rows_with_duplicates(session: Session, query: Any) -> list[dict[str, Any]]:
    """api_flags rows, each with `duplicates`: the URLs of the other copies of its story."""
    rows = [dict(row._mapping) for row in session.execute(query)]
    duplicates = story_urls(session, [row["story_id"] for row in rows])
    for row in rows:
        row["duplicates"] = [
            url for url in duplicates.get(row["story_id"], []) if url != row["url"]
        ]
    return rows


def story_urls(session: Session, story_ids: Sequence[int]) -> dict[int, list[str]]:
    urls: dict[int, list[str]] = {}
    for chunk in distinct_chunks(story_ids):
        query = (
            select(col(Article.story_id), col(Article.url))
            .where(col(Article.story_id).in_(chunk))
            .order_by(col(Article.id))
        )
        for story_id, url in session.execute(query).all():
            urls.setdefault(story_id, []).append(url)
    return urls


def _document(title: str, text: str) -> str:
    """The matched document: offsets of mentions index into this string."""
    return f"{title}\n\n{text}"
